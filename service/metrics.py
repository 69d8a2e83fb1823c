"""The service's Prometheus metrics: one registry per process, named and labelled with bounded sets.

Labels are route templates (`/runs/{run_id}`), methods, status codes and job kinds: never ids,
names, periods or amounts, so /metrics says how the service behaves and nothing about whose pay.
No FastAPI here: `service.api.observe` feeds the request metrics, `service.jobs.worker` the job
metrics, `service.engine_gate` the evaluated rep-months.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry()
CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUEST_SECONDS = Histogram(
    "merit_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
JOB_SECONDS = Histogram(
    "merit_job_duration_seconds",
    "Background job run time, from claim to finish",
    ["kind", "state"],
    registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
JOBS_QUEUED = Gauge("merit_jobs_queued", "Jobs waiting for a worker thread in this process", registry=REGISTRY)
JOBS_RUNNING = Gauge("merit_jobs_running", "Jobs running in this process", registry=REGISTRY)
REP_MONTHS = Counter(
    "merit_evaluated_rep_months", "Rep-months of facts evaluated (runs) by this process", registry=REGISTRY
)
EVALUATION_SECONDS = Counter(
    "merit_evaluation_seconds", "Seconds spent evaluating runs (rep-months / this = rep-months/s)", registry=REGISTRY
)


def exposition() -> bytes:
    """The registry in Prometheus text format."""
    return bytes(generate_latest(REGISTRY))
