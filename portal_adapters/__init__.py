"""One Playwright adapter per portal, the adapter protocol, the PortalError taxonomy and the
registry. Never touches the database.
"""
