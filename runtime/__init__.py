"""Adapters around the pure engine: loaders, worker processes, process-wide settings."""
