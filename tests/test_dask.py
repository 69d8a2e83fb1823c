"""The Dask executor (runtime.dask_executor) writes the bytes the single-process path writes.

A LocalCluster of 3 worker processes evaluates small files (the size rule is bypassed) and its CSV
and JSON (with explanations) are compared byte for byte with `evaluate(...)`'s: the shipped example,
a synthetic multi-region team with many ties, and policies whose cross-rep decisions are the hard
part (split ties, honours for the top 3, monthly prizes, quarterly group awards by product line,
eligibility ranked by a metric, every month). Inputs the executor cannot vouch for make it step
aside for the single-process path. tests/test_dask_cluster.py runs a real `dask scheduler` and
`dask worker` processes.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.evaluation import evaluate
from engine.facts import load_facts
from engine.frontend import parse_policy
from engine.policy import Policy
from runtime import dask_executor, partitions
from runtime.policies import load_library, load_policy_file

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "policies" / "sales-incentive"
EXAMPLE = REPO / "examples" / "facts-2026-Q3.csv"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="not run on Windows")


@pytest.fixture(scope="module")
def client() -> Any:
    """A LocalCluster of 3 single-threaded worker processes on loopback, for this module."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=3, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster,
        Client(cluster, set_as_default=False) as c,
    ):
        yield c


def variant(name: str, edit: Any) -> Policy:
    """The shipped Q3 policy with `edit(document)` applied, through the schema and the linter."""
    data = copy.deepcopy(yaml.safe_load(yaml.safe_dump(dict(load_policy_file(LIBRARY / "2026-Q3.yaml").data))))
    edit(data)
    data["version"] = name
    return parse_policy(yaml.safe_dump(data, allow_unicode=True), f"{name}.yaml")


def _hard_ranks(d: dict[str, Any]) -> None:
    d["awards"][1].update(ties="split", rank_by="achievement")  # quarterly top 3, by a ratio
    d["awards"][2]["top"] = 3  # sales star: the top 3 months' sellers
    d["awards"].append(
        {"id": "monthly_top", "label": "月度前五", "kind": "rank", "period": "month", "rank_by": "collected",
         "prizes": ["700", "500", "300", "200", "100"], "ties": "split"}
    )  # fmt: skip
    d["eligibility"].append(
        {"id": "m_ok", "label": "月达标", "period": "month", "rank_by": "collection_rate", "order": "asc",
         "all": [{"value": "rank", "op": "<", "than": "50"}, {"value": "new_customers", "op": ">=", "than": "3"}]}
    )  # fmt: skip


def _group_by_line(d: dict[str, Any]) -> None:
    d["awards"][0].update(period="quarter", group_by="product_line")
    d["awards"][0]["from"] = "1.00"
    d["commission"]["mode"] = "marginal"


POLICIES = {
    "shipped": lambda: load_library(LIBRARY).for_period("2026-Q3"),
    "hard_ranks": lambda: variant("hard-ranks", _hard_ranks),
    "group_by_line": lambda: variant("group-by-line", _group_by_line),
}


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """250 reps x 3 months, amounts drawn from a few values: plenty of ties."""
    from bench.synth import write_facts

    path = tmp_path_factory.mktemp("team") / "team.csv"
    write_facts(path, 250, seed=3)
    return path.read_bytes()


def single(policy: Policy, data: bytes, period: str) -> tuple[str, str, int, str]:
    ev = evaluate(policy, load_facts(data, "facts.csv", policy.numeric_columns), period, enforce_effective=False)
    return ev.to_csv_text(), "".join(ev.json_chunks()), len(ev.results), str(ev.total_payout)


def on_dask(client: Any, policy: Policy, data: bytes, period: str, tmp: Path) -> tuple[str, str, int, str]:
    (tmp / "facts.csv").write_bytes(data)
    texts = []
    for fmt in ("csv", "json"):
        run = dask_executor.evaluate_partitioned(client, policy, tmp / "facts.csv", "facts.csv", period)
        assert run is not None, "the executor stepped aside"
        texts.append("".join(run.chunks(fmt)))
    return texts[0], texts[1], run.results, str(run.total_payout)


@pytest.mark.parametrize("period", ["2026-08", "2026-Q3"])
@pytest.mark.parametrize("name", sorted(POLICIES))
def test_dask_writes_the_single_process_bytes(client: Any, team: bytes, name: str, period: str, tmp_path: Path) -> None:
    policy = POLICIES[name]()
    assert on_dask(client, policy, team, period, tmp_path) == single(policy, team, period)


def test_shipped_example_on_dask(client: Any, tmp_path: Path) -> None:
    policy = load_library(LIBRARY).for_period("2026-Q3")
    data = EXAMPLE.read_bytes()
    for period in ("2026-07", "2026-Q3"):
        assert on_dask(client, policy, data, period, tmp_path) == single(policy, data, period)


