"""Benchmark: how right `cacheprof advise` is on the corpus (fixtures/advise-corpus), and how fast.

    python benchmarks/bench_advise.py [--corpus DIR] [--json]

Every case's expected findings (expected.json) were written before the tool ran on it. A finding counts as
right when its rule, line and related line match an expected one. Prints, with n beside every figure:
recall (expected findings found), precision (findings that are expected), clean files with any finding,
rewrites offered where the expert said one is safe / refused where not, and the analysis time per case
(best of 3, scan of the context included). Recall and precision per rule follow.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cacheprof.advise.rules import find_problems  # noqa: E402
from cacheprof.advise.scan import scan_context  # noqa: E402
from cacheprof.dockerfile import parse_text  # noqa: E402


def _pct(a: int, b: int) -> str:
    return f"{a / b:.1%} ({a} of {b})" if b else "n/a (0)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "fixtures" / "advise-corpus")
    ap.add_argument("--json", action="store_true", help="one JSON document instead of the table")
    opts = ap.parse_args()
    cases = sorted(p for p in opts.corpus.iterdir() if p.is_dir())
    exp_n = Counter()
    hit_n = Counter()
    got_n = Counter()
    clean = clean_flagged = 0
    fix_expected = fix_offered = unsafe_offered = fix_refused_ok = no_fix_expected = 0
    times: list[float] = []
    for case in cases:
        text = (case / "Dockerfile").read_text()
        expected = json.loads((case / "expected.json").read_text())
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            findings = find_problems(parse_text(text, str(case / "Dockerfile")), scan_context(case / "context"))
            best = min(best, time.perf_counter() - t0)
        times.append(best)
        got = {(f.rule, f.line, f.related_line): f for f in findings}
        for f in findings:
            got_n[f.rule] += 1
        if expected["clean"]:
            clean += 1
            clean_flagged += bool(findings)
        for e in expected["findings"]:
            k = (e["rule"], e["line"], e["related_line"])
            exp_n[e["rule"]] += 1
            f = got.get(k)
            if f is not None:
                hit_n[e["rule"]] += 1
            if e["fix"]:
                fix_expected += 1
                fix_offered += f is not None and f.fix is not None
            else:
                no_fix_expected += 1
                unsafe_offered += f is not None and f.fix is not None
                fix_refused_ok += f is not None and f.fix is None
    hits, exp, got = sum(hit_n.values()), sum(exp_n.values()), sum(got_n.values())
    times.sort()
    doc = {
        "cases": len(cases), "clean_cases": clean, "expected_findings": exp, "findings": got,
        "recall": hits / exp if exp else None, "precision": hits / got if got else None,
        "clean_with_findings": clean_flagged, "rewrites_expected": fix_expected, "rewrites_offered": fix_offered,
        "rewrites_offered_where_unsafe": unsafe_offered, "refusals_expected": no_fix_expected,
        "median_ms_per_case": round(1000 * times[len(times) // 2], 2), "max_ms_per_case": round(1000 * times[-1], 2),
        "per_rule": {r: {"expected": exp_n[r], "found_right": hit_n[r], "findings": got_n[r]} for r in sorted(exp_n)},
    }
    if opts.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"corpus: {len(cases)} cases ({clean} clean), {exp} expected findings")
    print(f"recall:    {_pct(hits, exp)}")
    print(f"precision: {_pct(hits, got)}")
    print(f"clean files with a finding: {clean_flagged} of {clean}")
    print(f"rewrites offered where safe: {_pct(fix_offered, fix_expected)}")
    print(f"rewrites offered where not safe: {unsafe_offered} of {no_fix_expected}")
    print(f"time per case (best of 3, scan included): median {doc['median_ms_per_case']} ms, "
          f"max {doc['max_ms_per_case']} ms, n={len(cases)}")
    for r in sorted(exp_n):
        print(f"  {r:20s} recall {_pct(hit_n[r], exp_n[r]):24s} precision {_pct(hit_n[r], got_n[r])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
