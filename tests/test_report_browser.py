"""The HTML reports in headless Chromium: every inline SVG chart is drawn, the answer fills the first screen
(1280x800) of the profile, compare and advise reports, and no Markdown backtick shows as text.

Chromium prints the DOM after a script (injected into a copy of the page) has written what it saw.
Skips without Chromium unless CACHEPROF_REQUIRE_BROWSER=1 (CI), where a missing browser fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cacheprof.analysis.compare import compare_profiles
from cacheprof.model import Build, Profile, Step, StepStatus
from cacheprof.render.compare_report import AdviceSection, write_compare_report
from cacheprof.render.writer import write_report

pytestmark = pytest.mark.browser
WIDTH, HEIGHT = 1280, 800

PROBE = """<script>
window.addEventListener("load", function () {
  var svgs = Array.prototype.slice.call(document.querySelectorAll("figure svg"));
  var drawn = svgs.filter(function (s) { var r = s.getBoundingClientRect(); return r.width > 50 && r.height > 20; });
  var answer = document.getElementById("answer");
  var r = answer ? answer.getBoundingClientRect() : null;
  var headline = answer ? answer.querySelector(".headline, .headline") : null;
  var out = document.createElement("div");
  out.id = "cacheprof-probe";
  out.textContent = "svg-drawn=" + drawn.length + " svg-total=" + svgs.length + " imgs=" + document.images.length +
    " answer-top=" + (r ? Math.round(r.top) : -1) + " answer-bottom=" + (r ? Math.round(r.bottom) : -1) +
    " viewport=" + window.innerHeight + " headline=[" + (headline ? headline.textContent : "") + "]" +
    " body-text=[" + document.body.innerText.replace(/\\s+/g, " ") + "]";
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


def browse(page: Path, tmp_path: Path, screenshot: Path | None = None) -> dict[str, str]:
    """Load `page` (with the probe) at 1280x800; what the probe saw, by key."""
    browser = chromium()
    probe = page.with_name("probe-" + page.name)
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--hide-scrollbars", f"--window-size={WIDTH},{HEIGHT}",
              f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000"]
    proc = subprocess.run([*common, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'id="cacheprof-probe">(.*?)</div>', proc.stdout, re.S)
    assert m, f"the probe did not run; stderr: {proc.stderr[-2000:]}"
    import html

    text = html.unescape(m.group(1))
    seen = dict(re.findall(r"(\S+?)=(\[.*?\]|\S+)", text))
    if screenshot is not None:
        shot = subprocess.run([*common, f"--screenshot={screenshot}", page.as_uri()], capture_output=True, text=True,
                              timeout=180)
        assert shot.returncode == 0 and screenshot.is_file(), shot.stderr[-2000:]
    return seen


def check_first_screen(seen: dict[str, str], headline: str) -> None:
    assert int(seen["svg-drawn"]) == int(seen["svg-total"]) > 0, seen
    assert seen["imgs"] == "0"  # no <img>: charts are inline SVG
    # The answer starts and ends on the first screen.
    assert 0 <= int(seen["answer-top"]) < int(seen["answer-bottom"]) <= int(seen["viewport"]), seen
    assert headline in seen["headline"], seen["headline"]
    assert "`" not in seen["body-text"]


def naive_profile(reps: int = 3) -> Profile:
    R, C = StepStatus.RUN, StepStatus.CACHED
    instrs = [(2, "FROM busybox:1.36"), (3, "WORKDIR /app"), (4, "COPY . ."),
              (6, "RUN pip install -r requirements.txt"), (8, 'CMD ["python", "app/main.py"]')]

    def b(scenario: str, repeat: int, statuses: list[StepStatus], run_s: float) -> Build:
        t, steps = 0.0, []
        for i, ((line, ins), st) in enumerate(zip(instrs, statuses, strict=True)):
            d = (run_s if ins.startswith("RUN") else 0.05) if st is R else 0.0
            steps.append(Step(i + 1, "0", i + 1, line, ins, st, 50.0 + t, 50.0 + t + d, d))
            t += d
        return Build(scenario, repeat, True, None, t + 0.3, None, tuple(steps), started=50.0)

    builds = [x for r in range(1, reps + 1) for x in (
        b("cold", r, [C, R, R, R, R], 3.2 + r / 10), b("warm", r, [C] * 5, 0.0),
        b("edit:app/main.py", r, [C, C, R, R, R], 3.1 + r / 10))]
    return Profile(builder="buildkit", dockerfile="Dockerfile.naive", context=".", builds=tuple(builds),
                   scenarios=("cold", "warm", "edit:app/main.py"))


def good_profile(reps: int = 3) -> Profile:
    R, C = StepStatus.RUN, StepStatus.CACHED
    instrs = [(2, "FROM busybox:1.36"), (3, "WORKDIR /app"), (4, "COPY requirements.txt ."),
              (6, "RUN pip install -r requirements.txt"), (8, "COPY app/ ./app/")]

    def b(scenario: str, repeat: int, statuses: list[StepStatus]) -> Build:
        t, steps = 0.0, []
        for i, ((line, ins), st) in enumerate(zip(instrs, statuses, strict=True)):
            d = (3.2 if ins.startswith("RUN") else 0.05) if st is R else 0.0
            steps.append(Step(i + 1, "0", i + 1, line, ins, st, 50.0 + t, 50.0 + t + d, d))
            t += d
        return Build(scenario, repeat, True, None, t + 0.25 + repeat / 100, None, tuple(steps), started=50.0)

    builds = [x for r in range(1, reps + 1) for x in (
        b("cold", r, [C, R, R, R, R]), b("warm", r, [C] * 5), b("edit:app/main.py", r, [C, C, C, C, R]))]
    return Profile(builder="buildkit", dockerfile="Dockerfile", context=".", builds=tuple(builds),
                   scenarios=("cold", "warm", "edit:app/main.py"))


def test_profile_report_answers_on_the_first_screen(tmp_path: Path):
    out = tmp_path / "report"
    write_report(naive_profile(), out, workers=1)
    seen = browse(out / "report.html", tmp_path, tmp_path / "shot.png")
    check_first_screen(seen, "An edit of app/main.py costs")
    assert "RUN pip install (line 6) re-runs because COPY . . (line 4) comes first" in seen["headline"]


def test_compare_report_answers_on_the_first_screen(tmp_path: Path):
    out = tmp_path / "compare"
    out.mkdir()
    write_compare_report(out, compare_profiles(naive_profile(), good_profile()))
    seen = browse(out / "compare.html", tmp_path)
    check_first_screen(seen, "AFTER is")
    assert re.search(r"AFTER is [0-9.]+\u00d7 faster on edit:app/main.py", seen["headline"]), seen["headline"]


def test_advise_report_answers_and_carries_the_proposal(tmp_path: Path):
    out = tmp_path / "advise"
    out.mkdir()
    advice = AdviceSection("Dockerfile.naive", ("[problem] line 4: COPY . . comes before RUN pip install",),
                           "FROM busybox:1.36\nCOPY requirements.txt .\n", "--- a\n+++ b\n")
    import dataclasses

    # advise builds its proposal from a temporary file that is deleted before anyone reads the report.
    gone = "/tmp/cacheprof-advise-x1/Dockerfile.proposed"
    after = dataclasses.replace(good_profile(), dockerfile=gone)
    write_compare_report(out, compare_profiles(naive_profile(), after), advice)
    page = (out / "compare.html").read_text()
    assert "<title>cacheprof advise: Dockerfile.naive</title>" in page
    assert "Proposed Dockerfile" in page and "+++ b" in page and "COPY requirements.txt ." in page
    assert gone not in page and gone not in (out / "compare.md").read_text()
    seen = browse(out / "compare.html", tmp_path)
    check_first_screen(seen, "AFTER is")
