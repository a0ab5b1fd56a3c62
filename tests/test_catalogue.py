"""The catalogue: complete, ordered like the spec, introspectable, selectable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import pytest_offload
from pytest_offload import CATALOGUE, Grade
from pytest_offload.catalogue import GROUPS

SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "spec" / "rules.md"
LIFECYCLE = SPEC.with_name("lifecycle.md")


def spec_rules() -> list[tuple[str, str]]:
    text = SPEC.read_text(encoding="utf-8")
    return re.findall(r"^\| (INI-[A-Z0-9-]+) \| (MUST|SHOULD) \|", text, flags=re.MULTILINE)


def lifecycle_rules() -> list[tuple[str, str]]:
    text = LIFECYCLE.read_text(encoding="utf-8")
    return re.findall(
        r"^\| ((?:LIFE|TRM|UPD|QRY|INV)-[A-Z0-9-]+) \| (MUST|SHOULD) \|", text, flags=re.MULTILINE
    )


@pytest.mark.skipif(
    not SPEC.exists(), reason=f"the normative spec is not beside the repo ({SPEC})"
)
def test_catalogue_matches_rules_md_ids_grades_and_order() -> None:
    # rules.md section 4, the transport rule of section 6 (issue 11: WIRE-PROTOCOL), then
    # lifecycle.md section 3 (issue 13).
    assert [(r.id, r.grade.value) for r in CATALOGUE] == [
        *spec_rules(),
        *TRANSPORT_RULES,
        *lifecycle_rules(),
    ]


#: Rules of the transports (rules.md section 6 asks for "a protocol finding").
TRANSPORT_RULES = [("WIRE-PROTOCOL", "MUST")]


def test_every_rule_has_text_source_and_group() -> None:
    assert len(CATALOGUE) == 31 + len(TRANSPORT_RULES) + 22
    for rule in CATALOGUE:
        assert rule.text, rule.id
        assert rule.source, rule.id
        assert rule.group in GROUPS
        assert isinstance(rule.grade, Grade)


def test_select_by_id_prefix_and_glob() -> None:
    assert [r.id for r in CATALOGUE.select(["INI-NO-RAISE"])] == ["INI-NO-RAISE"]
    assert [r.id for r in CATALOGUE.select(["INI-FAILED-SUBTREE"])] == ["INI-FAILED-SUBTREE"]
    assert [r.id for r in CATALOGUE.select(["INI-FAILED-SUBTREE-"])] == [
        "INI-FAILED-SUBTREE-FAILURE"
    ]
    assert {r.id for r in CATALOGUE.select(["ini-context"])} == {
        "INI-CONTEXT-ON-SUCCESS",
        "INI-CONTEXT-UNIQUE",
    }
    assert [r.id for r in CATALOGUE.select(["INI-*-CAUSE"])] == [
        "INI-HW-ADDRESS-CAUSE",
        "INI-VLAN-MISMATCH-CAUSE",
        "INI-RCV-WINDOW-CAUSE",
        "INI-PATH-MTU-CAUSE",
        "INI-ENTRIES-CAUSE",
    ]
    with pytest.raises(KeyError, match="INI-NOPE"):
        CATALOGUE.select(["INI-NOPE"])


def documented_api() -> set[str]:
    page = Path(__file__).resolve().parents[1] / "docs" / "api.md"
    found = re.findall(r"^\.\. auto\w+:: pytest_offload\.(\w+)$", page.read_text(), re.M)
    return set(found) - {"strategies"}


def test_all_is_exactly_the_documented_api() -> None:
    assert set(pytest_offload.__all__) - {"__version__"} == documented_api()


def test_every_name_in_all_is_importable() -> None:
    for name in pytest_offload.__all__:
        assert getattr(pytest_offload, name) is not None, name


def test_public_strategies_are_exactly_all() -> None:
    from pytest_offload import strategies

    # Names starting with "@" are added by pytest's assertion rewriting of plugins.
    public = {n for n in dir(strategies) if not n.startswith(("_", "@")) and n != "annotations"}
    assert public == set(strategies.__all__)


def test_docs_status_table_is_generated_from_the_code() -> None:
    from pytest_offload.report import render_status_codes

    page = Path(__file__).resolve().parents[1] / "docs" / "status-codes.md"
    assert page.read_text(encoding="utf-8") == render_status_codes(), (
        "docs/status-codes.md is stale: run pytest-offload catalogue status > docs/status-codes.md"
    )


def test_docs_catalogue_is_generated_from_the_code() -> None:
    from pytest_offload.report import render

    page = Path(__file__).resolve().parents[1] / "docs" / "rules.md"
    assert page.read_text(encoding="utf-8") == render(), (
        "docs/rules.md is stale: run pytest-offload catalogue rules > docs/rules.md"
    )
