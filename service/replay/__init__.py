"""Replay of stored runs and shadow evaluations of draft policy versions (issue 12)."""
