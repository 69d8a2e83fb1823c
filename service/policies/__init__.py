"""Policy versions as plain functions over a Session (no HTTP)."""
