"""The user-mode ndischimney.h: NDIS's names, the Windows x64 layout, checked by gcc."""

from __future__ import annotations

import ctypes
import itertools
import shutil
import struct
import subprocess
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from hypothesis import given, settings

from pytest_offload import NeighborOffloadState, PathOffloadState, TcpOffloadState
from pytest_offload.cli import main
from pytest_offload.harness.transports._messages import InitiateParams, InitiateRequest
from pytest_offload.harness.transports.codec import PointerTable, encode_tree, nbl_hook
from pytest_offload.harness.transports.native import LAYOUT, include_dir, state_stride
from pytest_offload.harness.transports.native._build import build_harness
from pytest_offload.harness.transports.native._columns import pack
from pytest_offload.harness.transports.native._library import Library
from pytest_offload.harness.transports.native._wire import decode_initiate
from pytest_offload.model import (
    NdisStatus,
    TcpOffloadEventType,
    TcpUploadReason,
    iter_depth_first,
)
from pytest_offload.strategies import tree_specs

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


#: The header's event and upload-reason names, by the suite's members (domain.md 7).
_EVENT_NAMES = {
    "SEND_BACKLOG_CHANGE": "TcpIndicateSendBacklogChange",
    "DISCONNECT": "TcpIndicateDisconnect",
    "RETRIEVE": "TcpIndicateRetrieve",
    "ABORT": "TcpIndicateAbort",
}


@needs_gcc
def test_the_header_event_and_reason_values_are_the_suites(tmp_path: Path) -> None:
    reasons = {
        member.name: "".join(w.capitalize() for w in member.name.split("_"))
        for member in TcpUploadReason
    }
    reasons["SMALL_IO"] = "SmallIO"
    reasons["INVALID_STATE"] = "InvalidState"
    names = {**_EVENT_NAMES, **reasons}
    lines = ["#include <stdio.h>", "#include <ndischimney.h>", "int main(void) {"]
    lines += [f'    printf("{k} %d\\n", (int){v});' for k, v in names.items()]
    # Every status the suite knows, as NDIS_STATUS_<NAME> (ndis.h).
    lines += [
        f'    printf("status.{m.name} %u\\n", (unsigned)NDIS_STATUS_{m.name});' for m in NdisStatus
    ]
    lines += ["    return 0;", "}"]
    built = _compile(tmp_path, "\n".join(lines) + "\n", "-mms-bitfields")
    assert built.returncode == 0, built.stderr
    out = subprocess.run([str(tmp_path / "program")], capture_output=True, text=True, check=True)
    values = dict(line.split() for line in out.stdout.splitlines())
    expected = {m.name: m.value for m in (*TcpOffloadEventType, *TcpUploadReason)}
    expected |= {f"status.{m.name}": m.value for m in NdisStatus}
    assert {k: int(v) for k, v in values.items()} == expected


