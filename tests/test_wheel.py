"""The built wheel works outside the checkout: the CLI, HR's acceptance scenarios, the service's gate.

Merit is installed as a wheel, where no source tree is around: the schemas, HR's features and
their step library must come with it as package data, and nothing may reach for `tests/` or a
path relative to the repository. So this builds the wheel from a copy of the sources, installs it
(`--no-deps`) into a fresh virtual environment that borrows this environment's dependencies
(no network), and from an empty folder elsewhere runs `merit validate`, `merit evaluate` (the same
bytes as the checkout's CLI), `merit test --policy FILE`, and `merit serve`, whose acceptance gate
must refuse a version that breaks HR's scenarios. About 40 s.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "engine", "service", "runtime", "schemas", "features")


def _clean_env() -> dict[str, str]:
    """This environment without the checkout on any path (PYTHONPATH would show pip the
    checkout's metadata, and every command the checkout's modules)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "VIRTUAL_ENV")}


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=_clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the built wheel installed; returns its bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    dist = root / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist), str(src)], root)
    (wheel,) = dist.glob("merit-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root)
    site = Path(
        _run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root
        ).strip()
    )
    _run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index", "-q", str(wheel)], root)
    # then this environment's third-party packages, after the venv's own (a plain path: no .pth
    # file of this environment runs there, so an editable install of the checkout cannot shadow
    # the wheel; added after installing, so pip does not take that install for this one)
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return venv / "bin"


def _outside(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working folder outside the checkout with copies of the example inputs, and its environment."""
    work = tmp_path / "hr"
    shutil.copytree(REPO / "policies" / "sales-incentive", work / "policies" / "sales-incentive")
    shutil.copytree(REPO / "examples", work / "examples")
    return work, _clean_env()


def test_the_installed_wheel_validates_evaluates_and_tests_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    work, env = _outside(tmp_path)
    merit = str(installed / "merit")
    python = str(installed / "python")
    where = _run(
        [python, "-c", "import engine, features, schemas; print(engine.__file__, features.__file__, schemas.__file__)"],
        work,
        env,
    ).split()
    assert all(str(installed.parent) in path and str(REPO) not in path for path in where), where

    validated = _run([merit, "validate", "policies/sales-incentive"], work, env)
    assert validated == _run(
        [sys.executable, "-m", "service.cli", "validate", "policies/sales-incentive"],
        REPO,
        {**os.environ, "PYTHONPATH": str(REPO)},
    )

    evaluate = ["evaluate", "--policy", "policies/sales-incentive", "--facts", "examples/facts-2026-Q3.csv"]
    evaluate += ["--period", "2026-08", "--format", "json"]
    checkout_env = {**os.environ, "PYTHONPATH": str(REPO)}
    assert _run([merit, *evaluate], work, env) == _run(
        [sys.executable, "-m", "service.cli", *evaluate], REPO, checkout_env
    )

    tested = _run([merit, "test", "--policy", "policies/sales-incentive/2026-Q3.yaml"], work, env)
    assert "checking sales-incentive 2026-Q3" in tested and " passed" in tested and "failed" not in tested

    _the_service_gates_versions_with_the_shipped_scenarios(merit, work, env)


def test_the_installed_wheel_writes_statements_with_its_templates_and_catalogue(
    installed: Path, tmp_path: Path
) -> None:
    """The statement's template and message catalogue are package data: found from the wheel too."""
    work, env = _outside(tmp_path)
    args = ["statement", "--policy", "policies/sales-incentive", "--facts", "examples/facts-2026-Q3.csv"]
    args += ["--period", "2026-08", "--rep", "R001"]
    text = _run([str(installed / "merit"), *args, "--format", "text"], work, env)
    assert "再完成 ¥120,000.00 即达冲刺卓越奖（3% + ¥3,000）。" in text  # 1.2 x 800000 - 840000
    page = _run([str(installed / "merit"), *args, "--format", "html", "--lang", "en"], work, env)
    assert '<html lang="en">' in page and "CN¥16,800.00" in page  # 2% x 840000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _the_service_gates_versions_with_the_shipped_scenarios(merit: str, work: Path, env: dict[str, str]) -> None:
    """`merit serve` from the wheel stores a version only when HR's scenarios pass: a weaker rate
    is refused (422, the failed scenarios listed), the shipped version is stored (201)."""
    url = ["--database-url", f"sqlite:///{work}/merit.db"]
    _run([merit, "db", "upgrade", *url], work, env)
    token = _run([merit, "token", "create", "--role", "hr", "--name", "HR", *url], work, env).split()[0]
    port = _free_port()
    log = (work / "serve.log").open("w", encoding="utf-8")
    server = subprocess.Popen([merit, "serve", "--port", str(port), *url], cwd=work, env=env, stdout=log, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                alive = server.poll() is None and time.monotonic() < deadline
                assert alive, "merit serve did not come up: " + (work / "serve.log").read_text(encoding="utf-8")
                time.sleep(0.2)
        good = (work / "policies" / "sales-incentive" / "2026-Q3.yaml").read_text(encoding="utf-8")
        weaker = good.replace('rate: "0.02"', 'rate: "0.018"')
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/yaml"}
        target = f"{base}/policies/sales-incentive/versions/2026-Q3"
        refused = httpx.put(target, content=weaker.encode(), headers=headers, timeout=300)
        assert refused.status_code == 422, refused.text
        assert {p["field"] for p in refused.json()["problems"]} == {"acceptance"}
        stored = httpx.put(target, content=good.encode(), headers=headers, timeout=300)
        assert stored.status_code == 201, stored.text
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
