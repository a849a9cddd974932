"""The probe report in a real headless browser: every embedded plot decodes and the page is not blank.

Uses Debian's chromium (``apt-get install chromium``) and skips without it. ``run_chromium`` and
``rendered_plot_counts`` are module-level so end-to-end tests can reuse them on a real report.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scriptbridge.evaluate import plots
from scriptbridge.evaluate.report import ReportFigure, write_report

sys.path.insert(0, str(Path(__file__).parent))
from test_probe_report import synthetic_points, synthetic_result  # noqa: E402

SKIP_MSG = (
    "Debian chromium is not installed (make test installs it with apt-get when it can: "
    "apt-get install chromium); browser test skipped"
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(args: list[str], tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run headless chromium with ``args`` appended; skip the calling test when it is not installed.

    A throwaway profile and HOME under ``tmp_path`` keep it from touching the user's browser state,
    and the ``--disable-*`` flags stop it phoning home, which also keeps it fast offline.
    """
    exe = chromium_path()
    if exe is None:
        pytest.skip(SKIP_MSG)
    home = tmp_path / "chromium-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home), "XDG_CACHE_HOME": str(home)}
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",  # containers/CI run as root, where the sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--no-first-run",
        "--mute-audio",
        f"--user-data-dir={home / 'profile'}",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def rendered_plot_counts(html_path: Path, tmp_path: Path) -> tuple[int, int]:
    """(plots rendered, plots expected) as the report's own load handler wrote them into the DOM."""
    proc = run_chromium(["--dump-dom", Path(html_path).resolve().as_uri()], tmp_path)
    body = re.search(r"<body\b[^>]*>", proc.stdout)
    assert body, f"chromium dumped no <body> (rc={proc.returncode}): {proc.stderr[-2000:]}"
    got = dict(re.findall(r'data-plots-(rendered|expected)="(\d+)"', body.group(0)))
    assert set(got) == {"rendered", "expected"}, f"load handler did not run: {body.group(0)!r}"
    return int(got["rendered"]), int(got["expected"])


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    if chromium_path() is None:
        pytest.skip(SKIP_MSG)
    res = synthetic_result(4, n_pairs=120)
    figs = [
        ReportFigure("retrieval", "Retrieval by layer", "top-1 both ways", plots.retrieval_chart(res)),
        ReportFigure(
            "similarity", "Similarity", "matched vs random", plots.similarity_histograms(res, [0, 3])
        ),
        ReportFigure(
            "projection", "t-SNE", "pairs", plots.projection_plot(synthetic_points([0, 3], 40), "eng", "hin")
        ),
    ]
    return write_report(tmp_path_factory.mktemp("report") / "report.html", res, figs)


def test_every_plot_renders_in_chromium(report_html, tmp_path):
    rendered, expected = rendered_plot_counts(report_html, tmp_path)
    assert expected == 3
    assert rendered == expected


def test_screenshot_is_not_blank(report_html, tmp_path):
    from matplotlib import image as mpimg

    shot = tmp_path / "shot.png"
    proc = run_chromium([f"--screenshot={shot}", "--window-size=1280,2000", report_html.as_uri()], tmp_path)
    assert shot.exists(), f"no screenshot (rc={proc.returncode}): {proc.stderr[-2000:]}"
    img = mpimg.imread(shot)
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    assert float(np.std(img[..., :3])) > 0.05, "screenshot is (nearly) uniform: nothing rendered"
