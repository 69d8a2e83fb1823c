"""What a statement costs in the service: the first request for a run evaluates its stored inputs
again (with explanations); later ones find the evaluation kept. Each document then compares the
lines it shows with the stored results (`service.statements.runsource.same_as_stored`).

    PYTHONPATH=. python bench/statements.py --reps 10000

prints, for one month of N synthetic reps: the evaluation (the reference; what the first request
of a run pays), what hashing the whole results JSON with explanations would add (the check not
taken), comparing one line whole (a statement) and every line's decisions (a notice), and one
rep's statement as HTML and as PDF.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import write_facts

from engine.evaluation import evaluate
from engine.facts import load_facts
from engine.results import line_dict
from engine.statement import statement_of
from runtime.policies import load_library
from service.statements.document import to_html, to_pdf
from service.statements.runsource import decisions_of
from service.statements.wording import statement_document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10000, help="synthetic reps (one month each)")
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[1]
    lib = load_library(str(repo / "policies" / "sales-incentive"))
    policy = lib.for_period("2026-08")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "facts.csv"
        write_facts(path, args.reps, months=("2026-08",))
        facts = load_facts(path.read_bytes(), str(path), policy.numeric_columns)
    t = time.perf_counter()
    evaluate(policy, facts, "2026-08")
    plain = time.perf_counter() - t
    ev = evaluate(policy, facts, "2026-08")
    t = time.perf_counter()
    hashlib.sha256(ev.to_json_bytes()).hexdigest()
    whole_json = time.perf_counter() - t
    line = ev.results[len(ev.results) // 2]
    t = time.perf_counter()
    json.loads(json.dumps(line_dict(line), ensure_ascii=False))
    one_line = time.perf_counter() - t
    t = time.perf_counter()
    for ln in ev.results:
        decisions_of(ln)
    decisions = time.perf_counter() - t
    t = time.perf_counter()
    doc = statement_document(statement_of(policy, line), "zh-CN")
    to_html(doc)
    html_s = time.perf_counter() - t
    t = time.perf_counter()
    to_pdf(doc)
    pdf_s = time.perf_counter() - t
    print(
        f"reps {args.reps}: evaluate {plain:.2f} s (reference, first document of a run); whole results JSON + "
        f"sha256 would add {whole_json:.2f} s; compare one line {one_line * 1000:.1f} ms, every line's decisions "
        f"{decisions * 1000:.0f} ms; one statement html {html_s * 1000:.0f} ms, pdf {pdf_s:.2f} s"
    )


if __name__ == "__main__":
    main()
