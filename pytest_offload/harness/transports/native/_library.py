"""A vendor's offload library loaded in the child, with the harness library under it.

Runs only in a native target's child process (``python -m
pytest_offload.harness.transports.native``): a library that crashes on load, or later,
takes the child down, never the suite. The harness library (``harness.c``) is loaded
first with ``RTLD_GLOBAL``, so the vendor library's NDIS calls resolve to it; the vendor
library is loaded with ``RTLD_NOW``, so a missing symbol is an error at load, not a crash
in the middle of a case.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

from pytest_offload.model import OffloadCapabilities, OffloadOperation

__all__ = ["Event", "Library", "LibraryError"]

#: What a library built against the shipped headers says its layout is.
LAYOUT_TAG = 0x28 << 24 | 0x2C << 16 | 0x98 << 8 | 0x80
_NO_LIMIT = 0xFFFFFFFF
_MAX_VLANS = 16
# Arbitrary, recognisable handles the harness hands out (NDIS's are opaque too).
DRIVER_HANDLE = 0x4E44_4953_0000_0D00
MINIPORT_HANDLE_BASE = 0x4E44_4953_0001_0000

INITIATE_COMPLETE = 1
SEND_COMPLETE = 2
TERMINATE_COMPLETE = 3
UPDATE_COMPLETE = 4
INVALIDATE_COMPLETE = 5
QUERY_COMPLETE = 6
EVENT_INDICATE = 7
TCP_EVENT = 8
SECOND_REGISTRATION = 10
#: The completion event kinds, by the protocol method each stands for.
COMPLETION_METHODS = {
    INITIATE_COMPLETE: "initiate_offload_complete",
    TERMINATE_COMPLETE: "terminate_offload_complete",
    UPDATE_COMPLETE: "update_offload_complete",
    INVALIDATE_COMPLETE: "invalidate_offload_complete",
    QUERY_COMPLETE: "query_offload_state_complete",
}
#: The handlers of NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_CHARACTERISTICS in their order
#: (after Header and Flags: 8 bytes), by the operation each implements.
HANDLERS = (
    OffloadOperation.INITIATE,
    OffloadOperation.TERMINATE,
    OffloadOperation.UPDATE,
    OffloadOperation.INVALIDATE,
    OffloadOperation.QUERY,
)


class LibraryError(Exception):
    """The library cannot serve as a target (a usage error for the suite)."""


class Event(ctypes.Structure):
    """One call the target made into the harness (``pyo_event`` of harness.c)."""

    _fields_ = (
        ("kind", ctypes.c_int32),
        ("tree", ctypes.c_int32),
        ("handle", ctypes.c_uint64),
        ("pointer", ctypes.c_uint64),
        ("info", ctypes.c_uint64),
        ("info2", ctypes.c_uint64),
        ("thread", ctypes.c_uint64),
    )


class _TcpConnectionOffload(ctypes.Structure):
    # NDIS_TCP_CONNECTION_OFFLOAD: the bitfields are packed by hand into one ULONG
    # (SupportIPv4:2, SupportIPv6:2, SupportIPv6ExtensionHeaders:2, SupportSack:2,
    # CongestionAlgorithm:4), so no FFI has to agree with the compiler on them.
    _fields_ = (
        ("Type", ctypes.c_uint8),
        ("Revision", ctypes.c_uint8),
        ("Size", ctypes.c_uint16),
        ("Encapsulation", ctypes.c_uint32),
        ("Support", ctypes.c_uint32),
        ("TcpConnectionOffloadCapacity", ctypes.c_uint32),
        ("Flags", ctypes.c_uint32),
    )


class _Limits(ctypes.Structure):
    # OFFLOAD_HARNESS_LIMITS (offload_harness.h); no bitfields.
    _fields_ = (
        ("Type", ctypes.c_uint8),
        ("Revision", ctypes.c_uint8),
        ("Size", ctypes.c_uint16),
        ("NdisMajorVersion", ctypes.c_uint16),
        ("NdisMinorVersion", ctypes.c_uint16),
        ("MaxInitialRcvWnd", ctypes.c_uint32),
        ("MaxPathMtu", ctypes.c_uint32),
        ("VlanCapacity", ctypes.c_uint32),
        ("NeighborCapacity", ctypes.c_uint32),
        ("PathCapacity", ctypes.c_uint32),
        ("ConfigurableSourceMac", ctypes.c_uint8),
        ("SourceMacCapacity", ctypes.c_uint32),
        ("InterfaceVlanIdCount", ctypes.c_uint32),
        ("InterfaceVlanIds", ctypes.c_uint16 * _MAX_VLANS),
    )


@dataclass(frozen=True, slots=True)
class Adapter:
    """One adapter the library initialized: its context and its miniport handle."""

    context: int
    handle: int


class Library:
    """The vendor library, its registered handlers, and the harness's event queue."""

    def __init__(self, path: str, harness: str) -> None:
        self.path = path
        self.harness = ctypes.CDLL(harness, mode=ctypes.RTLD_GLOBAL)
        self._declare()
        self.harness.pyo_on_crash()
        try:
            self.vendor = ctypes.CDLL(os.path.abspath(path), mode=os.RTLD_NOW)
        except OSError as exc:
            raise LibraryError(f"cannot load {path}: {exc}") from None
        self._check_layout()
        missing = [
            name
            for name in (
                "OffloadHarnessSetOptions",
                "OffloadHarnessInitialize",
                "OffloadHarnessHalt",
            )
            if not hasattr(self.vendor, name)
        ]
        if missing:
            raise LibraryError(
                f"{path} does not export {', '.join(missing)} (the harness contract of "
                "offload_harness.h and docs/native.md; check they are not static)"
            )
        self._set_options = self.vendor.OffloadHarnessSetOptions
        self._set_options.argtypes = (ctypes.c_void_p,)
        self._set_options.restype = ctypes.c_int32
        self._initialize = self.vendor.OffloadHarnessInitialize
        self._initialize.argtypes = (
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(_TcpConnectionOffload),
            ctypes.POINTER(_Limits),
        )
        self._initialize.restype = ctypes.c_int32
        self._halt = self.vendor.OffloadHarnessHalt
        self._halt.argtypes = (ctypes.c_void_p,)
        self._halt.restype = None
        status = self._set_options(DRIVER_HANDLE) & 0xFFFFFFFF
        if status != 0:
            raise LibraryError(f"OffloadHarnessSetOptions of {path} returned {status:#010x}")
        chars = self.harness.pyo_characteristics()
        if not chars:
            raise LibraryError(
                f"OffloadHarnessSetOptions of {path} did not register its handlers: call "
                "NdisSetOptionalHandlers with an NDIS_PROVIDER_CHIMNEY_OFFLOAD_GENERIC_"
                "CHARACTERISTICS whose Header.Type is NDIS_OBJECT_TYPE_PROVIDER_CHIMNEY_"
                "OFFLOAD_GENERIC_CHARACTERISTICS, as MiniportSetOptions does"
            )
        # The handlers follow Header (4 bytes) and Flags (4 bytes); the non-NULL ones are
        # the operations the library implements (lifecycle.md section 1).
        handlers = [ctypes.c_void_p.from_address(chars + 8 + 8 * k).value for k in range(5)]
        if not handlers[0]:
            raise LibraryError(f"{path} registered no InitiateOffloadHandler")
        self.operations = frozenset(op for op, h in zip(HANDLERS, handlers, strict=True) if h)
        if len(self.operations) > 1 and OffloadOperation.TERMINATE not in self.operations:
            raise LibraryError(
                f"{path} registered an UpdateOffloadHandler, InvalidateOffloadHandler or "
                "QueryOffloadHandler without a TerminateOffloadHandler: every lifecycle ends "
                "in terminates (lifecycle.md section 1; NDIS registers all five)"
            )
        self._adapters = 0

    @classmethod
    def harness_only(cls, harness: str) -> Library:
        """The harness library alone, no vendor library: enough to pack trees and read
        them back (tests and benchmarks)."""
        self = cls.__new__(cls)
        self.path = "(no vendor library)"
        self.harness = ctypes.CDLL(harness, mode=ctypes.RTLD_GLOBAL)
        self._declare()
        self.operations = frozenset({OffloadOperation.INITIATE})
        return self

    def _declare(self) -> None:
        h = self.harness
        h.pyo_on_crash.restype = None
        h.pyo_on_crash.argtypes = ()
        h.pyo_characteristics.restype = ctypes.c_void_p
        h.pyo_characteristics.argtypes = ()
        h.pyo_register.restype = ctypes.c_int
        h.pyo_register.argtypes = (
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_void_p,
        )
        h.pyo_unregister.restype = None
        h.pyo_unregister.argtypes = (ctypes.c_int,)
        h.pyo_copy_now.restype = None
        h.pyo_copy_now.argtypes = (ctypes.c_int, ctypes.c_void_p)
        h.pyo_wait.restype = ctypes.c_int
        h.pyo_wait.argtypes = (ctypes.c_int, ctypes.POINTER(Event))
        h.pyo_diff.restype = ctypes.c_size_t
        h.pyo_diff.argtypes = (
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_uint64),
            ctypes.c_size_t,
        )
        u64p = ctypes.c_void_p
        h.pyo_layout.restype = ctypes.c_uint64
        h.pyo_layout.argtypes = (ctypes.c_size_t, u64p, u64p, ctypes.c_char_p, u64p, u64p, u64p)
        h.pyo_pack.restype = None
        h.pyo_pack.argtypes = (
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, u64p, u64p, u64p,
            ctypes.c_char_p, u64p, u64p, u64p, ctypes.c_char_p, u64p, u64p, u64p, u64p, u64p,
            u64p, u64p, ctypes.c_char_p, u64p, u64p,
        )  # fmt: skip
        h.pyo_read.restype = ctypes.c_int
        h.pyo_read.argtypes = (
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, u64p, u64p, ctypes.c_char_p,
            u64p, u64p,
        )  # fmt: skip
        h.pyo_json_u32.restype = ctypes.c_size_t
        h.pyo_json_u32.argtypes = (u64p, ctypes.c_size_t, u64p)
        h.pyo_json_contexts.restype = ctypes.c_size_t
        h.pyo_json_contexts.argtypes = (
            u64p,
            ctypes.c_char_p,
            ctypes.c_size_t,
            u64p,
            ctypes.POINTER(ctypes.c_size_t),
        )
        h.pyo_parse_hex.restype = None
        h.pyo_parse_hex.argtypes = (ctypes.c_char_p, ctypes.c_size_t, u64p)
        h.pyo_json_positions.restype = ctypes.c_long
        h.pyo_json_positions.argtypes = (
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int64, u64p,
        )  # fmt: skip
        h.pyo_json_pointers.restype = ctypes.c_long
        h.pyo_json_pointers.argtypes = (
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, u64p, u64p,
        )  # fmt: skip
        h.pyo_request.restype = ctypes.c_int
        h.pyo_request.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)

    def _check_layout(self) -> None:
        try:
            tag = ctypes.c_uint32.in_dll(self.vendor, "OffloadHarnessLayoutTag").value
        except ValueError:
            raise LibraryError(
                f"{self.path} was not built against pytest-offload's headers (it has no "
                "OffloadHarnessLayoutTag): include <offload_harness.h> in the file that "
                "defines OffloadHarnessSetOptions, with -I$(pytest-offload include-dir)"
            ) from None
        if tag != LAYOUT_TAG:
            ttl, cached, block, delegated = (
                tag >> 24,
                tag >> 16 & 0xFF,
                tag >> 8 & 0xFF,
                tag & 0xFF,
            )
            raise LibraryError(
                f"{self.path} was built with another structure layout than Windows x64 "
                f"(TCP_OFFLOAD_STATE_CACHED.TtlOrHopLimit at {ttl:#x}, sizeof "
                f"TCP_OFFLOAD_STATE_CACHED {cached:#x}, NDIS_MINIPORT_OFFLOAD_BLOCK_LIST "
                f"{block:#x}, TCP_OFFLOAD_STATE_DELEGATED {delegated:#x}; expected 0x28, "
                "0x2c, 0x98, 0x80): build for x86-64 with -mms-bitfields"
            )

    # -- adapters ----------------------------------------------------------------------

    def initialize(self) -> tuple[Adapter, OffloadCapabilities]:
        """A fresh adapter (OffloadHarnessInitialize) and the declaration it filled."""
        self._adapters += 1
        handle = MINIPORT_HANDLE_BASE + 0x100 * self._adapters
        offload = _TcpConnectionOffload(
            Type=0x80,
            Revision=2,
            Size=ctypes.sizeof(_TcpConnectionOffload),
            Encapsulation=0x2,  # NDIS_ENCAPSULATION_IEEE_802_3
            Support=1 | 1 << 2,  # SupportIPv4, SupportIPv6: NDIS_OFFLOAD_SUPPORTED
        )
        limits = _Limits(
            Type=0x80,
            Revision=1,
            Size=ctypes.sizeof(_Limits),
            NdisMajorVersion=6,
            NdisMinorVersion=20,
            MaxInitialRcvWnd=_NO_LIMIT,
            MaxPathMtu=_NO_LIMIT,
            VlanCapacity=4094,
            NeighborCapacity=_NO_LIMIT,
            PathCapacity=_NO_LIMIT,
        )
        context = ctypes.c_void_p(0)
        status = self._initialize(handle, ctypes.byref(context), offload, limits) & 0xFFFFFFFF
        if status != 0:
            raise LibraryError(f"OffloadHarnessInitialize of {self.path} returned {status:#010x}")
        return Adapter(context.value or 0, handle), _capabilities(offload, limits, self.operations)

    def halt(self, adapter: Adapter) -> None:
        self._halt(adapter.context)

    # -- the harness's queue -----------------------------------------------------------

    def register(self, root: int, base: int, size: int, copy: int) -> tuple[int, int]:
        """Watch a tree: its index in the harness's table and the serial of this
        registration (completion events carry it in ``info``)."""
        serial = ctypes.c_uint64(0)
        index = int(self.harness.pyo_register(root, base, size, copy, ctypes.byref(serial)))
        return index, serial.value

    def unregister(self, tree: int) -> None:
        self.harness.pyo_unregister(tree)

    def copy_now(self, tree: int, into: int) -> None:
        self.harness.pyo_copy_now(tree, into)

    def wait(self, timeout_ms: int, into: Event) -> bool:
        return bool(self.harness.pyo_wait(timeout_ms, ctypes.byref(into)))

    def initiate(self, adapter: Adapter, root: int) -> None:
        """Call the registered InitiateOffloadHandler on this thread (the GIL released)."""
        self.harness.pyo_request(0, adapter.context, root)

    def request(self, operation: OffloadOperation, adapter: Adapter, root: int) -> bool:
        """Call the handler registered for ``operation`` on this thread (the GIL
        released); ``False`` when the library registered none."""
        return bool(self.harness.pyo_request(HANDLERS.index(operation), adapter.context, root))

    def diff(
        self, a: int, b: int, mask: int | None, size: int, limit: int = 64
    ) -> tuple[list[tuple[int, int]], int]:
        """Runs ``(start, end)`` where the ``size`` bytes at addresses ``a`` and ``b``
        differ under the mask at ``mask`` (``None``: everywhere), at most ``limit`` of
        them, and how many runs there are in all."""
        runs = (ctypes.c_uint64 * (2 * limit))()
        total = int(self.harness.pyo_diff(a, b, mask, size, runs, limit))
        return [(runs[2 * k], runs[2 * k + 1]) for k in range(min(total, limit))], total


