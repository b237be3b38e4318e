"""Secrets: keyring-held passwords and TOTP secrets, encrypted browser session state, masked
secret types.
"""
