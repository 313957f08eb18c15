"""The database: engine set-up and transactions (`connect`), tables (`tables`), page bounds, Alembic migrations.

Imports nothing of the app; the queries live with the packages that own them.
"""
