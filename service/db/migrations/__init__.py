"""Alembic migrations for the Merit service schema (a package so it ships in the wheel)."""