def test_include_dir_names_the_shipped_headers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["include-dir"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(include_dir())
    assert (include_dir() / "ndischimney.h").is_file()
    assert (include_dir() / "ndis.h").is_file()


# -- a tree in C memory, walked by C code built against the header -------------------------

WALKER = r"""
#include <ndischimney.h>

/* Walks the tree as a driver would: sums what it reads, writes statuses and contexts. */
static ULONG64 Visit(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST block, int depth) {
    ULONG64 sum = 0;
    for (; block != NULL; block = block->NextBlock) {
        PUCHAR state = (PUCHAR)(block + 1);
        sum += block->Header.Type;
        if (block->MiniportOffloadContext != NULL && *block->MiniportOffloadContext == NULL) {
            if (block->Header.Type == TcpOffloadState) {
                PTCP_OFFLOAD_STATE_CONST c = (PTCP_OFFLOAD_STATE_CONST)state;
                PTCP_OFFLOAD_STATE_CACHED k =
                    (PTCP_OFFLOAD_STATE_CACHED)(state + c->Header.Length);
                PTCP_OFFLOAD_STATE_DELEGATED d =
                    (PTCP_OFFLOAD_STATE_DELEGATED)((PUCHAR)k + k->Header.Length);
                sum += (ULONG64)c->RemotePort + c->LocalPort;
                sum += (ULONG64)c->RcvWindScale + 16u * c->SndWindScale;
                sum += (ULONG64)k->InitialRcvWnd + k->TtlOrHopLimit;
                sum += (ULONG64)k->FlowLabel + k->UserPriority;
                sum += (ULONG64)d->State + d->CWnd + d->Retransmit.TimeoutDelta;
                for (PNET_BUFFER_LIST nbl = block->NetBufferListChain; nbl != NULL;
                     nbl = NET_BUFFER_LIST_NEXT_NBL(nbl)) {
                    sum += nbl->DataLength;
                }
                for (PNET_BUFFER_LIST nbl = d->BufferedData; nbl != NULL;
                     nbl = NET_BUFFER_LIST_NEXT_NBL(nbl)) {
                    sum += 1000u * nbl->DataLength + nbl->Data[0];
                }
            } else if (block->Header.Type == Ip4OffloadState ||
                       block->Header.Type == Ip6OffloadState) {
                PPATH_OFFLOAD_STATE_CONST c = (PPATH_OFFLOAD_STATE_CONST)state;
                PPATH_OFFLOAD_STATE_CACHED k =
                    (PPATH_OFFLOAD_STATE_CACHED)(state + c->Header.Length);
                sum += (ULONG64)c->SourceAddress[0] + c->DestinationAddress[3] + k->PathMtu;
            } else if (block->Header.Type == NeighborOffloadState) {
                PNEIGHBOR_OFFLOAD_STATE_CONST c = (PNEIGHBOR_OFFLOAD_STATE_CONST)state;
                sum += (ULONG64)c->VlanId + c->DlSourceAddress[5];
            }
            *block->MiniportOffloadContext = (PVOID)block;
        }
        block->Status = depth == 2 ? NDIS_STATUS_OFFLOAD_TCP_ENTRIES : NDIS_STATUS_SUCCESS;
        sum += Visit(block->DependentBlockList, depth + 1);
    }
    return sum;
}

ULONG64 Walk(PNDIS_MINIPORT_OFFLOAD_BLOCK_LIST root) { return Visit(root, 0); }
"""


def _expected_sum(blocks: list[Any]) -> int:
    total = 0
    for block in blocks:
        total += int(block.state_type)
        state = block.state
        if block.miniport_offload_context is None or block.miniport_offload_context.value:
            continue
        if isinstance(state, TcpOffloadState):
            c, k, d = state.const, state.cached, state.delegated
            total += c.remote_port + c.local_port + c.rcv_wind_scale + 16 * c.snd_wind_scale
            total += k.initial_rcv_wnd + k.ttl_or_hop_limit + k.flow_label + k.user_priority
            total += int(d.state) + d.cwnd + d.retransmit.timeout_delta
            total += sum(len(n.data) for n in block.net_buffer_list_chain or ())
            total += sum(1000 * len(n.data) + n.data[0] for n in d.buffered_data)
        elif isinstance(state, PathOffloadState):
            total += state.const.source_address[0] + state.const.destination_address[3]
            total += state.cached.path_mtu
        elif isinstance(state, NeighborOffloadState):
            total += state.const.vlan_id + state.const.dl_source_address[5]
    return total


@pytest.fixture(scope="module")
def walker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if GCC is None:
        pytest.skip("gcc is not installed (.ci/run installs it)")
    where = tmp_path_factory.mktemp("walker")
    (where / "walker.c").write_text(WALKER, encoding="utf-8")
    subprocess.run(
        [GCC, "-std=c11", "-Wall", "-Werror", "-mms-bitfields", "-shared", "-fPIC",
         f"-I{include_dir()}", str(where / "walker.c"), "-o", str(where / "walker.so")],
        check=True, capture_output=True,
    )  # fmt: skip
    library = ctypes.CDLL(str(where / "walker.so"))
    library.Walk.restype = ctypes.c_uint64
    library.Walk.argtypes = [ctypes.c_void_p]
    return library


def _as_the_child_receives(blocks: list[Any]) -> Any:
    """The tree's columns as the native child decodes them from the suite's message."""
    ids: dict[int, int] = {}
    counter = itertools.count(1)
    tree, nbls = encode_tree(blocks, PointerTable(), ids, counter.__next__)
    payload = msgspec.json.encode(
        InitiateRequest("2.0", 1, "initiate_offload", InitiateParams(1, tree)),
        enc_hook=nbl_hook(ids, counter.__next__, nbls),
    )
    return decode_initiate(
        msgspec.json.decode(payload, type=dict[str, msgspec.Raw])["params"]
    ).tree


@pytest.fixture(scope="module")
def harness() -> Library:
    if GCC is None:
        pytest.skip("gcc is not installed (.ci/run installs it)")
    return Library.harness_only(str(build_harness()))


@settings(max_examples=40, deadline=None)
@given(tree_specs(max_neighbors=2))
def test_a_packed_tree_is_what_c_code_reads_and_writes(
    walker: Any, harness: Library, spec: Any
) -> None:
    root = spec.build(lambda layer, index: 0x7000 + index)
    blocks = [b for b, *_ in iter_depth_first(root)]
    tree = pack(_as_the_child_receives(blocks), harness)
    assert walker.Walk(tree.root) == _expected_sum(blocks)
    snapshot_depths = {id(b): d for b, d in _depths(root)}
    memory = tree.memory.raw
    for i, block in enumerate(blocks):
        expected = 0xC0231004 if snapshot_depths[id(block)] == 2 else 0
        (status,) = struct.unpack_from("<I", memory, tree.offsets[i] + 0x18)
        assert status == expected
        assert memory[tree.guards[i] : tree.guards[i] + 16] == b"\xa5" * 16
        if (
            block.miniport_offload_context is not None
            and block.miniport_offload_context.value is None
        ):
            (context,) = struct.unpack_from("<Q", memory, tree.slots[i])
            assert context == tree.base + tree.offsets[i]  # the C code's context


def _depths(root: Any) -> list[tuple[Any, int]]:
    out: list[tuple[Any, int]] = []
    depth_of: dict[int, int] = {}
    for block, _, parent, _ in iter_depth_first(root):
        depth = 0 if parent < 0 else depth_of[parent] + 1
        depth_of[len(out)] = depth
        out.append((block, depth))
    return out
