"""Deals, payments and targets in the service: files monthly facts are credited from (issue 12)."""
