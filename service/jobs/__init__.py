"""Background jobs: evaluations, simulations and sweeps too big to answer inside the request."""
