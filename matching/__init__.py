"""Matching deductions to the supplier's records, verdicts, the approval workflow and its
audit trail.
"""
