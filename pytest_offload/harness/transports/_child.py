"""One target process: started, read, written, watched and ended; it never takes the run down.

The child's stdout carries the protocol, one JSON-RPC message per line; its stderr is read
into a bounded tail for reports. Two reader threads per child keep both pipes drained, so
a chatty or stuck child can never block the suite; a line over the size limit is dropped
as it arrives, never held in memory whole. Every child ever started is ended when the
session ends, on Ctrl-C and at interpreter exit (:func:`end_all`).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import select
import signal
import subprocess
import threading
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from pytest_offload.harness._host import never_join
from pytest_offload.harness.transports._messages import (
    Empty,
    Incoming,
    RpcError,
    ShutdownRequest,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = [
    "BASE_LIMIT",
    "ChildDied",
    "ChildProcess",
    "Listener",
    "end_all",
    "initiate_named",
    "quote",
]

#: The size limit of one message from a target, before the trees in flight add to it.
BASE_LIMIT = 1 << 20
#: What each block in flight adds to the limit (a completion image with every field).
PER_BLOCK_LIMIT = 2048
_STDERR_TAIL = 40
_STDERR_LINE = 500
_QUOTE = 200

_LIVE: weakref.WeakSet[ChildProcess] = weakref.WeakSet()


def end_all() -> None:
    """End every child still running (session end, Ctrl-C, interpreter exit)."""
    for child in list(_LIVE):
        child.kill()


atexit.register(end_all)


def _chunks(fd: int) -> Iterator[bytes]:
    """What a pipe delivers, as it arrives (at most 64 KiB a read), until it ends."""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            return
        if not chunk:
            return
        yield chunk


def _log_line(raw: bytes) -> str:
    """A line of a child's stderr as the tail keeps it."""
    return raw[: 4 * _STDERR_LINE].decode("utf-8", "replace")[:_STDERR_LINE]


def quote(line: bytes | str, limit: int = _QUOTE) -> str:
    """A line as a report quotes it: printable, cut at ``limit`` characters."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = repr(text[:limit])
    return text + (f"... ({len(line)} bytes)" if len(line) > limit else "")


class ChildDied(Exception):
    """The target process ended (or was ended) before answering."""


class Listener(Protocol):
    """Where a child's messages, protocol errors and exit go (the current case)."""

    def on_message(self, child: ChildProcess, message: Incoming, line: bytes) -> None: ...

    def on_wire_error(self, child: ChildProcess, text: str, initiate: int | None) -> None: ...

    def on_exit(self, child: ChildProcess, description: str) -> None: ...


class _Call:
    __slots__ = ("done", "error", "method", "result")

    def __init__(self, method: str) -> None:
        self.method = method
        self.done = threading.Event()
        self.result: msgspec.Raw | None = None
        self.error: RpcError | ChildDied | None = None


