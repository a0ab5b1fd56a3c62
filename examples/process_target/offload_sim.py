#!/usr/bin/env python3
"""A TCP chimney offload target outside the suite: the process protocol, stdlib only.

It imports nothing of pytest_offload: it is what a firmware team's simulator looks like
from the suite's side of the pipe. Run it under the suite with

    pytest --offload-target="exec:python3 examples/process_target/offload_sim.py"

It reads one JSON-RPC 2.0 message per line on stdin and writes its own on stdout (only
protocol there; logs go to stderr). See README.md beside it and docs/protocol.md.

Its offload logic follows the NDIS rules the suite checks: a depth-first, breadth-next
walk; placeholders SUCCESS; a failed block's dependents FAILURE without being attempted;
OFFLOAD_PARTIAL_SUCCESS when some immediate dependent failed; one cause code per limit.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterable

PROTOCOL = "1.0"

SUCCESS = 0x00000000
PARTIAL = 0x40020004
FAILURE = 0xC0000001
TCP_ENTRIES = 0xC0231004
HW_ADDRESS_ENTRIES = 0xC0231008
VLAN_ENTRIES = 0xC0231009
TCP_RCV_WINDOW = 0xC023100C
PATH_MTU = 0xE0231014  # no public value: the suite's reading (docs/status-codes.md)

NEIGHBOR, IP4, IP6, TCP = 4, 8, 12, 17
LAYER_TYPES = ({NEIGHBOR}, {IP4, IP6}, {TCP})
LAYER_KINDS = ("neighbor", "path", "tcp")
NOT_OFFLOADABLE = {0, 1, 2, 3, 10}  # CLOSED, LISTEN, SYN_SENT, SYN_RCVD, TIME_WAIT

#: What this target declares in the handshake (OffloadCapabilities).
CAPABILITIES: dict[str, Any] = {
    "tcp_connection_offload_capacity": 8,
    "support_ipv4": True,
    "support_ipv6": True,
    "ndis_version": [6, 20],
    "max_initial_rcv_wnd": 262144,
    "max_path_mtu": 9000,
    "interface_vlan_ids": [],
    "vlan_capacity": 64,
    "configurable_source_mac": False,
    "source_mac_capacity": 0,
}


def log(*parts: object) -> None:
    print("offload_sim:", *parts, file=sys.stderr, flush=True)


class Simulator:
    """One offload target; ``reset`` makes a fresh one."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.reset()

    def reset(self) -> None:
        self.objects: dict[int, str] = {}  # context -> layer
        self.tcp_count = 0
        self.vlans: set[int] = set()
        self.next_context = 0x10000

    # -- the wire ----------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message, separators=(",", ":")) + "\n")
        self.out.flush()

    def reply(self, request_id: object, result: object) -> None:
        self.send({"jsonrpc": "2.0", "id": request_id, "result": result})

    def serve(self, lines: Iterable[str]) -> int:
        for line in lines:
            if not line.strip():
                continue
            message = json.loads(line)
            if not self.handle(message):
                break
        return 0

    def handle(self, message: dict[str, Any]) -> bool:
        """Answer one request; False after shutdown."""
        method, request_id = message.get("method"), message.get("id")
        params = message.get("params") or {}
        if method == "handshake":
            self.reply(request_id, self.handshake(params))
        elif method == "reset":
            self.reset()
            self.reply(request_id, None)
        elif method == "initiate_offload":
            self.initiate_offload(request_id, params)
        elif method == "shutdown":
            self.reply(request_id, None)
            return False
        else:
            self.send(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "error": {"code": -32601, "message": f"unknown method {method}"},
                }
            )
        return True

    def handshake(self, params: dict[str, Any]) -> dict[str, Any]:
        log("suite speaks protocol", params.get("protocol"))
        return {
            "protocol": PROTOCOL,
            "name": "offload_sim",
            "version": "1.0",
            "capabilities": CAPABILITIES,
        }

    # -- MiniportInitiateOffload ---------------------------------------------------------

    def initiate_offload(self, request_id: object, params: dict[str, Any]) -> None:
        tree = params["tree"]
        n = tree["count"]
        self.tree = tree
        # Columns: entry i of each list is block i (hand-over order); a column left out
        # holds its default for every block (no send data here, NULL words, ...).
        self.chains = tree.get("net_buffer_list_chain") or [None] * n
        self.status: dict[int, int] = {}
        self.contexts: dict[int, str] = {}
        self.sends: list[list[dict[str, Any]]] = []
        self.walk_chain(0, 0, parent_placeholder=False)
        image = {
            "status": [self.status.get(i, FAILURE) for i in range(n)],
            "context": [self.contexts.get(i) for i in range(n)],
        }
        # Complete inside the call (NDIS allows either), then return from it.
        self.send(
            {
                "jsonrpc": "2.0",
                "method": "initiate_offload_complete",
                "params": {"initiate": params["initiate"], "image": image},
            }
        )
        self.reply(request_id, None)
        for nbls in self.sends:  # send data of offloaded connections: transmitted, acked
            self.send(
                {
                    "jsonrpc": "2.0",
                    "method": "tcp_offload_send_complete",
                    "params": {"nbls": [{"id": n["id"], "status": SUCCESS} for n in nbls]},
                }
            )

    def walk_chain(self, first: int | None, depth: int, *, parent_placeholder: bool) -> None:
        position = first
        while position is not None:
            self.process(position, depth, parent_placeholder)
            position = self.tree["next_block"][position]

    def process(self, position: int, depth: int, parent_placeholder: bool) -> None:
        tree = self.tree
        below = tree["dependent_block_list"][position]
        state_type = tree["state_type"][position]
        if not tree["context_slot"][position]:  # a placeholder
            self.status[position] = SUCCESS
            if below is not None:
                self.walk_chain(below, depth + 1, parent_placeholder=True)
            return
        if depth > 2 or (depth == 2 and below is not None) or state_type not in LAYER_TYPES[depth]:
            self.fail(position, FAILURE)  # a malformed tree
            return
        context = tree["context"][position]
        if context is not None:
            self.linker(position, depth, context)
            return
        k = tree["state"][position]  # an index into tree["states"] (each sent once)
        state = None if k is None else tree["states"][k]
        if state is None or state["kind"] != LAYER_KINDS[depth] or (depth and parent_placeholder):
            self.fail(position, FAILURE)  # a new offload without its state or its parent
            return
        status = (self.admit_neighbor, self.admit_path, self.admit_tcp)[depth](state_type, state)
        if status != SUCCESS:
            self.fail(position, status)
            return
        context = self.next_context
        self.next_context += 0x40
        self.objects[context] = LAYER_KINDS[depth]
        self.contexts[position] = hex(context)
        if depth == 2 and self.chains[position]:
            self.sends.append(self.chains[position])
        if below is None:
            self.status[position] = SUCCESS
            return
        self.walk_chain(below, depth + 1, parent_placeholder=False)
        self.status[position] = self.from_dependents(position, offloaded=True)

    def linker(self, position: int, depth: int, context: str) -> None:
        if self.objects.get(int(context, 16)) != LAYER_KINDS[depth]:
            self.fail(position, FAILURE)  # names nothing this target holds
            return
        below = self.tree["dependent_block_list"][position]
        self.walk_chain(below, depth + 1, parent_placeholder=False)
        self.status[position] = self.from_dependents(position, offloaded=False)

    def dependents(self, position: int) -> list[int]:
        out: list[int] = []
        child = self.tree["dependent_block_list"][position]
        while child is not None:
            out.append(child)
            child = self.tree["next_block"][child]
        return out

    def from_dependents(self, position: int, *, offloaded: bool) -> int:
        children = self.dependents(position)
        done = sum(self.status[c] in (SUCCESS, PARTIAL) for c in children)
        if done == len(children):
            return SUCCESS
        if offloaded or done:
            return PARTIAL
        return FAILURE  # a linker none of whose dependents was offloaded

    def fail(self, position: int, status: int) -> None:
        """Fail a block; its dependents get FAILURE without being attempted."""
        self.status[position] = status
        stack = self.dependents(position)
        while stack:
            child = stack.pop()
            placeholder = not self.tree["context_slot"][child]
            self.status[child] = SUCCESS if placeholder else FAILURE
            stack.extend(self.dependents(child))

    # -- admission: one cause code per limit ---------------------------------------------

    def admit_neighbor(self, state_type: int, state: dict[str, Any]) -> int:
        const = state["const"]
        if any(_base64_bytes(const["dl_source_address"])):
            return HW_ADDRESS_ENTRIES  # no configurable source MAC
        vlan = const["vlan_id"]
        if vlan and vlan not in self.vlans:
            if len(self.vlans) >= CAPABILITIES["vlan_capacity"]:
                return VLAN_ENTRIES
            self.vlans.add(vlan)
        return SUCCESS

    def admit_path(self, state_type: int, state: dict[str, Any]) -> int:
        size = 16 if state_type == IP6 else 4
        const = state["const"]
        if len(_base64_bytes(const["source_address"])) != size:
            return FAILURE
        if len(_base64_bytes(const["destination_address"])) != size:
            return FAILURE
        if state["cached"]["path_mtu"] > CAPABILITIES["max_path_mtu"]:
            return PATH_MTU
        return SUCCESS

    def admit_tcp(self, state_type: int, state: dict[str, Any]) -> int:
        if state["cached"]["initial_rcv_wnd"] > CAPABILITIES["max_initial_rcv_wnd"]:
            return TCP_RCV_WINDOW
        if state["delegated"]["state"] in NOT_OFFLOADABLE:
            return FAILURE
        if self.tcp_count >= CAPABILITIES["tcp_connection_offload_capacity"]:
            return TCP_ENTRIES
        self.tcp_count += 1
        return SUCCESS


def _base64_bytes(text: str) -> bytes:
    return base64.b64decode(text)


def main() -> int:
    return Simulator().serve(sys.stdin)


if __name__ == "__main__":
    sys.exit(main())
