"""Certificate, HTML report and waivers: contents, schema, hash, xdist merge, expiry."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

from pytest_offload.report import catalogue_hash, certificate_hash, load_schema

if TYPE_CHECKING:
    from pathlib import Path

pytest_plugins = ["pytester"]

WAIVERS = """
[[waiver]]
rule = "INI-CAPACITY"
reason = "firmware counts the listener slot; fixed in 2.1"
issue = "https://tracker.example.com/PRJ-1"
expires = 2099-01-01

[[waiver]]
rule = "INI-NO-RAISE"
reason = "left over"
issue = "PRJ-2"
expires = 2020-01-01

[[waiver]]
rule = "INI-DEPTH-FIRST"
reason = "nothing to waive"
issue = "PRJ-3"
expires = 2099-01-01
"""


def validate(certificate: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(
        load_schema(), format_checker=jsonschema.FormatChecker()
    )
    validator.validate(certificate)


def run_with_report(
    pytester: pytest.Pytester, target: str, *args: str
) -> tuple[pytest.RunResult, dict[str, Any], Path]:
    out = pytester.path / "report"
    result = pytester.runpytest_inprocess(
        f"--offload-target={target}",
        "--offload-seed=3",
        f"--offload-report={out}",
        "-p",
        "no:cacheprovider",
        *args,
    )
    certificate = json.loads((out / "certificate.json").read_text())
    return result, certificate, out


def test_a_conformant_run_leaves_a_valid_hashed_certificate_and_a_report(
    pytester: pytest.Pytester,
) -> None:
    result, cert, out = run_with_report(
        pytester,
        "reference_target",
        "--offload-budget=quick",
        "--offload-rules=INI-NO-RAISE,INI-CONTEXT",
    )
    assert result.ret == pytest.ExitCode.OK
    validate(cert)
    assert cert["sha256"] == certificate_hash(cert)
    assert cert["catalogue"]["sha256"] == catalogue_hash()
    assert cert["verdict"] == "CONFORMANT"
    assert cert["complete"] is True
    assert cert["hypothesis"]["seed"] == 3
    assert cert["capabilities"]["tcp_connection_offload_capacity"] == 4
    assert [r["id"] for r in cert["rules"]] == [
        "INI-NO-RAISE",
        "INI-CONTEXT-ON-SUCCESS",
        "INI-CONTEXT-UNIQUE",
    ]
    assert all(r["verdict"] == "passed" and r["hits"] > 0 for r in cert["rules"])
    html = (out / "report.html").read_text()
    assert 'id="verdict-matrix"' in html
    assert "<code>INI-CONTEXT-UNIQUE</code>" in html
    assert "http" not in html.split("<body>")[0]  # self-contained: no external resources
    result.stdout.fnmatch_lines(["certificate.json and report.html written to *"])


def test_a_failure_is_in_the_certificate_as_data_and_in_the_report(
    pytester: pytest.Pytester,
) -> None:
    result, cert, out = run_with_report(
        pytester, "tests.broken_targets:break_capacity", "--offload-rules=INI-CAPACITY"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    validate(cert)
    assert cert["verdict"] == "NOT CONFORMANT"
    (rule,) = cert["rules"]
    assert rule["verdict"] == "failed"
    assert rule["replay"].startswith("pytest --offload-target=tests.broken_targets:break_capacity")
    (example,) = cert["counterexamples"]
    found = [
        v for i in example["initiates"] for v in i["violations"] if v["rule"] == "INI-CAPACITY"
    ]
    assert found
    assert found[0]["expected"].startswith("at most tcp_connection_offload_capacity=4")
    html = (out / "report.html").read_text()
    assert 'id="failure-INI-CAPACITY"' in html
    assert "&lt;- INI-CAPACITY" in html  # the drawn tree, escaped


def test_tampering_with_a_certificate_breaks_its_hash(pytester: pytest.Pytester) -> None:
    _, cert, _ = run_with_report(
        pytester, "reference_target", "--offload-budget=quick", "--offload-rules=INI-NO-RAISE"
    )
    cert["verdict"] = "CONFORMANT" if cert["verdict"] != "CONFORMANT" else "NOT CONFORMANT"
    assert cert["sha256"] != certificate_hash(cert)


def test_waivers_apply_expire_and_report_unmatched(pytester: pytest.Pytester) -> None:
    waivers = pytester.path / "waivers.toml"
    waivers.write_text(WAIVERS)
    result, cert, _ = run_with_report(
        pytester,
        "tests.broken_targets:break_capacity",
        "--offload-rules=INI-CAPACITY,INI-NO-RAISE,INI-DEPTH-FIRST",
        f"--offload-waivers={waivers}",
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2, xfailed=1)
    validate(cert)
    assert {r["id"]: r["verdict"] for r in cert["rules"]}["INI-CAPACITY"] == "waived"
    assert {w["waiver"]["rule"]: w["status"] for w in cert["waivers"]} == {
        "INI-CAPACITY": "applied",
        "INI-NO-RAISE": "expired",
        "INI-DEPTH-FIRST": "unmatched",
    }
    assert cert["verdict"] == "CONFORMANT WITH WARNINGS"
    result.stdout.fnmatch_lines(
        ["*INI-CAPACITY*MUST*WAIVED*(waived: firmware counts the listener slot*",
         "warning: the waiver of INI-NO-RAISE (PRJ-2, until 2020-01-01) has expired",
         "warning: the waiver of INI-DEPTH-FIRST (PRJ-3, until 2099-01-01) matched no failure"]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "[[waiver]]\nrule = 'INI-NOPE'\nreason = 'x'\nissue = 'y'\nexpires = 2030-01-01\n",
            "names rule 'INI-NOPE'",
        ),
        ("[[waiver]]\nrule = 'INI-NO-RAISE'\nreason = 'x'\nexpires = 2030-01-01\n", "lacks issue"),
        (
            "[[waiver]]\nrule = 'INI-NO-RAISE'\nreason = 'x'\nissue = 'y'\nexpires = 'soon'\n",
            "write a TOML date",
        ),
        ("not toml [", "is not valid TOML"),
    ],
)
def test_a_bad_waiver_file_is_a_usage_error(
    pytester: pytest.Pytester, content: str, message: str
) -> None:
    waivers = pytester.path / "waivers.toml"
    waivers.write_text(content)
    result = pytester.runpytest_inprocess(
        "--offload-target=reference_target", f"--offload-waivers={waivers}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "given by --offload-waivers" in result.stderr.str()


def test_the_certificate_is_the_same_under_xdist_counts_aside(pytester: pytest.Pytester) -> None:
    def certificate(*extra: str) -> dict[str, Any]:
        out = pytester.path / f"report{len(extra)}"
        pytester.runpytest_subprocess(
            "--offload-target=tests.broken_targets:break_capacity",
            "--offload-rules=INI-C*",
            "--offload-seed=3",
            f"--offload-report={out}",
            "-p",
            "no:cacheprovider",
            *extra,
        )
        loaded: dict[str, Any] = json.loads((out / "certificate.json").read_text())
        return loaded

    serial, parallel = certificate(), certificate("-n", "2")
    validate(parallel)

    def essence(cert: dict[str, Any]) -> list[tuple[str, str]]:
        return [(r["id"], r["verdict"]) for r in cert["rules"]]

    assert essence(serial) == essence(parallel)
    assert serial["verdict"] == parallel["verdict"] == "NOT CONFORMANT"
    assert [c["rule"] for c in serial["counterexamples"]] == [
        c["rule"] for c in parallel["counterexamples"]
    ]


def test_vendor_text_is_escaped_in_the_report() -> None:
    from pytest_offload.report import render_html

    cert = {
        "target": {"spec": "<script>alert(1)</script>", "version": None},
        "suite": {"version": "0"}, "catalogue": {"version": "1", "sha256": "0" * 64},
        "hypothesis": {"seed": 1, "budget": "quick", "max_examples": 1},
        "started": "", "finished": "", "complete": True, "verdict": "CONFORMANT",
        "rules": [], "waivers": [], "capabilities": {}, "sha256": "0" * 64,
    }  # fmt: skip
    html = render_html(cert, {"INI-NO-RAISE": "raised <img src=x onerror=alert(1)>"})
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;img src=x" in html
