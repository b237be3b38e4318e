"""The analyst and ops app: FastAPI, server-rendered pages, JSON API, /metrics. Holds no
business rules.
"""
