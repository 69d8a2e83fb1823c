"""Merit on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on loopback.

The processes are started as a cluster would run them (the `dask` command line, free ports, the
scheduler's address from its scheduler file) and torn down afterwards. `merit evaluate
--scheduler` through them writes the bytes one process writes (CSV and JSON); a worker killed
mid-run is one clear error, exit status 3, and no output file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "policies" / "sales-incentive"
DASK = Path(sys.executable).parent / "dask"

pytestmark = pytest.mark.skipif(not DASK.exists() or sys.platform == "win32", reason="needs the dask command")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MERIT_DEBUG", "MERIT_SCHEDULER", "MERIT_WORKERS")}
    return env | {"PYTHONPATH": str(REPO)}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """A scheduler and two single-threaded workers on 127.0.0.1 (ports chosen by the OS)."""
    info = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(info)],
            cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [str(DASK), "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                     "--local-directory", str(tmp_path)],
                    cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        from distributed import Client

        with Client(address, timeout="30s", set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGINT)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _facts(tmp_path: Path, reps: int) -> Path:
    from bench.synth import write_facts

    path = tmp_path / "team.csv"
    write_facts(path, reps, seed=11)
    return path


def _merit(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "evaluate", "--policy", str(LIBRARY), "--period", "2026-Q3", *args],
        cwd=REPO, env=env or _env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_evaluating_through_a_scheduler_writes_the_single_process_bytes(cluster: str, tmp_path: Path, fmt: str) -> None:
    facts = _facts(tmp_path, 300)
    one = _merit("--facts", str(facts), "--format", fmt, "--output", str(tmp_path / "one.out"),
                 env=_env() | {"MERIT_WORKERS": "1"})  # fmt: skip
    two = _merit("--facts", str(facts), "--format", fmt, "--output", str(tmp_path / "two.out"), "--scheduler", cluster)
    (_, err_one), (_, err_two) = one.communicate(timeout=300), two.communicate(timeout=300)
    assert (one.returncode, two.returncode) == (0, 0), err_one + err_two
    assert (tmp_path / "one.out").read_bytes() == (tmp_path / "two.out").read_bytes()
    assert err_one.replace("one.out", "two.out") == err_two
    # the work was done on the cluster: its workers hold no partition once the run is over
    from distributed import Client

    with Client(cluster, timeout="30s", set_as_default=False) as client:
        tasks = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.task_prefixes))
        kept = client.run(lambda: len(__import__("runtime.partitions").partitions._RUNS))
    assert tasks > 0
    assert set(kept.values()) == {0}


def test_a_worker_killed_mid_run_is_a_clear_error_and_no_output_file(cluster: str, tmp_path: Path) -> None:
    from distributed import Client

    facts = _facts(tmp_path, 4000)
    out = tmp_path / "out.json"
    run = _merit("--facts", str(facts), "--format", "json", "--output", str(out), "--scheduler", cluster)
    with Client(cluster, timeout="30s", set_as_default=False) as client:
        deadline = time.monotonic() + 120
        while True:  # once a worker holds its partition, kill it (its state is lost with it)
            held = client.run(lambda: (os.getpid(), len(__import__("runtime.partitions").partitions._RUNS)))
            loaded = [pid for pid, count in held.values() if count]
            if loaded:
                os.kill(loaded[0], signal.SIGKILL)
                break
            assert run.poll() is None and time.monotonic() < deadline, "the run ended before a worker could be killed"
            time.sleep(0.05)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 3, err
    assert err.startswith("merit: the Dask cluster failed: "), err
    assert err.rstrip().endswith("; no output was written"), err
    assert "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".merit-")] == []