def _capabilities(
    offload: _TcpConnectionOffload, limits: _Limits, operations: frozenset[OffloadOperation]
) -> OffloadCapabilities:
    def limit(value: int) -> int | None:
        return None if value == _NO_LIMIT else value

    count = min(int(limits.InterfaceVlanIdCount), _MAX_VLANS)
    return OffloadCapabilities(  # CapabilityError: an invalid declaration
        tcp_connection_offload_capacity=int(offload.TcpConnectionOffloadCapacity),
        support_ipv4=bool(offload.Support & 0x3),
        support_ipv6=bool(offload.Support >> 2 & 0x3),
        ndis_version=(int(limits.NdisMajorVersion), int(limits.NdisMinorVersion)),
        max_initial_rcv_wnd=int(limits.MaxInitialRcvWnd),
        max_path_mtu=int(limits.MaxPathMtu),
        interface_vlan_ids=frozenset(int(v) for v in limits.InterfaceVlanIds[:count]),
        vlan_capacity=int(limits.VlanCapacity),
        configurable_source_mac=bool(limits.ConfigurableSourceMac),
        source_mac_capacity=int(limits.SourceMacCapacity),
        neighbor_capacity=limit(int(limits.NeighborCapacity)),
        path_capacity=limit(int(limits.PathCapacity)),
        operations=operations,
    )
