"""report.html in headless Chromium: every chart image loads and the summary is there.

Chromium prints the DOM after a script (injected into a copy of the page) has written what it saw.
Skips without Chromium unless CACHEPROF_REQUIRE_BROWSER=1 (CI), where a missing browser fails.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cacheprof.analysis.profile_stats import analyze
from cacheprof.model import Build, Profile, Step, StepStatus
from cacheprof.render.writer import write_report

pytestmark = pytest.mark.browser

PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var loaded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var out = document.createElement("div");
  out.id = "cacheprof-probe";
  out.textContent = "images-loaded=" + loaded + " images-total=" + imgs.length;
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CACHEPROF_REQUIRE_BROWSER") == "1":
        pytest.fail("CACHEPROF_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def small_profile() -> Profile:
    R, C = StepStatus.RUN, StepStatus.CACHED
    instrs = ["FROM alpine:3.20", "COPY app.sh /app.sh", "RUN sh /app.sh build"]

    def b(scenario: str, repeat: int, statuses: list[StepStatus]) -> Build:
        t, steps = 0.0, []
        for i, (ins, st) in enumerate(zip(instrs, statuses, strict=True)):
            d = (1.0 + i) * (1 + repeat / 10) if st is R else 0.01
            steps.append(Step(i + 1, "0", i + 1, i + 1, ins, st, 50.0 + t, 50.0 + t + d, d))
            t += d
        return Build(scenario, repeat, True, None, t + 0.4, None, tuple(steps), started=50.0)

    builds = [b(s, r, st) for r in range(3) for s, st in
              (("cold", [R, R, R]), ("warm", [C, C, C]), ("edit:app.sh", [C, R, R]))]
    return Profile(builder="buildkit", dockerfile="Dockerfile", context=".", builds=tuple(builds))


def test_report_opens_offline_with_every_chart(tmp_path: Path):
    browser = chromium()
    profile = small_profile()
    out = tmp_path / "report"
    write_report(profile, out, workers=1)
    page = (out / "report.html").read_text(encoding="utf-8")
    n_charts = len(list((out / "charts").glob("*.png")))
    assert n_charts >= 4
    probe = out / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>", 1), encoding="utf-8")

    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000", "--dump-dom",
         probe.as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r"images-loaded=(\d+) images-total=(\d+)", dom)
    assert m, f"the probe did not run; stderr: {proc.stderr[-2000:]}"
    loaded, total = int(m.group(1)), int(m.group(2))
    assert total == n_charts
    assert loaded == total, f"{total - loaded} of {total} chart images did not load"

    summary = analyze(profile).summary
    assert summary.startswith("A change to `app.sh` rebuilds 2 of 3 steps")
    text = html.unescape(re.sub(r"<[^>]+>", "", dom))
    assert summary.replace("`", "") in text
