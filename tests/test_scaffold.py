"""``pytest-offload new-adapter``: each kind's skeleton runs under the suite at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_offload.cli import main
from pytest_offload.generate._aims._capacity import _capacity_edge
from pytest_offload.harness.transports.native import include_dir
from pytest_offload.model import OffloadCapabilities

if TYPE_CHECKING:
    from pathlib import Path

GCC = shutil.which("gcc")


def _target(kind: str, where: Path) -> str:
    if kind == "python":
        return "offload_adapter"
    if kind == "process":
        return f"exec:{sys.executable} offload_adapter.py"
    assert GCC is not None
    subprocess.run(
        [GCC, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
         "-mms-bitfields", f"-I{include_dir()}", str(where / "offload_adapter.c"), "-o",
         str(where / "liboffload_adapter.so"), "-lpthread"],
        check=True,
    )  # fmt: skip
    return "native:./liboffload_adapter.so"


@pytest.mark.parametrize("kind", ["python", "process", "native"])
def test_each_kind_of_skeleton_gets_a_first_verdict(
    pytester: pytest.Pytester, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind == "native" and GCC is None:
        pytest.skip("gcc is not installed (.ci/run installs it)")
    assert main(["new-adapter", "--kind", kind, str(pytester.path)]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out
    assert (pytester.path / "ci" / "offload-conformance.yml").is_file()
    readme = (pytester.path / "README.md").read_text(encoding="utf-8")
    target = _target(kind, pytester.path)
    result = pytester.runpytest_subprocess(
        f"--offload-target={target}", "--offload-budget=quick", "--offload-seed=7",
        "-p", "no:cacheprovider", timeout=600,
    )  # fmt: skip
    output = result.stdout.str()
    # Correct but offloading nothing: only the SHOULD rule that wants offloads complains.
    assert "offload verdict: CONFORMANT WITH WARNINGS" in output, output
    assert " ERROR " not in output
    assert "INI-ADVERTISED-WORKS" in output
    assert "--offload-target=" in readme


def test_new_adapter_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "README.md"
    mine.write_text("the vendor's own notes\n", encoding="utf-8")
    assert main(["new-adapter", "--kind", "native", str(tmp_path)]) == 2
    assert "exist already" in capsys.readouterr().err
    assert mine.read_text(encoding="utf-8") == "the vendor's own notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]  # nothing written


def test_new_adapter_rejects_a_name_that_is_no_identifier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new-adapter", "--name", "my-adapter", str(tmp_path)]) == 2
    assert "must be an identifier" in capsys.readouterr().err
    assert not tmp_path.joinpath("my-adapter.py").exists()


@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_the_capacity_aim_generates_without_a_receive_window_limit(data: st.DataObject) -> None:
    # A declaration with no max_initial_rcv_wnd predicts no failing connection: the
    # capacity aim must still generate (it once drew a list of nothing() and errored).
    caps = OffloadCapabilities(tcp_connection_offload_capacity=2)
    scenario = data.draw(_capacity_edge(caps))
    assert len(scenario) == 2
