"""The shell walkthroughs in README.md and docs/service.md work as pasted, in order.

A block is runnable when the line before its fence is `<!-- runnable -->`. Every runnable block of
a document runs, in order, in one bash session (so `HR=$(merit token create ...)` carries over) in
a fresh folder holding the repository's `policies/` and `examples/`, with `merit` on PATH running
this checkout. A `merit serve` line is what the reader starts in another terminal: it is started in
the background and waited for (`/healthz`); its port is swapped for a free loopback port
(test-only), and it uses the folder's own fresh SQLite database, as the docs say.

What counts as a failure: a non-zero exit, an HTTP error (curl runs with `--fail-with-body` here,
so a 4xx/5xx exits non-zero), a traceback or an internal error, or output without the text that a
`# => TEXT` line under the command promises. `# => refused: TEXT` promises a refusal instead: the
command must fail and say TEXT. The promises are written in the docs by hand, from the handbook's
arithmetic (e.g. August's payout 115723.57).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "docs/service.md")
MARKER = "<!-- runnable -->"


@dataclass
class Command:
    """One command as pasted (continuation lines joined) and what the docs promise of it."""

    text: str
    line: int
    expect: list[str] = field(default_factory=list)
    refused: bool = False

    @property
    def serves(self) -> bool:
        return self.text.startswith("merit serve")


def runnable_blocks(path: Path) -> list[tuple[int, str]]:
    """(first line number, text) of every runnable shell block, in document order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.strip() == MARKER:
            fence = lines[i + 1]
            assert fence.startswith("```sh") or fence.startswith("```console"), f"{path}:{i + 2}: not a shell block"
            end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
            blocks.append((i + 3, "\n".join(lines[i + 2 : end])))
    return blocks


def commands(first_line: int, block: str) -> list[Command]:
    """The block's commands, with each `# =>` promise attached to the command above it."""
    out: list[Command] = []
    pending: list[str] = []
    start = first_line
    for n, line in enumerate(block.splitlines(), start=first_line):
        stripped = line.strip()
        if not pending and stripped.startswith("# =>"):
            promise = stripped[4:].strip()
            assert out, f"line {n}: a promise before any command"
            if promise.startswith("refused:"):
                out[-1].refused = True
                promise = promise[len("refused:") :].strip()
            out[-1].expect.append(promise)
            continue
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            start = n
        pending.append(line)
        if not line.endswith("\\"):
            text = "\n".join(pending)
            out.append(Command(text, start))
            pending = []
    assert not pending, "a block ends inside a continued command"
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _script(cmds: list[Command], ports: dict[str, str], outdir: Path) -> str:
    """One bash script: each command's output and exit status to files; servers in the background."""
    parts = [
        "set -u",
        'curl() { command curl --fail-with-body "$@"; }',
        "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT",
    ]
    for i, cmd in enumerate(cmds):
        text = cmd.text
        for doc_port, port in ports.items():
            text = re.sub(rf"(--port |127\.0\.0\.1:){doc_port}\b", rf"\g<1>{port}", text)
        out, rc = outdir / f"{i}.out", outdir / f"{i}.rc"
        if cmd.serves:
            port = re.search(r"--port (\d+)", text)
            assert port, f"line {cmd.line}: give `merit serve` a --port"
            parts.append(f"{text} > {out} 2>&1 &")
            parts.append(
                f"for _ in $(seq 300); do command curl -fs http://127.0.0.1:{port.group(1)}/healthz >/dev/null"
                f" && break; sleep 0.1; done; echo 0 > {rc}"
            )
        else:
            parts.append(f"{{ {text}\n}} > {out} 2>&1; echo $? > {rc}")
            if not cmd.refused:
                parts.append(f'[ "$(cat {rc})" = 0 ] || exit 0')  # the test reports the first failure
    return "\n".join(parts) + "\n"


