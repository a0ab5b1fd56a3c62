"""The recording host: PENDING at hand-over, completions, stray roots, late writes, timeouts."""

from __future__ import annotations

import threading
import time

import pytest

from pytest_offload import NdisStatus, OffloadBlockList
from pytest_offload.harness import RecordingHost
from tests.support import CAPS, DOCUMENTED, FnTarget, documented_example, write

S = NdisStatus


def test_hand_over_sets_every_status_to_pending() -> None:
    tree = documented_example()
    tree.status = S.SUCCESS  # left over from an earlier use of the tree
    seen: list[object] = []

    def look(host: RecordingHost, root: OffloadBlockList) -> None:
        seen.append(root.status)
        write(DOCUMENTED)(host, root)

    host = RecordingHost()
    obs = host.run_initiate(FnTarget(host, look), tree, capabilities=CAPS)
    assert seen == [S.PENDING]
    assert obs.snapshot.image.statuses == [S.PENDING] * 6


def test_completion_inside_the_call_is_recorded_with_thread_and_time() -> None:
    host = RecordingHost()
    obs = host.run_initiate(
        FnTarget(host, write(DOCUMENTED)), documented_example(), capabilities=CAPS
    )
    (completion,) = obs.completions
    assert completion.inside_call
    assert completion.matches_root
    assert completion.thread_name.startswith("offload-caller")
    assert 0 <= completion.seconds < 2


def test_completion_from_a_worker_thread_and_late_writes_are_seen() -> None:
    def later(host: RecordingHost, root: OffloadBlockList) -> None:
        def work() -> None:
            write(DOCUMENTED)(host, root)
            root.scratch[0] = "written after completing"

        threading.Thread(target=work, name="vendor-worker").start()

    host = RecordingHost()
    obs = host.run_initiate(FnTarget(host, later), documented_example(), capabilities=CAPS)
    (completion,) = obs.completions
    assert not completion.inside_call
    assert completion.thread_name == "vendor-worker"
    assert obs.completion_image is not None
    assert obs.final_image is not None
    assert obs.completion_image.target_fields(0) != obs.final_image.target_fields(0)


def test_a_completion_with_a_foreign_root_is_charged_to_the_waiting_initiate() -> None:
    def foreign(host: RecordingHost, root: OffloadBlockList) -> None:
        host.initiate_offload_complete(OffloadBlockList(4))

    host = RecordingHost(timeout=0.5)
    obs = host.run_initiate(FnTarget(host, foreign), documented_example(), capabilities=CAPS)
    assert host.stray_completions == 1
    assert [c.matches_root for c in obs.completions] == [False]


def test_a_target_that_blocks_forever_yields_an_observation_after_the_timeout() -> None:
    release = threading.Event()

    def block(host: RecordingHost, root: OffloadBlockList) -> None:
        release.wait(10)

    host = RecordingHost(timeout=0.1)
    started = time.monotonic()
    obs = host.run_initiate(FnTarget(host, block), documented_example(), capabilities=CAPS)
    release.set()
    assert time.monotonic() - started < 5
    assert obs.completions == ()
    assert not obs.completed
    assert obs.notes == ("initiate_offload had not returned after 0.1 s",)


def test_exceptions_are_recorded_not_raised() -> None:
    def boom(host: RecordingHost, root: OffloadBlockList) -> None:
        raise KeyError("ring")

    host = RecordingHost(timeout=0.1)
    obs = host.run_initiate(FnTarget(host, boom), documented_example(), capabilities=CAPS)
    assert obs.raised is not None
    assert str(obs.raised) == "KeyError: 'ring'"


def test_send_completions_are_recorded() -> None:
    from pytest_offload import NetBufferList

    nbl = NetBufferList(b"x")

    def send(host: RecordingHost, root: OffloadBlockList) -> None:
        write(DOCUMENTED)(host, root)
        host.tcp_offload_send_complete([nbl])

    host = RecordingHost()
    obs = host.run_initiate(FnTarget(host, send), documented_example(), capabilities=CAPS)
    assert obs.send_completed == (nbl,)


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout=0"):
        RecordingHost(timeout=0)
