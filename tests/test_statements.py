"""Rep statements (提成确认单) and the 公示 notice for the shipped example, checked against figures
worked out by hand from examples/facts-2026-Q3.csv and the 2026-Q3 handbook (tiers >= 80% 1.5%,
>= 100% 2% + ¥1,000, >= 120% 3% + ¥3,000; lights red < 80% <= yellow <= 100% < green), in the
HTML, in the text and in the text pdftotext reads back out of the PDF."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engine.evaluation import evaluate
from engine.facts import load_facts
from engine.statement import statement_of
from runtime.policies import load_library
from service.statements.document import to_html, to_pdf, to_text
from service.statements.notice import Publication, notice_document
from service.statements.wording import statement_document
from service.statements.workdays import publication_deadline

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "policies" / "sales-incentive"
FACTS = REPO / "examples" / "facts-2026-Q3.csv"


def evaluation(period: str):  # type: ignore[no-untyped-def]
    lib = load_library(str(POLICY))
    policy = lib.for_period(period)
    return evaluate(lib, load_facts(FACTS.read_bytes(), str(FACTS), policy.numeric_columns), period)


def statement(period: str, rep: str):  # type: ignore[no-untyped-def]
    ev = evaluation(period)
    return statement_of(ev.policy, next(ln for ln in ev.results if ln.rep_id == rep))


def html_text(page: str) -> str:
    """The visible text of an HTML page, one block per line (tags dropped, entities decoded)."""
    body = page.split("<body>", 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", "\n", body))


def squeeze(text: str) -> str:
    """Text with all white space removed: pdftotext lays tables out with spaces of its own."""
    return re.sub(r"\s+", "", text)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


# ------------------------------------------------------------------ the statement's figures
def test_r004_august_hand_checked() -> None:
    # 刘洋 August: 181071.36 / 226339.20 = 0.80 exactly -> yellow, basic tier (1.5%):
    # 1.5% x 181071.36 = 2716.0704 -> 2716.07, no bonus.
    # Next tier (advanced, >= 100%): 226339.20 - 181071.36 = 45267.84 more.
    # Next light (green, > 100%): the least cent above 226339.20 is 226339.21 -> 45267.85 more.
    s = statement("2026-08", "R004")
    assert s.commission is not None and s.commission.tier_label == "基础达标奖"
    assert str(s.commission.commission) == "2716.07" and str(s.commission.uncapped) == "2716.07"
    assert s.light is not None and s.light.label == "黄灯"
    steps = {(n.kind, n.label): str(n.gap) for n in s.next_steps}
    assert steps == {("tier", "进阶激励奖"): "45267.84", ("light", "绿灯"): "45267.85"}
    assert str(s.over_target) == "-45267.84"


def test_r001_august_text_in_chinese() -> None:
    # 张伟 August: 840000 / 800000 = 105% -> green, advanced: 2% x 840000 = 16800 + bonus 1000 = 17800.
    # Highest actual of August (840000) -> 月度销售之星 (an honour, no money).
    # Next tier sprint at 120%: 1.2 x 800000 = 960000 - 840000 = 120000.
    # Score: 1.05/1.00 x 50% = 52.5 + (756000/840000 = 0.90)/0.90 x 20% = 20 + 9/5 capped at 150% x 20% = 30
    #        + 51/40 capped at 120% x 10% = 12 -> 114.50 -> A (>= 110).
    text = to_text(statement_document(statement("2026-08", "R001"), "zh-CN"))
    for expected in (
        "提成确认单",
        "姓名: 张伟",
        "目标 ¥800,000.00，实际完成 ¥840,000.00。",
        "超出目标 ¥40,000.00。",
        "达成率 achievement 105%：绿灯。",
        "达成率 achievement 105%，达到进阶激励奖（≥ 100%, < 120%）。",
        "提成：¥840,000.00 × 2% = ¥16,800.00。",
        "奖金：¥1,000.00。",
        "月度销售之星（2026-08）：荣誉，不含奖金。",
        "得分 114.50，评级 A。",
        "晋升答辩优先 promotion review：按季度结果评定。",
        "再完成 ¥120,000.00 即达冲刺卓越奖（3% + ¥3,000）。",
        "提成 ¥16,800.00 + 奖金 ¥1,000.00 + 奖励 ¥0.00 = ¥17,800.00。",
    ):
        assert expected in text, expected


def test_r008_august_the_handbook_sentence() -> None:
    # 黄勇 August: 232500 / 250000 = 93% -> basic; 250000 - 232500 = 17500 to advanced (2% + ¥1,000).
    text = to_text(statement_document(statement("2026-08", "R008"), "zh-CN"))
    assert "再完成 ¥17,500.00 即达进阶激励奖（2% + ¥1,000）。" in text
    assert "再完成 ¥17,500.01 即达绿灯。" in text  # green is > 100%: one cent more


def test_r005_exactly_on_target_is_one_cent_from_green() -> None:
    # 陈静 August: 500000 / 500000 = 100% exactly: yellow (to 100% inclusive) yet advanced (from 100%).
    text = to_text(statement_document(statement("2026-08", "R005"), "en"))
    assert "CN¥0.01 more reaches 绿灯." in text
    assert "CN¥100,000.00 more reaches 冲刺卓越奖 (3% + CN¥3,000)." in text  # 600000 - 500000
    assert "Commission: CN¥500,000.00 × 2% = CN¥10,000.00." in text


def test_quarter_statement_top3_and_promotion_review() -> None:
    # Q3 actual: R001 832000+840000+632000 = 2304000, R012 560000+560000+448000 = 1568000,
    # R009 655000+416000+480000 = 1551000, R002 720000+450000+372000 = 1542000 -> 徐强 (R012) 2nd: ¥3,000.
    # 徐强 has no red month (112%, 112%, 112%) and is in the top 10 -> promotion review.
    # Money: July 2% x 560000 = 11200 + 1000; August the same; September 2% x 448000 = 8960 + 1000;
    # North in July: (237000+280000+655000+560000) / (300000+250000+500000+500000) = 1732000/1550000 >= 110%
    # -> 团队协作奖 ¥500 (July). Total 11200+11200+8960 + 3000 + 500 + 3000 = 37860.
    text = to_text(statement_document(statement("2026-Q3", "R012"), "zh-CN"))
    assert "季度TOP3（2026-Q3）第 2 名：¥3,000.00。" in text
    assert "团队协作奖（2026-07）：¥500.00。" in text
    assert "晋升答辩优先 promotion review：符合。" in text
    assert "提成 ¥31,360.00 + 奖金 ¥3,000.00 + 奖励 ¥3,500.00 = ¥37,860.00。" in text


# ------------------------------------------------------------------ the same sentences in every format
def test_html_and_pdf_say_the_same_as_the_text(tmp_path: Path) -> None:
    doc = statement_document(statement("2026-08", "R004"), "zh-CN")
    page = to_html(doc)
    assert '<html lang="zh-CN">' in page
    shown = html_text(page)
    pdf = pdf_text(to_pdf(doc), tmp_path)
    for expected in (
        "刘洋",
        "目标 ¥226,339.20，实际完成 ¥181,071.36。",
        "提成：¥181,071.36 × 1.5% = ¥2,716.07。",
        "再完成 ¥45,267.84 即达进阶激励奖（2% + ¥1,000）。",
        "再完成 ¥45,267.85 即达绿灯。",
    ):
        assert expected in shown, expected
        assert squeeze(expected) in squeeze(pdf), expected


def test_pdf_embeds_its_cjk_font_and_is_reproducible(tmp_path: Path) -> None:
    doc = statement_document(statement("2026-08", "R001"), "zh-CN")
    first, second = to_pdf(doc), to_pdf(doc)
    assert first == second  # same statement, same bytes
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) is not installed")
    path = tmp_path / "s.pdf"
    path.write_bytes(first)
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk and all(" yes " in line for line in cjk), fonts  # embedded


# ------------------------------------------------------------------ the notice
def test_notice_lists_tiers_honours_and_the_deadline(tmp_path: Path) -> None:
    # Published 2026-10-09 02:00 UTC = 10:00 in Shanghai; objections until 2026-10-12 10:00 there.
    # Figures closed 2026-09-30: National Day 10-01..10-07 is off, 10-08 (Thu), 10-09 (Fri) and the
    # adjusted working Saturday 10-10 are the three working days -> publish by 2026-10-10.
    ev = evaluation("2026-Q3")
    pub = Publication(
        7,
        datetime(2026, 10, 9, 2, tzinfo=UTC),
        datetime(2026, 10, 12, 2, tzinfo=UTC),
        date(2026, 9, 30),
        "Asia/Shanghai",
    )
    doc = notice_document(ev, pub, "zh-CN", hr=True)
    text = to_text(doc)
    for expected in (
        "2026-Q3 销售激励结果公示",
        "异议截止: 2026-10-12 10:00 (Asia/Shanghai)",
        "季度TOP3（2026-Q3）：第 1 名 张伟（R001）、第 2 名 徐强（R012）、第 3 名 周杰（R009）",
        "月度销售之星（2026-08）：第 1 名 张伟（R001）",
        "最迟 2026-10-10",
        "计入（周末调休上班日）：2026-10-10。",
        "实际公示日 2026-10-09：按时。",
    ):
        assert expected in text, expected
    pdf = pdf_text(to_pdf(doc), tmp_path)
    assert squeeze("第 2 名 徐强（R012）") in squeeze(pdf)
    assert "Emily Chen" in pdf
    manager = to_text(notice_document(ev, pub, "zh-CN", hr=False, reps={"R001", "R004"}))
    assert "公示时限" not in manager and "徐强" not in manager and "刘洋" in manager


def test_publication_deadline_across_national_day() -> None:
    # closed Wed 2026-09-30 -> Thu 10-08, Fri 10-09, Sat 10-10 (调休上班) -> 2026-10-10
    d = publication_deadline(date(2026, 9, 30))
    assert d.due == date(2026, 10, 10)
    assert [day.day for day, _ in d.skipped_holidays] == [1, 2, 3, 4, 5, 6, 7]
    assert d.adjusted_workdays == (date(2026, 10, 10),)
    # closed Fri 2026-09-04 -> Mon 09-07, Tue 09-08, Wed 09-09 (a plain weekend skipped)
    assert publication_deadline(date(2026, 9, 4)).due == date(2026, 9, 9)


def test_publication_deadline_in_an_unknown_year_is_not_guessed() -> None:
    d = publication_deadline(date(2099, 12, 30))
    assert d.due is None and d.unknown_year == 2099


# ------------------------------------------------------------------ the command line
def merit(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=REPO, capture_output=True, check=False)


def test_cli_statement_all_into_a_folder(tmp_path: Path) -> None:
    out = tmp_path / "statements"
    common = ("statement", "--policy", str(POLICY), "--facts", str(FACTS), "--period", "2026-08")
    done = merit(*common, "--all", "--output", str(out), "--format", "text", "--lang", "en")
    assert done.returncode == 0, done.stderr.decode()
    assert sorted(p.name for p in out.iterdir()) == [f"R{n:03d}-2026-08.txt" for n in range(1, 13)]
    assert "Commission: CN¥840,000.00 × 2% = CN¥16,800.00." in (out / "R001-2026-08.txt").read_text("utf-8")
    single = merit(*common, "--rep", "R002")  # html by default, to stdout
    assert single.returncode == 0
    assert "再完成 ¥30,000.00 即达基础达标奖（1.5%）。" in single.stdout.decode()  # 0.8 x 600000 - 450000


def test_cli_statement_refuses_unknown_reps_and_mismatched_formats(tmp_path: Path) -> None:
    common = ("statement", "--policy", str(POLICY), "--facts", str(FACTS), "--period", "2026-08")
    done = merit(*common, "--rep", "R404", "--rep", "R405")
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "--rep: R404: has no result for 2026-08" in err and "R405" in err and "Traceback" not in err
    done = merit(*common, "--rep", "R001", "--format", "pdf", "--output", str(tmp_path / "s.html"))
    assert done.returncode == 1 and not (tmp_path / "s.html").exists()
    assert "--all" in merit("statement", "--help").stdout.decode()


# ------------------------------------------------------------------ the catalogue
def test_every_fixed_text_has_a_chinese_translation() -> None:
    """Every message the wording modules pass to the catalogue (`_(...)`, `say(...)`) and every
    holiday name the calendar can give is translated in zh_CN, with the same placeholders."""
    import chinese_calendar
    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    po = REPO / "service" / "statements" / "locale" / "zh_CN" / "LC_MESSAGES" / "merit.po"
    with po.open("rb") as fp:
        catalog = read_po(fp)
    used: set[str] = {h.value for h in chinese_calendar.Holiday}
    for module in ("wording.py", "notice.py"):
        path = REPO / "service" / "statements" / module
        for _line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords={"_": None, "say": None}
        ):
            used.add(message)
    missing = sorted(m for m in used if not (catalog.get(m) and catalog.get(m).string))
    assert not missing
    for m in used:
        assert sorted(re.findall(r"%\((\w+)\)s", m)) == sorted(re.findall(r"%\((\w+)\)s", catalog.get(m).string)), m
    assert len(used) > 60  # the extraction found the texts (not an empty pass)


# ------------------------------------------------------------------ labels where people read
def test_payroll_components_and_the_table_use_the_policys_labels() -> None:
    # 张伟 August: advanced tier -> commission 16800.00 and bonus 1000.00, both 进阶激励奖 by the policy
    ev = evaluation("2026-08")
    zhang = {(p.component, p.label, str(p.amount)) for p in ev.payout_lines() if p.rep_id == "R001"}
    assert zhang == {("commission", "进阶激励奖", "16800.00"), ("bonus", "进阶激励奖", "1000.00")}
    from rich.console import Console

    from service.render import print_evaluation

    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    print_evaluation(ev, console)
    row = next(line for line in console.export_text().splitlines() if "R001" in line)
    assert "绿灯" in row and "进阶激励奖" in row and "green" not in row and "advanced" not in row


# ------------------------------------------------------------------ other policy shapes
OTHER = """\
id: other
version: v1
effective_from: 2026-07
currency: CNY
rounding: {quantum: "0.01", mode: half-up}
metrics:
  achievement: {label: 达成率, numerator: actual, denominator: target}
