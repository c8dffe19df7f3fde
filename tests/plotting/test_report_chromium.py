"""The demo's report.html renders in a real browser: every image decodes, the page has text.

Uses Debian's headless ``chromium`` (``.ci/run`` installs it); skipped when it is absent.
A copy of the page gets a small script that records, after the load event, how many
``<img>`` elements decoded (``naturalWidth > 0``) as attributes of ``<body>``, read back with
``--dump-dom``; a screenshot checks that the rendered page is not blank. The report itself
has no script (it is checked to be self-contained elsewhere).
"""

import re
import shutil
import subprocess

import numpy as np
import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--virtual-time-budget=15000"]
PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var b = document.body;
  b.setAttribute("data-n-images", imgs.length);
  b.setAttribute("data-n-decoded", ok.length);
  b.setAttribute("data-min-width", Math.min.apply(null, ok.map(function (i) {
    return i.naturalWidth; }).concat([1e9])));
  b.setAttribute("data-text-length", b.innerText.trim().length);
  b.setAttribute("data-height", b.scrollHeight);
});
</script>
"""


def _browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from kpflow_sk._cli.demo import run_demo

    out = tmp_path_factory.mktemp("report")
    import io

    run_demo(out, quick=True, progress=False, stream=io.StringIO(), n_threads=1)
    return out / "report.html"


def _chromium(browser, profile, *args, timeout=180):
    proc = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout)
    return proc


def test_report_renders_with_every_image_decoded(report, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no chromium on this machine (.ci/run installs it: apt-get install "
                    "chromium)")
    page = report.read_text(encoding="utf-8")
    n_img = page.count("<img ")
    assert n_img >= 8 and "<script" not in page
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = _chromium(browser, tmp_path / "profile-dom", "--dump-dom", probed.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", proc.stdout)
    assert body, proc.stdout[:2000]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert int(attrs["n-images"]) == n_img
    assert int(attrs["n-decoded"]) == n_img          # every image loaded and decoded
    assert int(attrs["min-width"]) >= 300            # real figures, not 1-pixel stubs
    assert int(attrs["text-length"]) > 2000          # headline, glossary, captions
    assert int(attrs["height"]) > 3000
    # the headline comes first, the configuration last
    text = proc.stdout
    assert text.index("Summary") < text.index("What the measures mean") < \
        text.index("Figures") < text.index("Configuration")


def test_report_screenshot_is_not_blank(report, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no chromium on this machine")
    from matplotlib.image import imread

    shot = tmp_path / "shot.png"
    proc = _chromium(browser, tmp_path / "profile-shot", f"--screenshot={shot}",
                     "--window-size=1280,2400", report.as_uri())
    assert shot.is_file(), proc.stderr[-2000:]
    img = imread(shot)[..., :3]
    assert img.shape[0] >= 2000 and img.shape[1] >= 1200
    # not blank: many distinct colours and a fair share of non-white pixels
    non_white = (img < 0.95).any(axis=-1).mean()
    assert non_white > 0.05
    assert len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50
