"""The wire format: trees and images survive the trip, values keep their meaning, the
documented schema is the code's."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_offload import NdisStatus, OffloadBlockList, Role, iter_depth_first
from pytest_offload.cli import main
from pytest_offload.harness import take_snapshot
from pytest_offload.harness.transports import protocol_schema
from pytest_offload.harness.transports._messages import (
    Image,
    InitiateCompleteParams,
    InitiateParams,
)
from pytest_offload.harness.transports.codec import (
    PointerTable,
    WireError,
    apply_image,
    decode_tree,
    encode_tree,
    host_fields,
    image_of,
    nbl_hook,
    nbl_ref_hook,
    pointers_from_wire,
    status_from_wire,
)
from pytest_offload.harness.transports.codec._values import fixed_width_pointers
from pytest_offload.model import ContextSlot
from pytest_offload.strategies import malformed_tree_specs, tree_specs
from tests.support import documented_example

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "protocol.schema.json"


def _send(root: OffloadBlockList) -> tuple[list[OffloadBlockList], bytes, PointerTable, dict]:  # type: ignore[type-arg]
    blocks = [b for b, *_ in iter_depth_first(root)]
    table, ids = PointerTable(), {}  # type: ignore[var-annotated]
    counter = itertools.count(1)
    wire, nbls = encode_tree(blocks, table, ids, lambda: next(counter))
    payload = msgspec.json.encode(
        InitiateParams(1, wire), enc_hook=nbl_hook(ids, lambda: next(counter), nbls)
    )
    return blocks, payload, table, nbls


def _linker_context(layer: str, index: int) -> object:
    return 0x7FFF_0000_1000 + 0x40 * index


trees = st.one_of(tree_specs(max_neighbors=2), malformed_tree_specs()).map(
    lambda spec: spec.build(_linker_context)
)


@settings(max_examples=60, deadline=None)
@given(trees)
def test_a_tree_crosses_the_wire_with_every_field(root: OffloadBlockList) -> None:
    blocks, payload, _, _ = _send(root)
    params = msgspec.json.decode(payload, type=InitiateParams, dec_hook=nbl_ref_hook)
    served, _ = decode_tree(params.tree, PointerTable(0xC0DE_0000_0000_0000))
    assert len(served) == len(blocks)
    position = {id(b): i for i, b in enumerate(served)}
    original = {id(b): i for i, b in enumerate(blocks)}
    for mine, theirs in zip(blocks, served, strict=True):
        assert theirs.state_type == mine.state_type
        assert theirs.role is mine.role
        assert repr(theirs.state) == repr(mine.state)  # NBLs compare by identity: by repr
        assert theirs.status == NdisStatus.PENDING
        for name in ("next_block", "dependent_block_list"):
            a, b = getattr(mine, name), getattr(theirs, name)
            assert (a is None) == (b is None)
            if a is not None:
                assert original[id(a)] == position[id(b)]
        if mine.role is Role.LINKER:
            assert theirs.miniport_offload_context is not None
            assert mine.miniport_offload_context is not None
            assert theirs.miniport_offload_context.value == mine.miniport_offload_context.value
        chain = mine.net_buffer_list_chain or ()
        assert [n.data for n in theirs.net_buffer_list_chain or ()] == [n.data for n in chain]


@settings(max_examples=60, deadline=None)
@given(trees, st.data())
def test_what_a_served_target_writes_arrives_on_the_suite_blocks(
    root: OffloadBlockList, data: st.DataObject
) -> None:
    blocks, payload, table, nbls = _send(root)
    params = msgspec.json.decode(payload, type=InitiateParams, dec_hook=nbl_ref_hook)
    serve_table = PointerTable(0xC0DE_0000_0000_0000)
    served, served_nbls = decode_tree(params.tree, serve_table)
    handed = [host_fields(b) for b in served]
    codes = st.sampled_from([NdisStatus.SUCCESS, NdisStatus.FAILURE, 0xC0231004])
    contexts: dict[int, object] = {}
    for i, block in enumerate(served):
        block.status = data.draw(codes)
        slot = block.miniport_offload_context
        if slot is not None and slot.value is None and data.draw(st.booleans()):
            slot.value = contexts[i] = object()  # a Python target's own context object
    ids = {id(n): k for k, n in served_nbls.items()}
    image = image_of(served, handed, ids, serve_table)
    # Only what the target wrote travels back: no host field changed.
    assert image.next_block is msgspec.UNSET
    assert image.state is msgspec.UNSET
    back = msgspec.json.decode(
        msgspec.json.encode(InitiateCompleteParams(1, image)),
        type=InitiateCompleteParams,
        dec_hook=nbl_ref_hook,
    )
    before = [host_fields(b) for b in blocks]
    apply_image(back.image, blocks, nbls, table)
    pointers = set()
    for i, (mine, theirs) in enumerate(zip(blocks, served, strict=True)):
        assert mine.status == theirs.status
        if i in contexts:
            assert mine.miniport_offload_context is not None
            value = mine.miniport_offload_context.value
            assert isinstance(value, int)  # the pointer standing for the target's object
            pointers.add(value)
    assert len(pointers) == len(contexts)  # distinct objects, distinct pointers
    assert [host_fields(b) for b in blocks] == before


def test_a_host_field_a_served_target_changes_travels_back() -> None:
    root = documented_example()
    blocks, payload, table, nbls = _send(root)
    params = msgspec.json.decode(payload, type=InitiateParams, dec_hook=nbl_ref_hook)
    served, _ = decode_tree(params.tree, PointerTable(0xC0DE_0000_0000_0000))
    handed = [host_fields(b) for b in served]
    served[0].next_block = served[0]  # a relink
    served[0].port_number = 7
    image = image_of(served, handed, {}, PointerTable())
    assert isinstance(image.next_block, list)
    assert image.next_block[0] == 0
    assert isinstance(image.port_number, list)
    assert image.port_number[0] == 7
    apply_image(image, blocks, nbls, table)
    assert blocks[0].next_block is blocks[0]
    assert blocks[0].port_number == 7


def test_an_echoed_handle_is_the_same_object() -> None:
    root = documented_example()
    blocks, payload, table, nbls = _send(root)
    wire = json.loads(payload)["tree"]["ndis_offload_handle"]
    handles = [b.ndis_offload_handle for b in blocks]
    image = Image([259] * len(blocks), ndis_offload_handle=wire)
    apply_image(image, blocks, nbls, table)
    assert all(b.ndis_offload_handle is h for b, h in zip(blocks, handles, strict=True))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, NdisStatus.SUCCESS),
        (0xC0000001, NdisStatus.FAILURE),
        (-1073741823, NdisStatus.FAILURE),  # the signed C int of 0xC0000001
        (0x12345678, 0x12345678),
    ],
)
def test_statuses_are_32_bit_values(value: int, expected: int) -> None:
    assert status_from_wire(value) == expected
    assert status_from_wire(value) is not True


def test_pointers_travel_as_strings_and_keep_every_bit() -> None:
    table = PointerTable()
    big = 0xFFFF_FFFF_FFFF_FFF1
    assert table.to_wire(big) == "0xfffffffffffffff1"
    assert table.from_wire("0xfffffffffffffff1") == big
    assert table.to_wire(0) == "0x0"
    thing = object()
    assert table.from_wire(table.to_wire(thing)) is thing
    context = ["a context object"]
    assert table.from_wire(table.to_wire(context)) is context
    assert pointers_from_wire([]) == []
    assert pointers_from_wire(["0x1", "0XfF"]) == [1, 255]
    for bad in ("31", "0x", "0x" + "1" * 17, "0x1\n0x2", "0xg"):
        with pytest.raises(WireError, match=r"not a pointer|malformed"):
            pointers_from_wire([bad])


@settings(max_examples=80, deadline=None)
@given(trees)
def test_the_hand_over_snapshot_gives_the_same_wire_tree_as_the_blocks(
    root: OffloadBlockList,
) -> None:
    # The process transport encodes from the host's snapshot (_handover); the general
    # path reads the blocks. Both must send the very same bytes.
    for block, *_ in iter_depth_first(root):
        block.status = NdisStatus.PENDING  # as the host hands a tree over
    snapshot = take_snapshot(root)
    sent = []
    for given_snapshot in (None, snapshot):
        table, ids = PointerTable(), {}  # type: ignore[var-annotated]
        fresh = itertools.count(1).__next__
        wire, nbls = encode_tree(snapshot.blocks, table, ids, fresh, snapshot=given_snapshot)
        sent.append(
            msgspec.json.encode(InitiateParams(1, wire), enc_hook=nbl_hook(ids, fresh, nbls))
        )
    assert sent[0] == sent[1]


@given(
    st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40),
    st.integers(1, 16),
    st.booleans(),
)
def test_pointers_of_one_width_parse_in_bulk_as_one_by_one(
    values: list[int], digits: int, upper: bool
) -> None:
    texts = [f"0x{v & (16**digits - 1):0{digits}x}" for v in values]
    if upper:
        texts = ["0x" + t[2:].upper() for t in texts]
    assert fixed_width_pointers(texts) == [int(t, 16) for t in texts]
    assert pointers_from_wire(texts) == [int(t, 16) for t in texts]


@pytest.mark.parametrize(
    "texts",
    [["0x1", "0x22"], ["0x1x"], ["0x 1"], ["1x11"], [" 0x1"], ["0x_1"], ["0X11"],
     ["0x\n1", "0x1\n"], ["0x", "0x"], ["0x" + "1" * 17], ["0xg1"], ["0x1", None]],
)  # fmt: skip
def test_the_bulk_pointer_parser_leaves_anything_else_to_the_checking_one(
    texts: list[str],
) -> None:
    assert fixed_width_pointers(texts) is None


def test_a_block_position_out_of_range_or_a_short_column_is_a_wire_error() -> None:
    root = documented_example()
    blocks, _, table, nbls = _send(root)
    n = len(blocks)
    with pytest.raises(WireError, match="out of range"):
        apply_image(Image([0] * n, next_block=[n] * n), blocks, nbls, table)
    with pytest.raises(WireError, match=f"has {n - 1} entries"):
        apply_image(Image([0] * (n - 1)), blocks, nbls, table)
    assert all(b.status == NdisStatus.PENDING for b in blocks)  # nothing was written


def test_a_state_that_is_no_state_structure_is_sent_as_none() -> None:
    root = documented_example()
    root.state = "not a state"  # type: ignore[assignment]
    _, payload, _, _ = _send(root)
    tree = json.loads(payload)["tree"]
    assert tree["state"][0] is None
    assert None not in tree["states"]


def test_a_placeholder_given_a_context_changes_a_host_field() -> None:
    root = OffloadBlockList(4)
    blocks, _, table, nbls = _send(root)
    apply_image(Image([0], context=["0x10"]), blocks, nbls, table)
    slot = blocks[0].miniport_offload_context
    assert isinstance(slot, ContextSlot)
    assert slot.value == 0x10


def test_the_documented_schema_is_generated_from_the_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["protocol-schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(protocol_schema()))
    assert json.loads(SCHEMA.read_text(encoding="utf-8")) == printed, (
        "docs/protocol.schema.json is stale: run pytest-offload protocol-schema > "
        "docs/protocol.schema.json"
    )


def test_the_schema_validates_real_messages() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = protocol_schema()
    root = documented_example()
    _, payload, _, _ = _send(root)
    request = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "initiate_offload",
        "params": json.loads(payload),
    }
    jsonschema.validate(request, {**schema, "$ref": "#/$defs/InitiateRequest"})
    bad = {**request, "method": "initiate"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, {**schema, "$ref": "#/$defs/InitiateRequest"})
