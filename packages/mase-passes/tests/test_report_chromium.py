"""report.html is self-contained: opened alone (no PNG beside it) in headless Chromium, every figure
loads from its embedded data: URI (issue 22, item 6). Skipped where Debian's chromium is absent."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mase_passes.report import write_report
from mase_passes.report.content import build

sys.path.insert(0, str(Path(__file__).parent))  # the tests run with --import-mode=importlib
from test_cli_report import results  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium; "
                                                         "tools/bootstrap installs it)")

# Appended to a copy of the page: after load, write what the browser decoded of each <img> into the DOM,
# which --dump-dom prints. complete && naturalWidth > 0 is "loaded" (a broken image has naturalWidth 0).
PROBE = """<script>window.addEventListener("load", () => {
  const seen = Array.from(document.images, i => [i.alt, i.complete && i.naturalWidth > 0, i.naturalWidth,
                                                  i.src.slice(0, 22)]);
  const p = document.createElement("pre"); p.id = "probe"; p.textContent = JSON.stringify(seen);
  document.body.appendChild(p);
});</script>"""


def _png(path: Path, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [1, 0, 2])
    ax.set_title(label)
    fig.savefig(path)
    plt.close(fig)


@pytest.mark.slow
def test_every_figure_of_the_html_report_loads_with_nothing_beside_it(tmp_path):
    res = results()
    figures = [b[1] for b in build(res).blocks if b[0] == "img"]
    assert len(figures) >= 3  # variance, bitwidths, search history / pareto, comparison
    res["files"] = sorted(set(figures))
    art = tmp_path / "artifacts"
    art.mkdir()
    (art / "results.json").write_text(json.dumps(res))
    for name in res["files"]:
        _png(art / name, name)
    report = write_report(art, tmp_path / "report")
    alone = tmp_path / "alone"
    alone.mkdir()
    page = (report / "report.html").read_text()
    assert not re.search(r'<img src="(?!data:)', page)  # nothing is fetched from beside the page
    (alone / "report.html").write_text(page.replace("</body>", PROBE + "</body>"))
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                          "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", (alone / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=120)
    probe = re.search(r'<pre id="probe">(.*?)</pre>', out.stdout, re.S)
    assert probe, f"chromium printed no probe (rc {out.returncode}): {out.stderr[-2000:]}"
    seen = json.loads(probe.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&quot;", '"'))
    assert len(seen) == len(figures)
    for alt, loaded, width, src in seen:
        assert loaded and width == 200, (alt, width)  # figsize 2 in at matplotlib's 100 dpi
        assert src == "data:image/png;base64,"
