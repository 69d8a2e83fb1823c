"""The `merit` command line, run as a user runs it: a separate process, exit status, stdout, stderr.

Every failure path is checked for the three promises the CLI makes: problems are listed with
their place (file:line:column: field), the exit status is 1, and no Python traceback and no
output file reach the user. Expected figures are the handbook's August example, worked by hand.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "policies" / "sales-incentive"
Q3_TEXT = (LIBRARY / "2026-Q3.yaml").read_text(encoding="utf-8")
EXAMPLE = REPO / "examples" / "facts-2026-Q3.csv"


def merit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("MERIT_DEBUG", "MERIT_POLICY_FILE")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr
    assert "Traceback" not in proc.stdout


@pytest.fixture
def august_facts(tmp_path: Path) -> Path:
    path = tmp_path / "august.csv"
    path.write_text(
        "rep_id,name,region,product_line,period,target,actual\n"
        "R001,张伟,East,A,2026-08,800000.00,840000.00\n"
        "R002,李娜,South,B,2026-08,600000.00,450000.00\n"
        "R003,王芳,North,C,2026-08,300000.00,330000.00\n",
        encoding="utf-8",
    )
    return path


# ----------------------------------------------------------------------------- validate
def test_validate_shipped_policies() -> None:
    proc = merit("validate", str(LIBRARY))
    assert proc.returncode == 0, proc.stderr
    assert "sales-incentive 2026-Q3" in proc.stdout
    assert "sales-incentive 2026-Q4" in proc.stdout
    assert "2 policy versions valid" in proc.stdout


def test_validate_reports_located_problems(tmp_path: Path) -> None:
    bad = tmp_path / "2026-Q3.yaml"
    text = Q3_TEXT.replace('rate: "0.02"', 'rate: "two percent"')
    bad.write_text(text, encoding="utf-8")
    line_no = text[: text.index('rate: "two percent"')].count("\n") + 1
    column = len(text.splitlines()[line_no - 1].split('rate: "two percent"')[0]) + len("rate: ") + 1
    proc = merit("validate", str(bad))
    assert proc.returncode == 1
    assert f"{bad}:{line_no}:{column}: commission.tiers[1].rate:" in proc.stderr
    assert "1 problem found" in proc.stderr
    no_traceback(proc)


def test_validate_missing_file() -> None:
    proc = merit("validate", "no/such/policy.yaml")
    assert proc.returncode == 1
    assert "no/such/policy.yaml" in proc.stderr
    no_traceback(proc)


# ----------------------------------------------------------------------------- evaluate
def test_evaluate_json_to_output(tmp_path: Path, august_facts: Path) -> None:
    out = tmp_path / "results" / "august.json"
    proc = merit(
        "evaluate", "--policy", str(LIBRARY), "--facts", str(august_facts), "--period", "2026-08",
        "--format", "json", "--output", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["policy"]["id"] == "sales-incentive"
    assert data["policy"]["version"] == "2026-Q3"
    assert data["period"] == "2026-08"
    by_rep = {r["rep_id"]: r for r in data["results"]}
    zhang = by_rep["R001"]
    assert zhang["name"] == "张伟"
    # 840000 / 800000 = 105%: green, advanced, 2% of 840000 = 16800.00 + 1000.00 = 17800.00
    assert (zhang["light"], zhang["tier"], zhang["commission"], zhang["bonus"], zhang["total"]) == (
        "green", "advanced", "16800.00", "1000.00", "17800.00",
    )  # fmt: skip
    assert zhang["metrics"]["achievement"] == "1.05"
    li = by_rep["R002"]
    assert (li["light"], li["tier"], li["total"]) == ("red", None, "0.00")
    # 王芳 alone in North at 110%: 2% of 330000 = 6600.00 + 1000.00 + team award 500.00
    assert by_rep["R003"]["total"] == "8100.00"
    assert data["totals"]["reps"] == 3
    assert data["totals"]["payout"] == "25900.00"  # 17800 + 0 + 8100
    assert "wrote" in proc.stderr


def test_evaluate_json_to_stdout_is_deterministic(august_facts: Path) -> None:
    args = (
        "evaluate",
        "--policy",
        str(LIBRARY),
        "--facts",
        str(august_facts),
        "--period",
        "2026-08",
        "--format",
        "json",
    )
    first, second = merit(*args), merit(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    json.loads(first.stdout)


def test_evaluate_csv_header(august_facts: Path) -> None:
    proc = merit(
        "evaluate",
        "--policy",
        str(LIBRARY),
        "--facts",
        str(august_facts),
        "--period",
        "2026-08",
        "--format",
        "csv",
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    assert rows[0] == [
        "period", "rep_id", "name", "region", "product_line", "target", "actual", "achievement",
        "light", "tier", "commission", "bonus", "awards", "total", "score", "rating",
        "policy_id", "policy_version", "policy_sha256",
    ]  # fmt: skip
    zhang = dict(zip(rows[0], rows[1], strict=True))
    assert (zhang["rep_id"], zhang["commission"], zhang["bonus"], zhang["total"]) == (
        "R001", "16800.00", "1000.00", "17800.00",
    )  # fmt: skip
    assert len(rows) == 4


def test_evaluate_quarter_of_the_shipped_example() -> None:
    proc = merit(
        "evaluate",
        "--policy",
        str(LIBRARY),
        "--facts",
        str(EXAMPLE),
        "--period",
        "2026-Q3",
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    zhang = next(r for r in data["results"] if r["rep_id"] == "R001")
    # 832000 + 840000 + 632000 = 2304000 over 3 x 800000 = 2400000
    assert (zhang["actual"], zhang["target"]) == ("2304000.00", "2400000.00")
    assert [m["period"] for m in zhang["months"]] == ["2026-07", "2026-08", "2026-09"]


def test_bad_facts_exit_1_with_problems_and_no_output(tmp_path: Path) -> None:
    facts = tmp_path / "facts.csv"
    facts.write_text(
        "rep_id,name,period,target,actual\nR1,A,2026-08,100,100\nR2,B,2026-08,-100,100\nR3,C,2026-08,100,八十万\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.json"
    proc = merit(
        "evaluate", "--policy", str(LIBRARY), "--facts", str(facts), "--period", "2026-08",
        "--format", "json", "--output", str(out),
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"{facts}:3:4: target:" in proc.stderr  # row 3 (header is row 1), column 4
    assert f"{facts}:4:5: actual:" in proc.stderr
    assert "2 problems found" in proc.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [facts]  # no temp file left behind either
    no_traceback(proc)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--period", "2026-13"), "2026-13"),
        (("--period", "2026-06"), "no policy version is in force for 2026-06"),
        (("--period", "2026-12"), "no facts for 2026-12"),
    ],
)
def test_evaluate_bad_period(tmp_path: Path, august_facts: Path, args: tuple[str, str], needle: str) -> None:
    out = tmp_path / "out.json"
    proc = merit("evaluate", "--policy", str(LIBRARY), "--facts", str(august_facts), *args, "--output", str(out))
    assert proc.returncode == 1
    assert needle in proc.stderr
    assert not out.exists()
    no_traceback(proc)


def test_evaluate_missing_facts_file(tmp_path: Path) -> None:
    proc = merit("evaluate", "--policy", str(LIBRARY), "--facts", str(tmp_path / "none.csv"), "--period", "2026-08")
    assert proc.returncode == 1
    assert "none.csv" in proc.stderr
    no_traceback(proc)


# ----------------------------------------------------------------------------- test (acceptance)
def test_merit_test_missing_policy_file() -> None:
    proc = merit("test", "--policy", "no/such/version.yaml")
    assert proc.returncode == 1
    assert "no/such/version.yaml" in proc.stderr
    no_traceback(proc)


def test_merit_test_invalid_policy_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Q3_TEXT.replace('rate: "0.02"', 'rate: "two percent"'), encoding="utf-8")
    proc = merit("test", "--policy", str(bad))
    assert proc.returncode == 1
    assert "commission.tiers[1].rate" in proc.stderr
    no_traceback(proc)


def test_merit_test_passes_the_next_version() -> None:
    proc = merit("test", "--policy", str(LIBRARY / "2026-Q4.yaml"))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "passed" in proc.stdout
    # only true, useful lines: no report file that is deleted when the command ends, no pytest-bdd
    # internals; each scenario not run says where it is and why (policy-versions.feature's tags:
    # @version-2026-Q3 @version-2026-Q4 on line 12, @version-2026-Q3 on lines 32 and 51)
    assert "cucumber" not in proc.stdout + proc.stderr and "generated json file" not in proc.stdout
    assert "SKIPPED" not in proc.stdout and "pytest_bdd" not in proc.stdout
    out = proc.stdout.splitlines()
    at = out.index("3 scenarios not run:")
    assert [line.split(" ", 3)[2] for line in out[at + 1 : at + 4]] == [
        "features/policy-versions.feature:13",
        "features/policy-versions.feature:33",
        "features/policy-versions.feature:52",
    ]
    assert out[at + 1].endswith(
        ": it needs versions 2026-Q3 and 2026-Q4 together (a library: `merit test` without --policy);"
        " one file is one version"
    )
    assert out[at + 2].endswith(": it checks version 2026-Q3's own numbers; the candidate is 2026-Q4")
    assert "38 passed, 3 skipped" in out[at + 4]  # 41 scenarios collected with the tag (deals-crediting.feature: 7)


def test_merit_test_fails_a_version_that_breaks_the_handbook(tmp_path: Path) -> None:
    weaker = tmp_path / "2026-Q3-weaker.yaml"
    weaker.write_text(Q3_TEXT.replace('rate: "0.02"', 'rate: "0.018"'), encoding="utf-8")
    proc = merit("test", "--policy", str(weaker))
    assert proc.returncode == 1
    # HR reads the scenario, its place in the feature, the step and what differed; no step code
    assert "scenarios failed:" in proc.stdout
    assert (
        "手册中的 8 月案例: 张、李、王的 8 月绩效 (features/august-example.feature:11): "
        "而且 张伟 的提成为 16800.00 元，奖金为 1000.00 元: "
        "AssertionError: 张伟: commission 15120.00 and bonus 1000.00, expected 16800.00 and 1000.00"
    ) in proc.stdout  # 1.8% of 840000.00 = 15120.00
    assert "def " not in proc.stdout and "Traceback" not in proc.stdout
    # which scenarios pin the changed rate, and the path for a deliberate change (issue 12)
    out = proc.stdout.splitlines()
    assert "  commission tier advanced: rate 2% -> 1.8%" in out
    assert (  # the description says "拿 2% 提成加 1000 奖金", the steps 进阶激励奖
        "  features/august-example.feature:11 张、李、王的 8 月绩效: commission tier advanced: rate 2% -> 1.8%"
    ) in out
    assert sum(line.startswith("  features/commission.feature:11 ") for line in out) == 1  # an outline: once
    assert any("edits a shipped version in place" in line for line in out)
    assert "  1. tag each scenario above @version-2026-Q3: it keeps checking 2026-Q3 and is skipped for others;" in out


def test_run_acceptance_one_problem_per_failed_scenario() -> None:
    from engine.frontend import parse_policy
    from service.acceptance import run_acceptance

    assert run_acceptance(parse_policy(Q3_TEXT, "2026-Q3.yaml")) == []
    # the advanced tier at 1.8% instead of 2%: every scenario that pays the advanced tier fails
    weaker = parse_policy(Q3_TEXT.replace('rate: "0.02"', 'rate: "0.018"'), "candidate.yaml")
    problems = run_acceptance(weaker)
    assert problems
    assert {p.source for p in problems} == {"candidate.yaml"}
    assert {p.field for p in problems} == {"acceptance"}
    texts = "\n".join(p.message for p in problems)
    # the handbook's worked example: 2% of 840000 = 16800.00 expected, 1.8% = 15120.00 paid
    assert "张李王的 8 月绩效" in texts or "张、李、王的 8 月绩效" in texts
    assert "15120.00" in texts
    # scenarios about the lights alone still pass
    assert "按月度达成率亮灯" not in texts


def test_run_acceptance_policy_without_scenarios() -> None:
    from engine.frontend import parse_policy
    from service.acceptance import run_acceptance

    other = parse_policy(Q3_TEXT.replace("id: sales-incentive", "id: no-scenarios-yet"), "other.yaml")
    problems = run_acceptance(other)
    assert len(problems) == 1
    assert "no acceptance scenario is tagged @no-scenarios-yet" in problems[0].message


# ------------------------------------------------------------------------- output files
def evaluate_to(facts: Path, output: str, fmt: str = "csv", *more: str) -> subprocess.CompletedProcess[str]:
    return merit("evaluate", "--policy", str(LIBRARY), "--facts", str(facts), "--period", "2026-08",
                 "--format", fmt, "--output", output, *more)  # fmt: skip


def test_output_never_overwrites_the_input_facts(august_facts: Path) -> None:
    before = august_facts.read_bytes()
    proc = evaluate_to(august_facts, str(august_facts))
    assert proc.returncode == 1 and "it would be overwritten" in proc.stderr
    assert august_facts.read_bytes() == before
    no_traceback(proc)


def test_unwritable_outputs_are_refused_by_name_before_any_work(tmp_path: Path, august_facts: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    proc = evaluate_to(august_facts, str(folder))
    assert proc.returncode == 1 and f"--output: {folder}: is a folder" in proc.stderr
    under_a_file = f"{august_facts}/out.csv"
    proc = evaluate_to(august_facts, under_a_file)
    assert proc.returncode == 1 and f"{august_facts} is a file, not a folder" in proc.stderr
    assert ".tmp" not in proc.stderr  # the user's path is named, never a temp file
    no_traceback(proc)


def test_output_through_a_link_keeps_the_link_and_the_files_permissions(tmp_path: Path, august_facts: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to(real.name)
    proc = evaluate_to(august_facts, str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and real.read_text(encoding="utf-8").startswith("period,rep_id,")
    assert real.stat().st_mode & 0o777 == 0o640


def test_output_to_a_device_writes_into_it(august_facts: Path) -> None:
    proc = evaluate_to(august_facts, os.devnull, "json")
    assert proc.returncode == 0, proc.stderr
    assert Path(os.devnull).is_char_device()


def test_what_a_result_could_not_decide_is_said_on_stderr_for_every_format(tmp_path: Path) -> None:
    facts = tmp_path / "no-region.csv"
    facts.write_text("rep_id,region,period,target,actual\nA,East,2026-08,100,90\nB,,2026-08,100,120\n", "utf-8")
    for fmt in ("table", "csv", "json"):
        proc = merit("evaluate", "--policy", str(LIBRARY), "--facts", str(facts), "--period", "2026-08",
                     "--format", fmt)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "1 x team_collaboration: no region, not in any group (e.g. B 2026-08)" in proc.stderr
        assert "2 x score not computed: a scorecard metric is not available (e.g. A 2026-08)" in proc.stderr


def test_every_bad_input_of_an_evaluation_is_listed_at_once(tmp_path: Path) -> None:
    proc = merit("evaluate", "--policy", str(tmp_path / "no-policies"), "--facts", str(tmp_path / "no.csv"),
                 "--period", "2026-13")  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "--period: 2026-13: '2026-13' is not a period: use a month (2026-08) or a quarter (2026-Q3)",
        f"{tmp_path / 'no-policies'}: no such file or folder",
        f"{tmp_path / 'no.csv'}: cannot read: No such file or directory",
        "3 problems found",
    ]


def test_diff_reports_both_broken_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n", encoding="utf-8")
    proc = merit("diff", str(broken), str(tmp_path / "missing.yaml"))
    assert proc.returncode == 1
    assert str(broken) in proc.stderr and f"{tmp_path / 'missing.yaml'}: cannot read" in proc.stderr
    assert "2 problems found" in proc.stderr


def test_names_are_shown_as_text_never_as_markup_or_terminal_codes(tmp_path: Path) -> None:
    facts = tmp_path / "odd-names.csv"
    facts.write_text(
        "rep_id,name,region,period,target,actual\nA,[/],East,2026-08,100,90\nB,\x1b[31mEvil,[bold]West,2026-08,100,90\n",
        "utf-8",
    )
    proc = merit("evaluate", "--policy", str(LIBRARY), "--facts", str(facts), "--period", "2026-08")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^A +\[/\] ", proc.stdout, re.M) and "\\x1b[31mEvil" in proc.stdout and "\x1b" not in proc.stdout
    assert "[bold]West: reps 1" in proc.stdout
