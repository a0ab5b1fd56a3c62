"""``pytest-offload verify``: integrity, reproduction, tampering, unreadable input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_offload.cli import main
from pytest_offload.report import certificate_hash

pytest_plugins = ["pytester"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def certificate(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A certificate of a small run with a failing rule, as written by the plugin."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the re-run imports tests.broken_targets
    out = pytester.path / "report"
    pytester.runpytest_inprocess(
        "--offload-target=tests.broken_targets:break_capacity",
        "--offload-rules=INI-CAPACITY,INI-NO-RAISE",
        "--offload-seed=5",
        "--offload-budget=quick",
        f"--offload-report={out}",
        "-p",
        "no:cacheprovider",
    )
    return out / "certificate.json"


def rewrite(path: Path, change: dict[str, Any], *, rehash: bool) -> None:
    cert = json.loads(path.read_text())
    cert.update(change)
    if rehash:
        cert["sha256"] = certificate_hash(cert)
    path.write_text(json.dumps(cert))


def test_a_fresh_certificate_verifies_and_reproduces(
    certificate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(certificate)]) == 0
    out = capsys.readouterr().out
    assert "ok   integrity" in out
    assert "ok   reproduced: 2 rule verdicts and NOT CONFORMANT" in out


def test_a_tampered_certificate_fails_its_hash(
    certificate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rewrite(certificate, {"verdict": "CONFORMANT"}, rehash=False)
    assert main(["verify", "--no-rerun", str(certificate)]) == 1
    assert "FAIL hash: the content does not match its sha256" in capsys.readouterr().out


def test_a_rehashed_false_claim_fails_to_reproduce(
    certificate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = json.loads(certificate.read_text())
    for rule in cert["rules"]:
        rule["verdict"] = "passed"
    rewrite(certificate, {"rules": cert["rules"], "verdict": "CONFORMANT"}, rehash=True)
    assert main(["verify", str(certificate)]) == 1
    out = capsys.readouterr().out
    assert "FAIL reproduce: INI-CAPACITY: certified passed, re-run failed" in out
    assert "FAIL reproduce: overall: certified CONFORMANT, re-run NOT CONFORMANT" in out


def test_a_certificate_outside_the_schema_is_reported(
    certificate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rewrite(certificate, {"verdict": "GREAT"}, rehash=True)
    assert main(["verify", "--no-rerun", str(certificate)]) == 1
    assert "FAIL schema: verdict: 'GREAT' is not one of" in capsys.readouterr().out


def test_an_unreadable_certificate_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.json"
    assert main(["verify", str(missing)]) == 2
    assert "cannot read" in capsys.readouterr().err
