"""Running one bot job: account locks, the browser pool, retries, failure artifacts, health
events. Knows no portal's pages.
"""
