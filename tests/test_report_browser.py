"""The HTML report rendered by a real headless browser (Debian's chromium)."""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

pytest_plugins = ["pytester"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The machine's network is closed: without these flags chromium keeps trying to reach
# Google's services. --no-sandbox because CI runs as root.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium; .ci/run installs it")
def test_the_report_renders_with_its_verdict_matrix(pytester: pytest.Pytester) -> None:
    out = pytester.path / "report"
    pytester.runpytest_inprocess(
        "--offload-target=tests.broken_targets:break_capacity",
        "--offload-rules=INI-CAPACITY,INI-NO-RAISE,INI-DEPTH-FIRST",
        "--offload-seed=3",
        f"--offload-report={out}",
        "-p",
        "no:cacheprovider",
    )
    page = (out / "report.html").as_uri()
    shot = pytester.path / "report.png"
    done = chromium(
        pytester.path / "profile", f"--screenshot={shot}", "--window-size=1200,900", page
    )
    assert shot.exists(), done.stderr[-2000:]
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000  # a rendered table and text, not a blank page
    dom = chromium(pytester.path / "profile2", "--dump-dom", page).stdout
    assert 'id="verdict-matrix"' in dom
    assert dom.count("<tr><td><code>INI-") == 3
    assert 'class="failed">failed</td>' in dom
    assert 'id="overall-verdict">NOT CONFORMANT<' in dom
    assert '<table class="tree">' in dom  # the minimal tree, drawn
    assert '<tr class="flagged">' in dom  # with the offending block marked
