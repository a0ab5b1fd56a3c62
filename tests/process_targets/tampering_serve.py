#!/usr/bin/env python3
"""The reference target served over protocol 1.3, its wire broken one way per mode.

``tampering_serve.py MODE``: the lifecycle defects a process target has on the wire (it
dies or hangs in a terminate, sends a short image, completes through the wrong
notification or with another block, twice, indicates an event for a handle it never
handed over). The tests
run the suite against each and expect the rule ID the protocol docs promise.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, BinaryIO

import reference_target
from pytest_offload.harness.transports._serve import serve

MODE = sys.argv[1] if len(sys.argv) > 1 else "none"


class Input:
    """stdin, with the requests a mode acts on intercepted."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw

    def readline(self) -> bytes:
        while True:
            line = self.raw.readline()
            if b'"method":"terminate_offload"' not in line:
                return line
            if MODE == "crash-in-terminate":
                print("firmware: double fault in the upload path", file=sys.stderr, flush=True)
                os._exit(9)
            if MODE != "hang-in-terminate":
                return line
            # A terminate that is never answered nor completed; the rest goes on.


class Output:
    """stdout, with the messages a mode changes rewritten."""

    def __init__(self) -> None:
        self.fd = os.dup(1)
        os.dup2(2, 1)  # what the target prints goes to stderr

    def write(self, payload: bytes) -> int:
        for line in payload.splitlines():
            message = json.loads(line)
            for out in self.rewrite(message):
                os.write(self.fd, json.dumps(out, separators=(",", ":")).encode() + b"\n")
        return len(payload)

    def flush(self) -> None:
        pass

    def rewrite(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        method = message.get("method")
        if method == "terminate_offload_complete":
            image = message["params"]["image"]
            if MODE == "short-terminate-image" and image.get("state"):
                image["state"] = image["state"][:-1]
            if MODE == "terminate-completes-as-update":
                message["method"] = "update_offload_complete"
            if MODE == "terminate-completed-with-a-block":
                message["params"]["completed_with"] = "0x7f10 (block 1, not the root)"
            if MODE == "terminate-completed-twice":
                return [message, message]
        if MODE == "long-invalidate-image" and method == "invalidate_offload_complete":
            image = message["params"]["image"]
            image["status"] = [*image["status"], 0]
        if MODE == "event-for-unknown-handle" and method == "initiate_offload_complete":
            event = {
                "jsonrpc": "2.0",
                "method": "tcp_offload_event",
                "params": {
                    "ndis_offload_handle": "0xdead0",
                    "event_type": 3,
                    "event_specific_information": 10,
                },
            }
            return [message, event]
        return [message]


if __name__ == "__main__":
    sys.exit(
        serve(
            reference_target.create_target,
            name=f"tampering_serve {MODE}",
            stdin=Input(sys.stdin.buffer),  # type: ignore[arg-type]
            stdout=Output(),  # type: ignore[arg-type]
        )
    )
