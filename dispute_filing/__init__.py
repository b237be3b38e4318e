"""Dispute packets, filing orchestration (exactly once) and status sync. Portal pages are the
adapters' business.
"""