class ChildProcess:
    """A target program speaking the protocol on stdin/stdout.

    Raises:
        OSError: from the constructor, when the program cannot be started.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: dict[str, str],
        listener: Listener,
    ) -> None:
        self.argv = list(argv)
        self.listener = listener
        self.limit = BASE_LIMIT
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._calls: dict[int, _Call] = {}
        self._stderr: deque[str] = deque(maxlen=_STDERR_TAIL)
        self._decoder = msgspec.json.Decoder(Incoming)
        self.exit_description: str | None = None
        self._ended = threading.Event()
        self.process = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            bufsize=0,
            # Its own session: Ctrl-C in the terminal reaches the suite, which ends the
            # child, instead of killing the child mid-case.
            start_new_session=True,
        )
        _LIVE.add(self)
        self._stdout_thread = threading.Thread(
            target=self._read_stdout, name=f"offload-wire[{self.process.pid}]", daemon=True
        )
        self._stderr_thread = threading.Thread(
            target=self._read_stderr, name=f"offload-stderr[{self.process.pid}]", daemon=True
        )
        never_join(self._stdout_thread)
        self._stdout_thread.start()
        self._stderr_thread.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.exit_description is None and self.process.poll() is None

    def stderr_tail(self, lines: int = 15) -> str:
        """The last lines the child wrote to stderr."""
        with self._lock:
            tail = list(self._stderr)[-lines:]
        return "\n".join(tail)

    def describe_exit(self) -> str:
        """How the child ended, and the tail of its stderr."""
        text = self.exit_description or "is still running"
        tail = self.stderr_tail()
        return f"{text}; stderr tail:\n{tail}" if tail else f"{text} (nothing on stderr)"

    # -- writing -------------------------------------------------------------------------

    def next_id(self) -> int:
        return next(self._ids)

    def call(self, request_id: int, method: str, payload: bytes) -> _Call:
        """Send a request (``payload`` is its encoded JSON) and return its pending answer."""
        pending = _Call(method)
        with self._lock:
            self._calls[request_id] = pending
            if self.exit_description is not None:
                pending.error = ChildDied(self.exit_description)
                pending.done.set()
                return pending
        self.write(payload)
        return pending

    def write(self, payload: bytes) -> None:
        """Write one message; a child that stopped reading is treated as one that died.

        The write blocks while the pipe is full: a child that stops reading mid-message is
        a hang, which the host's timeout ends by ending the child (the write then fails).
        """
        stdin = self.process.stdin
        assert stdin is not None
        data = memoryview(payload + b"\n")
        with self._write_lock:
            try:
                while data:  # the pipe takes part of a message when a signal interrupts it
                    written = stdin.write(data)
                    if not written:
                        raise BrokenPipeError  # nothing taken from a blocking pipe: gone
                    data = data[written:]
            except (BrokenPipeError, OSError, ValueError):
                self._died_writing()

    def write_now(self, payload: bytes, timeout: float) -> bool:
        """Write a short message (under ``select.PIPE_BUF`` bytes, so all or nothing) only
        if it can go within ``timeout``: no other write under way and room in the pipe.
        Whether it was written."""
        stdin = self.process.stdin
        assert stdin is not None
        line = payload + b"\n"
        if len(line) > select.PIPE_BUF or not self._write_lock.acquire(timeout=timeout):
            return False
        try:
            poller = select.poll()
            poller.register(stdin.fileno(), select.POLLOUT)
            if not poller.poll(timeout * 1000):
                return False  # the child stopped reading and the pipe is full
            return os.write(stdin.fileno(), line) == len(line)
        except (OSError, ValueError):
            return False
        finally:
            self._write_lock.release()

    def wait(self, pending: _Call, timeout: float | None) -> msgspec.Raw:
        """The result of a request.

        Raises:
            TimeoutError: no answer within ``timeout``.
            ChildDied: the child ended first.
            RpcFailure: the child answered with an error.
        """
        if not pending.done.wait(timeout):
            raise TimeoutError(f"no answer to {pending.method} within {timeout:g} s")
        if isinstance(pending.error, ChildDied):
            raise pending.error
        if pending.error is not None:
            raise RpcFailure(pending.error)
        assert pending.result is not None
        return pending.result

    # -- reading -------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        buffer = bytearray()
        dropping = 0
        for chunk in _chunks(stdout.fileno()):
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                if end < 0:
                    if dropping:
                        dropping += len(chunk) - start
                    else:
                        buffer += chunk[start:]
                        if len(buffer) > self.limit:
                            dropping = len(buffer)
                            head = bytes(buffer[:_QUOTE])
                            buffer.clear()
                            self._oversize(head, dropping)
                    break
                if dropping:
                    dropping = 0
                else:
                    buffer += chunk[start:end]
                    line = bytes(buffer)
                    buffer.clear()
                    if len(line) > self.limit:
                        self._oversize(line[:_QUOTE], len(line))
                    else:
                        self._line(line)
                start = end + 1
        self._exited(bytes(buffer[:_QUOTE]) if buffer else b"")

    def _oversize(self, head: bytes, size: int) -> None:
        self.listener.on_wire_error(
            self,
            f"a message over the size limit of {self.limit:,} bytes (at least {size:,} "
            f"bytes, dropped), starting {quote(head)}",
            None,
        )

    def _line(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            return  # blank lines carry nothing and break nothing
        try:
            message = self._decoder.decode(line)
        except msgspec.ValidationError as exc:
            self.listener.on_wire_error(
                self,
                f"not a JSON-RPC 2.0 message ({exc}): {quote(line)}",
                initiate_named(line, "params"),
            )
            return
        except msgspec.DecodeError as exc:
            self.listener.on_wire_error(self, f"invalid JSON ({exc}): {quote(line)}", None)
            return
        if message.method is msgspec.UNSET:
            self._response(message, line)
        else:
            self.listener.on_message(self, message, line)

    def _response(self, message: Incoming, line: bytes) -> None:
        request_id = message.id
        with self._lock:
            pending = (
                self._calls.pop(request_id, None)
                if type(request_id) is int and not isinstance(request_id, bool)
                else None
            )
        if pending is None:
            self.listener.on_wire_error(
                self,
                f"a response to request id {request_id!r}, which the suite never sent or "
                f"already had answered: {quote(line)}",
                None,
            )
            return
        if message.error is not msgspec.UNSET:
            pending.error = message.error
        elif message.result is not msgspec.UNSET:
            pending.result = message.result
        else:
            self.listener.on_wire_error(
                self,
                f"the response to {pending.method} has neither result nor error: {quote(line)}",
                None,
            )
            pending.error = RpcError(-32600, "invalid response")
        pending.done.set()

    def _read_stderr(self) -> None:
        """Keep the last lines of the child's log, reading as fast as it writes: whole
        chunks (an unbuffered pipe's ``readline`` reads a byte per system call, which held
        a chatty target blocked in its own logging for seconds), each line cut to
        ``_STDERR_LINE`` characters, a line longer than a chunk never held whole."""
        stderr = self.process.stderr
        assert stderr is not None
        partial = b""  # the start of the line still being written (bounded)
        for chunk in _chunks(stderr.fileno()):
            lines = chunk.split(b"\n")
            lines[0] = partial + lines[0]
            partial = lines.pop()[: 4 * _STDERR_LINE]  # UTF-8: at most 4 bytes a character
            if lines:
                texts = [_log_line(raw) for raw in lines[-_STDERR_TAIL:]]
                with self._lock:
                    self._stderr.extend(texts)
        if partial:
            with self._lock:
                self._stderr.append(_log_line(partial))

    # -- ending --------------------------------------------------------------------------

    def _died_writing(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(0.5)

    def _exited(self, partial: bytes) -> None:
        """stdout is closed: wait for the exit status, tell the listener, fail every call."""
        try:
            code: int | None = self.process.wait(0.2)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            # It can no longer answer: end it now, so that the verdict (a crash) does not
            # depend on how long it would have kept running.
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(2.0)
        self._stderr_thread.join(0.5)
        if code is None:
            description = "closed its stdout while still running (the suite ended it)"
        elif code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            description = f"was killed by signal {-code} ({name})"
        else:
            description = f"exited with status {code}"
        if partial:
            description += f", leaving an unfinished line {quote(partial)}"
        with self._lock:
            killed = self._ended.is_set()
            self.exit_description = description
            calls = list(self._calls.values())
            self._calls.clear()
        if not killed:
            self.listener.on_exit(self, description)
        for pending in calls:
            pending.error = ChildDied(description)
            pending.done.set()
        _LIVE.discard(self)

    def kill(self) -> None:
        """End the child now (SIGKILL to its process group) and release every waiter."""
        self._ended.set()
        process = self.process
        if process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(2.0)
        for pipe in (process.stdin,):
            with contextlib.suppress(OSError, ValueError):
                if pipe is not None:
                    pipe.close()
        self._stdout_thread.join(2.0)
        for stream in (process.stdout, process.stderr):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
        _LIVE.discard(self)

    def shutdown(self, timeout: float = 1.0) -> None:
        """Ask the child to exit (``shutdown``), then end it if it has not. Never blocks
        for longer than about three times ``timeout`` plus :meth:`kill`: a child that
        stopped reading (a full pipe, a write of the suite's still under way) is not asked."""
        if self.alive:
            request_id = self.next_id()
            payload = msgspec.json.encode(ShutdownRequest("2.0", request_id, "shutdown", Empty()))
            self._ended.set()
            pending = _Call("shutdown")
            with self._lock:
                self._calls[request_id] = pending
            if self.write_now(payload, timeout):
                with contextlib.suppress(Exception):
                    self.wait(pending, timeout)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout)
        self.kill()


class RpcFailure(Exception):
    """A request was answered with a JSON-RPC error."""

    def __init__(self, error: RpcError) -> None:
        super().__init__(error.message)
        self.error = error


def initiate_named(payload: bytes, *within: str) -> int | None:
    """The ``initiate`` a message the schema rejected names (under the keys ``within``,
    e.g. ``"params"`` for a whole message), if it can be read at all."""
    try:
        data: Any = msgspec.json.decode(payload)
        for key in within:
            data = data[key]
        value = data["initiate"]
    except Exception:  # garbage: no initiate to name
        return None
    return value if type(value) is int else None
