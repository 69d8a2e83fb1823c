"""What-if simulations as plain functions over a Session (no HTTP): who may simulate on what."""
