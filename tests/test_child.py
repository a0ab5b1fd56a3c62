"""One child process (transports/_child.py): ending it never blocks the suite."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING

from pytest_offload.harness.transports._child import ChildProcess

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_offload.harness.transports._messages import Incoming


class _Deaf:
    """A listener that takes every message and keeps none."""

    def on_message(self, child: ChildProcess, message: Incoming, line: bytes) -> None:
        pass

    def on_wire_error(self, child: ChildProcess, text: str, initiate: int | None) -> None:
        pass

    def on_exit(self, child: ChildProcess, description: str) -> None:
        pass


def test_shutdown_does_not_wait_behind_a_write_to_a_child_that_stopped_reading(
    tmp_path: Path,
) -> None:
    # A program that never reads its stdin: a message bigger than the pipe blocks its
    # writer, which holds the write lock, as a big initiate to a stuck target does.
    child = ChildProcess(
        [sys.executable, "-c", "import time; time.sleep(300)"],
        cwd=str(tmp_path),
        env=dict(os.environ),
        listener=_Deaf(),
    )
    writer = threading.Thread(target=child.write, args=(b"x" * (8 << 20),), daemon=True)
    writer.start()
    deadline = time.monotonic() + 10
    while not child._write_lock.locked() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert writer.is_alive(), "the write should be blocked on the full pipe"
    ender = threading.Thread(target=child.shutdown, daemon=True)
    ender.start()
    ender.join(30)
    assert not ender.is_alive(), "shutdown blocked behind the stuck write"
    assert child.process.poll() is not None  # ended
    writer.join(30)
    assert not writer.is_alive(), "the stuck write was not released by the child's end"
    assert not child.alive


CHATTY = """
import sys
line = b"log " + b"x" * 1000 + b"\\n"
for _ in range(64 * 1024):  # 64 MB of log lines
    sys.stderr.buffer.write(line)
sys.stderr.buffer.write("é".encode() * (3 << 20) + b"\\n")  # one 6 MB line
sys.stderr.buffer.write(b"last line\\n")
sys.stderr.buffer.write(b"no newline at the end")
"""


def test_a_chatty_child_is_never_held_up_by_its_own_log(tmp_path: Path) -> None:
    # The log is read in chunks as fast as the child writes it (64 MB here; a reader of a
    # byte per system call held it for about 40 s); the tail keeps the last lines, each cut.
    child = ChildProcess(
        [sys.executable, "-c", CHATTY], cwd=str(tmp_path), env=dict(os.environ), listener=_Deaf()
    )
    try:
        child.process.wait(30)
        child._stderr_thread.join(30)
        assert not child._stderr_thread.is_alive()
        tail = child.stderr_tail(3).split("\n")
        assert tail == ["é" * 500, "last line", "no newline at the end"]
        assert child.stderr_tail(4).split("\n")[0] == ("log " + "x" * 1000)[:500]
    finally:
        child.kill()
