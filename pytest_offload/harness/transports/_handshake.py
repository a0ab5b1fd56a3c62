"""Starting a conversation with a target program: the handshake a new child answers
first (protocol version, name, capabilities, operations), and the ``reset`` that gives a
case a fresh target on a child already running."""

from __future__ import annotations

import msgspec

from pytest_offload._version import __version__
from pytest_offload.harness._errors import TargetLoadError
from pytest_offload.harness.transports._child import (
    ChildDied,
    ChildProcess,
    RpcFailure,
    quote,
)
from pytest_offload.harness.transports._messages import (
    MAJOR,
    PROTOCOL_VERSION,
    Empty,
    HandshakeParams,
    HandshakeRequest,
    HandshakeResult,
    ResetRequest,
)
from pytest_offload.model import OffloadCapabilities, OffloadOperation

__all__ = ["HANDSHAKE_TIMEOUT", "handshake", "reset"]

#: Seconds a new child has to answer the handshake (a simulator may load firmware first).
HANDSHAKE_TIMEOUT = 30.0
#: The handshake's names of the operations (protocol 1.3), e.g. ``terminate_offload``.
_OPERATIONS = {op.method: op for op in OffloadOperation}


def handshake(child: ChildProcess, what: str) -> tuple[OffloadCapabilities, tuple[str, str]]:
    """Ask a new child (``what``: the program, as the user gave it) for the protocol it
    speaks and what it declares: its capabilities and its name and version.

    Raises:
        TargetLoadError: no answer in time, an exit, an error or an answer the protocol
            rejects, another major version, operations it cannot declare.
        CapabilityError: capabilities the model rejects (the user's to see).
    """
    request_id = child.next_id()
    payload = msgspec.json.encode(
        HandshakeRequest(
            "2.0",
            request_id,
            "handshake",
            HandshakeParams(PROTOCOL_VERSION, f"pytest-offload {__version__}"),
        )
    )
    try:
        raw = child.wait(child.call(request_id, "handshake", payload), HANDSHAKE_TIMEOUT)
    except TimeoutError:
        raise TargetLoadError(
            f"offload: {what} did not answer the handshake within "
            f"{HANDSHAKE_TIMEOUT:g} s (it must answer the first line on stdin; "
            f"docs/protocol.md); {_stderr(child)}"
        ) from None
    except ChildDied:
        raise TargetLoadError(
            f"offload: {what} {child.exit_description} during the handshake; {_stderr(child)}"
        ) from None
    except RpcFailure as exc:
        raise TargetLoadError(
            f"offload: {what} refused the handshake: {exc.error.message}; {_stderr(child)}"
        ) from None
    try:
        result = msgspec.json.decode(raw, type=HandshakeResult)
    except msgspec.ValidationError as exc:
        raise TargetLoadError(
            f"offload: {what} answered the handshake with {quote(bytes(raw))}, which the "
            f"protocol rejects: {exc} (docs/protocol.md, HandshakeResult)"
        ) from None
    major = result.protocol.split(".", 1)[0]
    if major != str(MAJOR):
        raise TargetLoadError(
            f"offload: {what} speaks protocol {result.protocol!r}; this suite speaks "
            f"{PROTOCOL_VERSION} (any {MAJOR}.x)"
        )
    declared = msgspec.structs.asdict(result.capabilities)
    declared["ndis_version"] = tuple(declared["ndis_version"])
    declared["interface_vlan_ids"] = frozenset(declared["interface_vlan_ids"])
    declared["operations"] = _operations(result, what)
    capabilities = OffloadCapabilities(**declared)  # CapabilityError: the user's to see
    return capabilities, (result.name, result.version)


def reset(child: ChildProcess, timeout: float) -> str | None:
    """Reset ``child``; what went wrong (a protocol error to report), or ``None``."""
    if not child.alive:
        return f"the target process {child.exit_description} between cases"
    request_id = child.next_id()
    payload = msgspec.json.encode(ResetRequest("2.0", request_id, "reset", Empty()))
    wait = max(timeout, 1.0)
    try:
        child.wait(child.call(request_id, "reset", payload), wait)
    except TimeoutError:
        return f"no answer to reset within {wait:g} s"
    except ChildDied:
        return f"the target process {child.exit_description} when asked to reset"
    except RpcFailure as exc:
        return f"reset answered with an error: {exc.error.message}"
    return None


def _stderr(child: ChildProcess) -> str:
    tail = child.stderr_tail()
    return f"its stderr ends with:\n{tail}" if tail else "it wrote nothing to stderr"


def _operations(result: HandshakeResult, what: str) -> frozenset[OffloadOperation]:
    """The operations a handshake declares (names of a later minor version are ignored).

    Raises:
        TargetLoadError: no ``initiate_offload``, or a name this suite's version defines
            no operation for.
    """
    found: set[OffloadOperation] = set()
    unknown = []
    for name in result.operations:
        op = _OPERATIONS.get(name)
        if op is None:
            unknown.append(name)
        else:
            found.add(op)
    later = _minor(result.protocol) > _minor(PROTOCOL_VERSION)
    if unknown and not later:
        raise TargetLoadError(
            f"offload: {what} declares operations {unknown!r}, which protocol "
            f"{result.protocol} does not define (known: {sorted(_OPERATIONS)})"
        )
    if OffloadOperation.INITIATE not in found:
        raise TargetLoadError(
            f"offload: {what} declares operations {result.operations!r} without "
            '"initiate_offload", which every target implements (docs/protocol.md)'
        )
    return frozenset(found)


def _minor(version: str) -> int:
    try:
        return int(version.split(".")[1])
    except (IndexError, ValueError):
        return 0
