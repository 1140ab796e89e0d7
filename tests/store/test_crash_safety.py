"""An object whose commit returned survives the committing process being killed (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from _store_testlib import BackendFactory, Box

import enact_store as es

WORKER = Path(__file__).with_name("_store_worker.py")
PRINTED = 200  # digests to collect before the kill
TIMEOUT = 60  # seconds before a stuck child is killed and the test fails


def _commit_until_killed(url: str, nonce: str) -> tuple[list[str], int, str]:
    """Runs a child that commits in a loop; SIGKILLs it after PRINTED digests."""
    child = subprocess.Popen(
        [sys.executable, str(WORKER), "crash", url, nonce],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    watchdog = threading.Timer(TIMEOUT, child.kill)
    watchdog.start()
    digests: list[str] = []
    try:
        assert child.stdout is not None
        while len(digests) < PRINTED:
            line = child.stdout.readline()
            if not line:
                break
            digests.append(line.strip())
        # Without waiting for the child: it is killed mid-stride, most
        # likely in the middle of another commit.
        child.send_signal(signal.SIGKILL)
        _, stderr = child.communicate(timeout=TIMEOUT)
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
    return digests, child.returncode, stderr


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_committed_objects_survive_sigkill_of_the_committing_process(
    persistent_factory: BackendFactory,
) -> None:
    factory = persistent_factory
    nonce = uuid.uuid4().hex

    digests, returncode, stderr = _commit_until_killed(factory.url, nonce)

    assert len(digests) == PRINTED, f"child stopped early (exit {returncode}):\n{stderr}"
    assert returncode == -signal.SIGKILL
    store = es.Store(factory())
    with store:
        for i, digest in enumerate(digests):
            resource: Box = es.Ref(digest).get()  # a fresh ref: read and verified
            assert resource.value["nonce"] == nonce
            assert resource.value["i"] == i
        # No partially written object is visible either: every object
        # the store lists (including any being written at the kill) verifies.
        listed = list(store.backend.iter_digests())
        assert set(digests) <= set(listed)
        for digest in listed:
            store.load(es.Ref(digest))
