"""Evaluation runs as plain functions (no HTTP): whose lines a caller may see."""
