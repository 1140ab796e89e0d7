"""A backend written from the StorageBackend contract alone passes enact_store.testing.

DictOfBytesBackend keeps each object as the bytes of ``encode_object`` in a
dict, with its write time, and tags in another dict: every instance over one
DictStore sees the same data, as processes sharing a database would. It
implements every optional capability but batching and read-only opening; its
factory gives the suite raw access to the dicts.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from time import time
from typing import Any

import enact_resource as er
import enact_store as es
from enact_store.testing import BackendFactory, BackendTests


class DictStore:
    """The location: objects (digest -> (bytes, write time)) and tags (name -> digest)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, float]] = {}
        self.tags: dict[str, str] = {}
        self.lock = threading.Lock()


class DictOfBytesBackend(es.StorageBackend):
    def __init__(self, where: DictStore) -> None:
        self.objects, self.tags, self.lock = where.objects, where.tags, where.lock

    def commit(self, packed_resource: es.PackedResource[Any]) -> None:
        data, digest = es.encode_object(packed_resource), packed_resource.ref.digest
        with self.lock:
            stored = self.objects.get(digest)
            if stored is None or stored[1] < time() - es.REFRESH_INTERVAL:
                self.objects[digest] = (data if stored is None else stored[0], time())

    def has(self, ref: es.Ref[Any]) -> bool:
        return ref.digest in self.objects

    def get(self, ref: es.Ref[Any]) -> er.ResourceDict | None:
        data = self.read_raw(ref.digest)
        where = self.location(ref.digest)
        return None if data is None else es.decode_object(ref.digest, data, where, self)

    def read_raw(self, digest: str) -> bytes | None:
        stored = self.objects.get(digest)
        return None if stored is None else stored[0]

    def iter_objects(self) -> Iterator[tuple[str, float]]:
        with self.lock:
            return iter([(digest, written) for digest, (_, written) in self.objects.items()])

    def refresh(self, digests: Iterable[str]) -> None:
        with self.lock:
            for digest in (d for d in digests if d in self.objects):
                self.objects[digest] = (self.objects[digest][0], time())

    def delete(self, digests: Iterable[str], older_than: float | None = None) -> list[str]:
        with self.lock:
            old = [d for d in digests if d in self.objects and self._before(d, older_than)]
            for digest in old:
                del self.objects[digest]
        return old

    def delete_all_or_none(self, digests: Iterable[str], older_than: float) -> bool:
        with self.lock:
            digests = set(digests)
            if not all(d in self.objects and self._before(d, older_than) for d in digests):
                return False
            for digest in digests:
                del self.objects[digest]
        return True

    def _before(self, digest: str, limit: float | None) -> bool:
        return limit is None or self.objects[digest][1] < limit

    def get_tag(self, name: str) -> str | None:
        digest = self.tags.get(name)
        return None if digest is None else es.Ref(digest).digest  # RefError if not a digest

    def set_tag(self, name: str, digest: str) -> None:
        with self.lock:
            self.tags[name] = digest

    def delete_tag(self, name: str) -> bool:
        with self.lock:
            return self.tags.pop(name, None) is not None

    def compare_and_set_tag(self, name: str, expected: str | None, new: str | None) -> bool:
        with self.lock:
            if self.tags.get(name) != expected:
                return False
            if new is None:
                self.tags.pop(name, None)
            else:
                self.tags[name] = new
            return True

    def list_tags(self) -> dict[str, str]:
        with self.lock:
            return dict(self.tags)


class DictOfBytesFactory(BackendFactory):
    def __init__(self, tmp_path: Path) -> None:
        super().__init__(tmp_path)
        self.where = DictStore()

    def open(self) -> es.StorageBackend:
        return DictOfBytesBackend(self.where)

    def read_raw(self, backend: es.StorageBackend, digest: str) -> bytes | None:
        stored = self.where.objects.get(digest)
        return None if stored is None else stored[0]

    def write_raw(self, backend: es.StorageBackend, digest: str, data: bytes) -> None:
        self.where.objects[digest] = (data, self.where.objects.get(digest, (b"", time()))[1])

    def write_raw_tag(self, backend: es.StorageBackend, name: str, value: str) -> None:
        self.where.tags[name] = value

    def age(self, backend: es.StorageBackend, digests: Iterable[str], seconds: float) -> None:
        for digest in digests:
            data, written = self.where.objects[digest]
            self.where.objects[digest] = (data, written - seconds)


class TestDictOfBytesBackend(BackendTests):
    factory_class = DictOfBytesFactory


README = Path(__file__).resolve().parents[2] / "packages" / "enact-store" / "README.md"


def test_the_readme_example_runs_the_suite_with_pytest(tmp_path: Path) -> None:
    # The enact-store README's example, as a third party would write it: a
    # test file of its own, run by pytest outside the repo's tests.
    block = re.search(r"^```\n(# test_my_backend\.py.*?)^```", README.read_text(), re.S | re.M)
    assert block, "the enact-store README should show test_my_backend.py"
    (tmp_path / "test_my_backend.py").write_text(block[1])

    def pytest(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    collected = pytest("--collect-only", "test_my_backend.py").splitlines()
    assert sum("::TestMyBackend::test_" in line for line in collected) > 100
    ran = pytest("-k", "test_tag_set_and_get or test_commit_returns_a_ref", "test_my_backend.py")
    assert "2 passed" in ran