warning:
  metric: achievement
  bands:
    - {light: red, label: 红灯, below: "0.80"}
    - {light: green, label: 绿灯, from: "0.80"}
commission:
  basis: achievement
  base: actual
  mode: marginal
  cap: "1500"
  tiers:
    - {id: low, label: 低档, from: "0.80", rate: "0.01"}
    - {id: high, label: 高档, from: "1.00", rate: "0.02", bonus: "500"}
"""


def other_statement(actual: str):  # type: ignore[no-untyped-def]
    from engine.frontend import parse_policy

    policy = parse_policy(OTHER, "other.yaml")
    csv = f"rep_id,name,region,period,target,actual\nR1,甲,East,2026-08,100000.00,{actual}\n".encode()
    ev = evaluate(policy, load_facts(csv, "f.csv"), "2026-08")
    return statement_of(policy, ev.results[0])


def test_next_tier_in_another_policy() -> None:
    # 95000 / 100000 = 95%: 低档 (80%..100%); the next is 高档, 100000 - 95000 = 5000 more.
    # Marginal: 95000 x (0.95 - 0.80) / 0.95 = 15000 at 1% = 150.00.
    s = other_statement("95000.00")
    assert s.commission is not None and s.commission.tier_id == "low" and str(s.commission.commission) == "150.00"
    assert [(n.label, str(n.gap)) for n in s.next_steps] == [("高档", "5000.00")]
    # the top light (绿灯 from 80%) has nothing above it
    assert "再完成 ¥5,000.00 即达高档（2% + ¥500）。" in to_text(statement_document(s, "zh-CN"))


def test_marginal_slices_and_the_cap_in_the_statement() -> None:
    # 150000 / 100000 = 150%: 低档's slice 80%..100% of the basis is 150000 x 0.20 / 1.5 = 20000 at 1%
    # = 200; 高档's 100%..150% is 150000 x 0.50 / 1.5 = 50000 at 2% = 1000; 200 + 1000 = 1200 (under
    # the cap of 1500); bonus 500.
    s = other_statement("150000.00")
    text = to_text(statement_document(s, "zh-CN"))
    assert "提成（分段累进，每段按其档位比例）：¥20,000.00 × 1% + ¥50,000.00 × 2% = ¥1,200.00。" in text
    # 250000 / 100000 = 250%: 250000 x 0.20 / 2.5 = 20000 at 1% = 200; 250000 x 1.5 / 2.5 = 150000 at 2%
    # = 3000; 3200 capped at 1500.
    text = to_text(statement_document(other_statement("250000.00"), "zh-CN"))
    assert "¥20,000.00 × 1% + ¥150,000.00 × 2% = ¥3,200.00。" in text and "封顶后为 ¥1,500.00。" in text
    assert "提成 ¥1,500.00 + 奖金 ¥500.00 + 奖励 ¥0.00 = ¥2,000.00。" in text


def test_an_honour_for_the_top_two_names_no_position() -> None:
    # 月度之星 goes to the top 2 by actual: 乙 130000 and 甲 120000 (丙 90000 is third), no positions said
    from engine.frontend import parse_policy

    star = "{id: star, label: 月度之星, kind: honour, period: month, rank_by: actual, top: 2, ties: same_rank}"
    text = f"{OTHER}awards:\n  - {star}\n"
    policy = parse_policy(text, "other.yaml")
    csv = (
        "rep_id,name,region,period,target,actual\n"
        "R1,甲,East,2026-08,100000.00,120000.00\nR2,乙,East,2026-08,100000.00,130000.00\n"
        "R3,丙,East,2026-08,100000.00,90000.00\n"
    ).encode()
    ev = evaluate(policy, load_facts(csv, "f.csv"), "2026-08")
    assert [a.position for a in statement_of(policy, ev.results[0]).awards] == [None]
    published = datetime(2026, 9, 1, 2, tzinfo=UTC)
    pub = Publication(1, published, published, date(2026, 8, 31), "Asia/Shanghai")
    notice = to_text(notice_document(ev, pub, "zh-CN", hr=False))
    assert "月度之星（2026-08）：甲（R1）、乙（R2）" in notice