def tied_team() -> bytes:
    """40 reps whose best sellers tie, in every month and over the quarter, across the rep range."""
    lines = [
        "rep_id,name,region,product_line,manager_id,period,target,actual,collected,new_customers,leads,follow_ups,deals"
    ]
    for month in ("2026-07", "2026-08", "2026-09"):
        for i in range(40):
            actual = {5: 150000, 25: 150000, 35: 150000, 10: 140000, 30: 140000, 39: 90000}.get(
                i, 50000 + 1000 * (i % 7)
            )
            lines.append(f"R{i:02d},rep {i},{'EWNS'[i % 4]},{'AB'[i % 2]},M{i % 3},{month},100000,{actual},"
                         f"{actual * 9 // 10},{i % 6},{10 + i % 5},{i % 50},{i % 4}")  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")  # Excel's CSV: BOM and CRLF


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_ties_across_partitions(client: Any, name: str, tmp_path: Path) -> None:
    policy = POLICIES[name]()
    for period in ("2026-08", "2026-Q3"):
        assert on_dask(client, policy, tied_team(), period, tmp_path) == single(policy, tied_team(), period)


def test_each_row_is_loaded_by_exactly_one_worker(team: bytes) -> None:
    splits = partitions.split_points(team, 3)
    assert splits is not None and len(splits) == 2
    whole = load_facts(team, "team.csv")
    parts = [load_facts(team, "team.csv", reps=lambda r, k=k: partitions.range_of(splits, r) == k) for k in range(3)]
    assert all(p.rows for p in parts)
    assert sorted((r for p in parts for r in p.rows), key=lambda r: r.row) == list(whole.rows)


@pytest.mark.parametrize(
    ("data", "period"),
    [
        (b"rep_id,period,target,actual\nR1,2026-08,100,abc\nR2,2026-08,100,90\n", "2026-08"),  # a bad number
        (b"rep_id,period,target,actual\nR1,2026-07,100,90\nR2,2026-07,100,90\n", "2026-08"),  # no facts for it
        (b"rep_id,period,target,actual\nR1,2026-10,100,90\nR2,2026-10,100,90\n", "2026-10"),  # policy not in force
        (b"id,period,target,actual\nR1,2026-08,100,90\n", "2026-08"),  # no rep_id column
    ],
)
def test_dask_steps_aside_when_it_cannot_vouch_for_the_output(
    client: Any, data: bytes, period: str, tmp_path: Path
) -> None:
    policy = load_library(LIBRARY).for_period("2026-Q3")
    (tmp_path / "facts.csv").write_bytes(data)
    assert dask_executor.evaluate_partitioned(client, policy, tmp_path / "facts.csv", "facts.csv", period) is None


