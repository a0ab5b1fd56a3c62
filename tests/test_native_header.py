"""The user-mode ndischimney.h: NDIS's names, the Windows x64 layout, checked by gcc."""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from pytest_offload.cli import main
from pytest_offload.harness.transports.native import LAYOUT, include_dir, state_stride

if TYPE_CHECKING:
    from pathlib import Path

GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not installed (.ci/run installs it)")


def _compile(tmp_path: Path, source: str, *flags: str) -> subprocess.CompletedProcess[str]:
    assert GCC is not None
    program = tmp_path / "program.c"
    program.write_text(source, encoding="utf-8")
    return subprocess.run(
        [GCC, "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{include_dir()}", *flags,
         str(program), "-o", str(tmp_path / "program")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def _printer() -> str:
    lines = ["#include <stdio.h>", "#include <ndischimney.h>", "int main(void) {"]
    for structure, (_, fields) in LAYOUT.items():
        lines.append(f'    printf("{structure} sizeof %zu\\n", sizeof({structure}));')
        for field in fields:
            lines.append(
                f'    printf("{structure} {field} %zu\\n", offsetof({structure}, {field}));'
            )
    lines += ["    return 0;", "}"]
    return "\n".join(lines) + "\n"


@needs_gcc
def test_gcc_with_ms_bitfields_lays_out_every_field_as_the_python_side_does(
    tmp_path: Path,
) -> None:
    built = _compile(tmp_path, _printer(), "-mms-bitfields")
    assert built.returncode == 0, built.stderr
    printed = subprocess.run(
        [str(tmp_path / "program")], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    found = {tuple(line.split()[:2]): int(line.split()[2]) for line in printed if line}
    for structure, (size, fields) in LAYOUT.items():
        assert found[(structure, "sizeof")] == size, structure
        for field, offset in fields.items():
            assert found[(structure, field)] == offset, f"{structure}.{field}"


@needs_gcc
def test_a_build_without_ms_bitfields_stops_with_a_message_saying_why(tmp_path: Path) -> None:
    built = _compile(tmp_path, "#include <ndischimney.h>\nint main(void) { return 0; }\n")
    assert built.returncode != 0
    assert "TCP_OFFLOAD_STATE_CACHED.TtlOrHopLimit must be at 0x28" in built.stderr
    assert "-mms-bitfields" in built.stderr


@needs_gcc
def test_driver_code_written_with_ndis_names_compiles(tmp_path: Path) -> None:
    source = """
#include <ndischimney.h>

static NDIS_HANDLE MiniportHandle;

static VOID MyInitiateOffload(NDIS_HANDLE MiniportAdapterContext,
                              PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST OffloadBlockList) {
    PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST block;
    (void)MiniportAdapterContext;
    for (block = OffloadBlockList; block != NULL; block = block->NextBlock) {
        if (block->Header.Type == TcpOffloadState) {
            /* CONST, CACHED and DELEGATED follow the block, each Length bytes long. */
            PTCP_OFFLOAD_STATE_CONST tcp = (PTCP_OFFLOAD_STATE_CONST)(block + 1);
            PTCP_OFFLOAD_STATE_CACHED cached =
                (PTCP_OFFLOAD_STATE_CACHED)((PUCHAR)tcp + tcp->Header.Length);
            PTCP_OFFLOAD_STATE_DELEGATED delegated =
                (PTCP_OFFLOAD_STATE_DELEGATED)((PUCHAR)cached + cached->Header.Length);
            block->Status = delegated->State == TcpConnectionEstablished
                ? NDIS_STATUS_SUCCESS : NDIS_STATUS_OFFLOAD_CONNECTION_REJECTED;
        } else {
            block->Status = NDIS_STATUS_SUCCESS;
        }
        if (block->MiniportOffloadContext != NULL && *block->MiniportOffloadContext == NULL) {
            *block->MiniportOffloadContext = block;
        }
    }
    NdisMInitiateOffloadComplete(MiniportHandle, OffloadBlockList);
}

NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS Characteristics = {
    .Header = {NDIS_OBJECT_TYPE_DEFAULT,
               NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS_REVISION_1,
               sizeof(NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS)},
    .InitiateOffloadHandler = MyInitiateOffload,
};

int main(void) { return Characteristics.InitiateOffloadHandler == NULL; }
"""
    built = _compile(tmp_path, source, "-mms-bitfields", "-c")
    assert built.returncode == 0, built.stderr


def test_state_structures_start_on_8_byte_boundaries() -> None:
    # native.md: each structure's Length is its size rounded up to 8 [reading].
    assert state_stride("TCP_OFFLOAD_STATE_CONST") == 0x18
    assert state_stride("TCP_OFFLOAD_STATE_CACHED") == 0x30
    assert state_stride("NEIGHBOR_OFFLOAD_STATE_DELEGATED") == 0x10
    assert LAYOUT["NDIS_MINIPORT_OFFLOAD_BLOCK_LIST"][0] % 8 == 0


def test_include_dir_names_the_shipped_headers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["include-dir"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(include_dir())
    assert (include_dir() / "ndischimney.h").is_file()
    assert (include_dir() / "ndis.h").is_file()