def _environment(bindir: Path) -> dict[str, str]:
    bindir.mkdir()
    merit = bindir / "merit"
    merit.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m service.cli "$@"\n', encoding="utf-8")
    merit.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERIT_")}
    env.update(PATH=f"{bindir}{os.pathsep}{env['PATH']}", MERIT_WORKERS="1", COLUMNS="120")
    return env


@dataclass
class Walkthrough:
    """A document's runnable commands and the folder their outputs and exit statuses went to."""

    commands: list[Command]
    outdir: Path


def _start(doc: str, tmp: Path) -> tuple[Walkthrough, subprocess.Popen[bytes]]:
    blocks = runnable_blocks(REPO / doc)
    assert blocks, f"{doc} has no runnable block"
    cmds = [c for first, block in blocks for c in commands(first, block)]
    work, outdir = tmp / "work", tmp / "out"
    work.mkdir(parents=True)
    outdir.mkdir()
    for folder in ("policies", "examples"):
        (work / folder).symlink_to(REPO / folder)
    doc_ports = sorted({p for c in cmds if c.serves for p in re.findall(r"--port (\d+)", c.text)})
    script = tmp / "walkthrough.sh"
    script.write_text(_script(cmds, {p: str(_free_port()) for p in doc_ports}, outdir), encoding="utf-8")
    proc = subprocess.Popen(["bash", str(script)], cwd=work, env=_environment(tmp / "bin"), start_new_session=True)
    return Walkthrough(cmds, outdir), proc


@pytest.fixture(scope="module")
def walkthroughs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Walkthrough]:
    """Every document's walkthrough, run side by side (each has its own folder, database and ports)."""
    started = {doc: _start(doc, tmp_path_factory.mktemp(Path(doc).stem)) for doc in DOCS}
    for _, proc in started.values():
        try:
            proc.wait(timeout=900)  # minutes on a busy 2-core machine: the walkthroughs run dozens of commands
        except subprocess.TimeoutExpired:  # the shell and the servers it started: its own process group
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {doc: walkthrough for doc, (walkthrough, _) in started.items()}


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthroughs use curl")
@pytest.mark.parametrize("doc", DOCS)
def test_walkthrough_runs_as_pasted(doc: str, walkthroughs: dict[str, Walkthrough]) -> None:
    run = walkthroughs[doc]
    for i, cmd in enumerate(run.commands):
        rc_file = run.outdir / f"{i}.rc"
        where = f"{doc}:{cmd.line}: {cmd.text}"
        assert rc_file.exists(), f"{where}\nnever ran (an earlier command failed)"
        rc = int(rc_file.read_text().strip())
        output = (run.outdir / f"{i}.out").read_text(encoding="utf-8", errors="replace")
        assert "Traceback" not in output and "internal error" not in output, f"{where}\n{output[-3000:]}"
        if cmd.refused:
            assert rc != 0, f"{where}\nwas to be refused but succeeded:\n{output[-3000:]}"
        elif not cmd.serves:
            assert rc == 0, f"{where}\nexit {rc}:\n{output[-3000:]}"
        for promise in cmd.expect:
            assert promise in output, f"{where}\npromised {promise!r}, said:\n{output[-3000:]}"


def test_a_broken_promise_and_a_failing_command_are_caught(tmp_path: Path) -> None:
    """The harness itself: a command that fails, or says something else than promised, is reported."""
    cmds = commands(1, "echo hello\n# => hello\nfalse\necho never")
    assert [(c.text, c.expect) for c in cmds] == [("echo hello", ["hello"]), ("false", []), ("echo never", [])]
    outdir = tmp_path / "out"
    outdir.mkdir()
    subprocess.run(["bash", "-c", _script(cmds, {}, outdir)], check=False, timeout=60)
    assert (outdir / "0.out").read_text() == "hello\n" and (outdir / "1.rc").read_text().strip() == "1"
    assert not (outdir / "2.rc").exists()  # the walkthrough stopped at the first failure