def merit(tmp_path: Path, facts: Path, out: str, workers: str, fmt: str = "csv") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MERIT_DEBUG", "MERIT_SCHEDULER")}
    env |= {"MERIT_WORKERS": workers, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "evaluate", "--policy", str(LIBRARY), "--facts", str(facts),
         "--period", "2026-Q3", "--format", fmt, "--output", str(tmp_path / out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_cli_output_is_the_same_with_and_without_workers(tmp_path: Path, team: bytes, fmt: str) -> None:
    facts = tmp_path / "team.csv"
    facts.write_bytes(team)
    one, two = merit(tmp_path, facts, "one.out", "1", fmt), merit(tmp_path, facts, "two.out", "2", fmt)
    assert (one.returncode, two.returncode) == (0, 0), one.stderr + two.stderr
    assert (tmp_path / "one.out").read_bytes() == (tmp_path / "two.out").read_bytes()
    assert one.stderr.replace("one.out", "two.out") == two.stderr


def test_cli_reports_bad_input_the_same_with_workers(tmp_path: Path) -> None:
    facts = tmp_path / "bad.csv"
    facts.write_text("rep_id,period,target,actual\nR1,2026-08,100,abc\nR1,2026-08,100,90\n", encoding="utf-8")
    one, two = merit(tmp_path, facts, "one.csv", "1"), merit(tmp_path, facts, "two.csv", "2")
    assert (one.returncode, two.returncode) == (1, 1)
    assert one.stderr == two.stderr
    assert "bad.csv:2:4: actual:" in two.stderr
    assert not (tmp_path / "two.csv").exists()


def test_a_failing_task_is_one_line_naming_the_error(client: Any) -> None:
    future = client.submit(int, "x", pure=False)
    with pytest.raises(dask_executor.WorkerError) as exc:
        dask_executor.results(client, [future])
    assert str(exc.value) == "in a Dask worker: ValueError: invalid literal for int() with base 10: 'x'"


@pytest.mark.parametrize("value", ["abc", "-3", "2.5"])
def test_a_worker_count_that_is_not_a_whole_number_is_refused(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.problems import MeritInputError

    monkeypatch.setenv("MERIT_WORKERS", value)
    with pytest.raises(MeritInputError) as exc:
        dask_executor.worth_distributing("facts.csv", 10, None)
    assert [(p.source, p.field) for p in exc.value.problems] == [("MERIT_WORKERS", value)]
    monkeypatch.setenv("MERIT_WORKERS", "3")
    assert dask_executor.worth_distributing("facts.csv", 10, None)
    assert not dask_executor.worth_distributing("facts.xlsx", 10 << 30, None)  # only CSV is sampled
    monkeypatch.setenv("MERIT_WORKERS", "1")
    assert not dask_executor.worth_distributing("facts.csv", 10 << 30, None)
    assert dask_executor.worth_distributing("facts.csv", 10, "tcp://127.0.0.1:8786")  # a named cluster: always
    monkeypatch.delenv("MERIT_WORKERS")  # the size rule, per output format (MIN_BYTES)
    cores = len(os.sched_getaffinity(0))
    assert not dask_executor.worth_distributing("facts.csv", 1 << 30, None, "csv")
    assert not dask_executor.worth_distributing("facts.csv", (4 << 20) - 1, None, "json")
    monkeypatch.setattr(os, "getloadavg", lambda: (cores - 1.0, 0.0, 0.0))  # one core idle
    assert dask_executor.worth_distributing("facts.csv", 4 << 20, None, "json") == (cores >= 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (cores - 0.5, 0.0, 0.0))  # busy: one process
    assert not dask_executor.worth_distributing("facts.csv", 4 << 20, None, "json")


def test_workers_report_the_same_warnings_as_one_process(tmp_path: Path) -> None:
    # no collected/new_customers/... columns: no scorecard; every 7th rep has no region
    rows = ["rep_id,region,period,target,actual"]
    for i in range(60):
        region = "" if i % 7 == 0 else ("East", "South")[i % 2]
        rows += [f"R{i:03d},{region},2026-0{m},100000,{90000 + 1000 * i}" for m in (7, 8, 9)]
    facts = tmp_path / "partial.csv"
    facts.write_text("\n".join(rows) + "\n", encoding="utf-8")
    one, two = merit(tmp_path, facts, "one.csv", "1"), merit(tmp_path, facts, "two.csv", "2")
    assert (one.returncode, two.returncode) == (0, 0), one.stderr + two.stderr
    # 9 reps without a region x 3 months; 60 reps x 3 months unscored (the scorecard is monthly);
    # collected is absent from 60 x (3 months + the quarter) lines
    assert "  27 x team_collaboration: no region, not in any group (e.g. R000 2026-07)" in two.stderr
    assert "  180 x score not computed: a scorecard metric is not available (e.g. R000 2026-07)" in two.stderr
    assert "  240 x collection_rate not available: collected blank or absent (e.g. R000 2026-07)" in two.stderr
    assert one.stderr.replace("one.csv", "two.csv") == two.stderr


def test_the_local_cluster_listens_on_loopback_only() -> None:
    import psutil

    with dask_executor.dask_client(None) as c:
        pids = {os.getpid(), *c.run(os.getpid).values()}
        listening = [
            conn.laddr.ip
            for pid in pids
            for conn in psutil.Process(pid).net_connections(kind="inet")
            if conn.status == psutil.CONN_LISTEN
        ]
    assert listening and set(listening) == {"127.0.0.1"}


@pytest.mark.parametrize("regions", [None, ("East", "North")])
@pytest.mark.parametrize("period", ["2026-08", "2026-Q3"])
def test_sweep_points_as_tasks_give_the_serial_sweep(
    client: Any, team: bytes, period: str, regions: tuple[str, ...] | None
) -> None:
    import json
    from decimal import Decimal

    from engine.facts import ReadOptions
    from engine.periods import parse_period
    from engine.sweep import sweep
    from runtime.dask_sweeps import points_on_dask

    policy = POLICIES["hard_ranks"]()
    facts = load_facts(team, "team.csv", policy.numeric_columns)
    values = [Decimal("0.015") + Decimal("0.001") * i for i in range(5)]  # 5 points over 3 workers: 1 + 2 + 2
    param = "commission.tiers[advanced].rate"
    serial = sweep(policy, param, values, facts, period, regions=regions)
    runner = points_on_dask(
        client, team, "team.csv", ReadOptions(), policy.numeric_columns, parse_period(period), regions
    )
    tasks = sweep(policy, param, values, facts, period, regions=regions, points=runner)
    dump = lambda r: json.dumps(r.as_dict(), ensure_ascii=False, indent=2)  # noqa: E731
    assert dump(tasks) == dump(serial)
    assert len({p["payout"] for p in serial.as_dict()["points"]}) > 1  # the rate moves the cost


def test_cli_sweep_is_the_same_with_and_without_workers(tmp_path: Path, team: bytes) -> None:
    facts = tmp_path / "team.csv"
    facts.write_bytes(team)
    command = [
        sys.executable, "-m", "service.cli", "sweep", "--policy", str(LIBRARY), "--facts", str(facts),
        "--period", "2026-Q3", "--param", "commission.tiers[advanced].rate", "--range", "0.015:0.02:0.001",
        "--format", "json",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("MERIT_DEBUG", "MERIT_SCHEDULER")}
    env["PYTHONPATH"] = str(REPO)
    runs = [
        subprocess.run(command, cwd=REPO, env=env | {"MERIT_WORKERS": w}, capture_output=True, text=True, timeout=300)
        for w in ("1", "2")
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert runs[0].stdout == runs[1].stdout
    assert '"value": "0.020"' in runs[1].stdout
