"""Conformance tests of the update rules: one test per rule, named by its ID."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_offload.plugin._engine import rule_params, run_rule

if TYPE_CHECKING:
    import pytest


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    rule_params(metafunc, "update")


def test_rule(rule_id: str, request: pytest.FixtureRequest) -> None:
    """The target keeps update rule ``rule_id`` on every generated case."""
    __tracebackhide__ = True
    run_rule(request, rule_id)
