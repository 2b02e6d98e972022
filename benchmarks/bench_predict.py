"""Prediction vs reality over the whole advise corpus and the fixtures, on the real daemon.

For every case: build its offline variant (tests/predict_harness.py) cold, warm, under each default
edit and a fresh value of every declared ARG, and compare the steps `advise --changed` predicts to
re-run with the steps the builder re-ran. A case whose cold build fails cannot be checked and is counted
apart (`not buildable`). Prints per builder: scenarios checked, agreement, and every disagreement.

    python benchmarks/bench_predict.py [--builder buildkit,classic] [--jsonl OUT] [CASE_DIR ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cacheprof.model import Builder  # noqa: E402
from tests.predict_harness import check_case, make_case, unique_base  # noqa: E402


def cases(args: list[str]) -> list[Path]:
    if args:
        return [Path(a) for a in args]
    corpus = sorted(p for p in (ROOT / "fixtures" / "advise-corpus").iterdir() if (p / "Dockerfile").is_file())
    return [ROOT / "fixtures" / "python-app", ROOT / "fixtures" / "multistage", *corpus]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--builder", default="buildkit,classic")
    ap.add_argument("--jsonl", type=Path)
    ap.add_argument("cases", nargs="*")
    o = ap.parse_args()
    out = o.jsonl.open("a") if o.jsonl else None
    import docker

    client = docker.from_env(timeout=120)
    totals: dict[str, dict[str, int]] = {}
    for case in cases(o.cases):
        for b in (Builder(x) for x in o.builder.split(",")):
            t = totals.setdefault(str(b), {"cases": 0, "unbuildable": 0, "checked": 0, "agree": 0,
                                           "uncertain": 0, "uncertain_agree": 0})
            t["cases"] += 1
            tmp = Path(tempfile.mkdtemp(prefix="cacheprof-bench-predict-"))
            try:
                with unique_base(client) as base:
                    checks = check_case(make_case(case, tmp / "ctx", base), b)
            except Exception as e:  # a Dockerfile this engine cannot build at all
                checks, err = [], str(e).splitlines()[0][:160]
            else:
                err = ""
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            ok = [c for c in checks if c.build_ok]
            if not checks or len(ok) < len(checks):
                t["unbuildable"] += 1
                print(f"{case.name} [{b}]: not buildable offline {err}", flush=True)
                if out:
                    out.write(json.dumps({"case": case.name, "builder": str(b), "buildable": False}) + "\n")
                continue
            for c in ok:
                t["checked"] += 1
                t["agree"] += c.agrees
                if not c.certain:
                    t["uncertain"] += 1
                    t["uncertain_agree"] += c.agrees
                if not c.agrees:
                    print(f"{case.name} [{b}] {c.scenario}: predicted {sorted(c.predicted)} "
                          f"re-ran {sorted(c.actual)}", flush=True)
                if out:
                    out.write(json.dumps({"case": case.name, "builder": str(b), "buildable": True,
                                          "scenario": c.scenario, "agrees": c.agrees, "certain": c.certain,
                                          "predicted": sorted(c.predicted), "actual": sorted(c.actual)}) + "\n")
            print(f"{case.name} [{b}]: {sum(c.agrees for c in ok)}/{len(ok)} scenarios agree", flush=True)
    print()
    for b, t in totals.items():
        rate = t["agree"] / t["checked"] if t["checked"] else float("nan")
        print(f"{b}: {t['cases'] - t['unbuildable']}/{t['cases']} cases buildable offline; "
              f"{t['agree']}/{t['checked']} scenarios agree ({rate:.1%}); of them {t['uncertain_agree']}/"
              f"{t['uncertain']} rest on a re-run stage's output changing")
    if out:
        out.close()


if __name__ == "__main__":
    main()
