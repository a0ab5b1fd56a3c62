#!/usr/bin/env python3
"""The example process target, broken one way per mode: ``broken_sim.py MODE``.

Each mode is a defect a real simulator or firmware bridge has: it crashes, hangs, writes
garbage or logs to stdout, answers for the wrong initiate. The tests run the suite
against each and expect the verdict (rule ID) or usage error the docs promise.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "process_target"))

from offload_sim import Simulator

MODE = sys.argv[1] if len(sys.argv) > 1 else "none"
PID_FILE = os.environ.get("BROKEN_SIM_PIDS")
if PID_FILE:  # the tests check that no child outlives a run
    with open(PID_FILE, "a", encoding="utf-8") as pids:
        pids.write(f"{os.getpid()}\n")


class Broken(Simulator):
    def reset(self) -> None:
        super().reset()
        self.initiates = 0

    def handshake(self, params: dict[str, Any]) -> dict[str, Any]:
        if MODE == "exit-in-handshake":
            print("firmware image not found: /lib/firmware/nic.bin", file=sys.stderr)
            sys.exit(3)
        if MODE == "old-protocol":
            return {**super().handshake(params), "protocol": "2.0"}
        if MODE == "bad-capabilities":
            return {**super().handshake(params), "capabilities": {"support_ipv4": "yes"}}
        return super().handshake(params)

    def handle(self, message: dict[str, Any]) -> bool:
        going = bool(super().handle(message))
        if message.get("method") == "reset" and MODE == "noise-after-reset":
            self.out.write("ready\n")  # on stdout, between cases
            self.out.flush()
        return going

    def send(self, message: dict[str, Any]) -> None:
        if MODE == "closeout" and message.get("method") == "initiate_offload_complete":
            self.initiates += 1
            if self.initiates >= 2:
                os.close(1)  # can no longer answer, but keeps running
                time.sleep(3600)
        if message.get("method") != "initiate_offload_complete":
            super().send(message)
            return
        params = message["params"]
        if MODE == "invalid-json":
            self.out.write(f"{{'initiate': {params['initiate']}, oops\n")
            self.out.flush()
            return
        if MODE == "schema":
            params["image"]["status"] = ["SUCCESS" for _ in params["image"]["status"]]
        elif MODE == "noise":
            self.out.write(f"debug: offloading {len(params['image']['status'])} blocks\n")
        elif MODE == "wrong-initiate":
            params["initiate"] += 1000
        elif MODE == "out-of-range":
            params["image"]["next_block"] = [9999] * len(params["image"]["status"])
        elif MODE == "oversized":
            params["padding"] = "x" * (3 << 20)
        elif MODE == "unknown-method":
            super().send({"jsonrpc": "2.0", "method": "hello", "params": {}})
        elif MODE == "crash":
            self.initiates += 1
            if self.initiates >= 2:  # the middle of a case: after its first initiate
                self.out.write('{"jsonrpc":"2.0","method":"initiate_off')
                self.out.flush()
                os.kill(os.getpid(), signal.SIGSEGV)
        elif MODE == "hang":
            self.initiates += 1
            if self.initiates >= 2:
                time.sleep(3600)
        elif MODE == "twice":
            super().send(message)
        super().send(message)


def main() -> int:
    if MODE == "banner":
        print("offload_sim 1.0 starting")  # on stdout, before the handshake
        sys.stdout.flush()
    if MODE == "refuse":
        line = sys.stdin.readline()
        request = json.loads(line)
        print(
            json.dumps(
                {"jsonrpc": "2.0", "id": request["id"], "error": {"code": 1, "message": "busy"}}
            ),
            flush=True,
        )
        return 0
    return int(Broken().serve(sys.stdin))


if __name__ == "__main__":
    sys.exit(main())
