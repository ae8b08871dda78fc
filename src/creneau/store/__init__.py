"""Storage: engine, session, ORM models, Alembic migrations.

Used by services; never by domain/ or providers.
"""
