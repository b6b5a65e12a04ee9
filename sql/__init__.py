"""The catalog: SQLAlchemy models (`models`), Alembic migrations (`migrations`), the
embedded PostgreSQL server (`embedded`), connections (`db`) and queries (`catalog`)."""
