"""The records every layer shares: pydantic schemas, enums, normalizers and parsers.

The bottom of the layers (docs/architecture.md): the standard library and
third-party packages only, no SQLAlchemy, so an adapter can validate a record
without being able to reach the database.
"""
