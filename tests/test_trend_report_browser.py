"""The trend report in headless Chromium: it opens offline, every chart loads, and a cache regression
shows in the step x run grid as a colour change (computed style, not class names)."""

from __future__ import annotations

import re
import subprocess

import pytest

from cacheprof.store.history_db import open_history

from .history_helpers import simple_run
from .test_profile_docker import run_cli
from .test_report_browser import chromium

pytestmark = pytest.mark.browser

PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var loaded = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var row = document.querySelector("table.grid tbody tr:nth-child(2)");
  var colours = Array.prototype.slice.call(row.querySelectorAll("td")).map(function (td) {
    return getComputedStyle(td).backgroundColor; });
  var out = document.createElement("div");
  out.id = "probe";
  out.textContent = "images-loaded=" + loaded + " images-total=" + imgs.length + " step=" +
    row.querySelector("th").textContent + " colours=" + colours.join(";");
  document.body.appendChild(out);
});
</script>
"""


def test_trend_report_opens_offline_and_shows_the_cache_regression(tmp_path):
    browser = chromium()
    history = tmp_path / "h.sqlite"
    with open_history(history) as db:
        for n in (1, 2, 3):
            db.add_run(simple_run(n))
        db.add_run(simple_run(4, warm_s=1.6, warm_statuses="CCCRRR"))
    out = tmp_path / "report"
    r = run_cli("history", "report", "--history", str(history), "--out", str(out))
    assert r.returncode == 0, r.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "src=\"http" not in page and "href=\"http" not in page  # self-contained
    probe = out / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000", "--dump-dom",
         probe.as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r"images-loaded=(\d+) images-total=(\d+) step=(.*?) colours=([^<]+)", proc.stdout)
    assert m, f"the probe did not run; stderr: {proc.stderr[-2000:]}"
    loaded, total = int(m.group(1)), int(m.group(2))
    # one hit-rate/cache-saved chart + one duration chart per scenario (cold, warm)
    assert total == 3 and loaded == total
    assert m.group(3) == "L4 RUN install deps"
    colours = m.group(4).split(";")
    assert len(colours) == 4 and len(set(colours[:3])) == 1 and colours[3] != colours[0]
    assert "Regressions in the latest run" in proc.stdout and "RUN install deps" in proc.stdout
