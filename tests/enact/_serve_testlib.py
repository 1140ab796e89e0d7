"""Helpers shared by the tests of `enact serve` (not a test module).

The server runs in-process (``make_server`` in a thread) for the API tests, and
as ``python -m enact serve`` in a subprocess for the command and browser tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import enact
from enact._demo import WriteHaiku
from enact._serve import ViewerServer, make_server

STORE = Path(".enact") / "store.db"


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Complete(enact.Invokable[enact.Str, enact.Str]):
    """A stand-in for a model call."""

    model: str = "small"

    def call(self, prompt: enact.Str) -> enact.Str:
        return enact.Str(f"{self.model}:{prompt.upper()}")


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class Summarize(enact.Invokable[enact.NoneResource, enact.Str]):
    """Completes each text with the model, in order."""

    model: str = "small"
    texts: list[str] = dataclasses.field(default_factory=list)

    def call(self) -> enact.Str:
        return enact.Str(" ".join(Complete(self.model)(enact.Str(t)) for t in self.texts))


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class AskNumber(enact.Invokable[enact.NoneResource, enact.Int]):
    """Asks a person for a number and doubles it."""

    question: str = "How many?"

    def call(self) -> enact.Int:
        number = enact.request_input(enact.Int, context=self.question)
        return enact.Int(int(number) * 2)


@enact.typed_invokable(enact.NoneResource, enact.Int)
@dataclasses.dataclass
class FanOut(enact.Invokable[enact.NoneResource, enact.Int]):
    """Makes ``n`` child calls."""

    n: int = 3

    def call(self) -> enact.Int:
        return enact.Int(sum(len(Complete()(enact.Str(str(i)))) for i in range(self.n)))


@enact.typed_invokable(enact.Int, enact.Str)
@dataclasses.dataclass
class Nest(enact.Invokable[enact.Int, enact.Str]):
    """Calls itself ``depth`` levels down, and a model at each level."""

    def call(self, depth: enact.Int) -> enact.Str:
        below = Nest()(enact.Int(depth - 1)) if depth > 0 else enact.Str("")
        return enact.Str(Complete()(enact.Str(f"level {depth}")) + " " + below)


_DRAWS = itertools.count()


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Draw(enact.Invokable[enact.Str, enact.Str]):
    """A sampler: a new output on every run for the same request."""

    def call(self, item: enact.Str) -> enact.Str:
        return enact.Str(f"{item}#{next(_DRAWS)}")


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class DrawAll(enact.Invokable[enact.NoneResource, enact.Str]):
    """Samples for each item, in order."""

    items: list[str] = dataclasses.field(default_factory=list)

    def call(self) -> enact.Str:
        return enact.Str(",".join(Draw()(enact.Str(item)) for item in self.items))


#: What Watched.__post_init__ saw: a class built from stored data runs it.
CONSTRUCTED: list[str] = []


@enact.register
@dataclasses.dataclass
class Watched(enact.Resource):
    """A resource whose construction is noticed."""

    value: str

    def __post_init__(self) -> None:
        CONSTRUCTED.append(self.value)


@enact.typed_invokable(enact.NoneResource, Watched)
@dataclasses.dataclass
class AskWatched(enact.Invokable[enact.NoneResource, Watched]):
    """Asks a person for a resource of a dataclass type."""

    def call(self) -> Watched:
        given = enact.request_input(Watched, context="What to watch?")
        return Watched(given.value.upper())


@enact.typed_invokable(Watched, Watched)
@dataclasses.dataclass
class Echo(enact.Invokable[Watched, Watched]):
    """Returns its input."""

    def call(self, given: Watched) -> Watched:
        return Watched(given.value + "!")


#: A module of types that the test process never imports (so they are unknown to it).
FARAWAY = """\
import dataclasses
import enact


@enact.register
@dataclasses.dataclass
class Secret(enact.Resource):
    code: str
    level: int


@enact.typed_invokable(Secret, enact.Str)
@dataclasses.dataclass
class Guard(enact.Invokable):
    motto: str = "none shall pass"

    def call(self, secret):
        word = enact.request_input(enact.Str, context=f"Password for {secret.code}?")
        return enact.Str(word)
"""

FARAWAY_RUN = """\
import enact, faraway_types
with enact.open_store("sqlite:///.enact/store.db") as store:
    run = faraway_types.Guard().invoke(faraway_types.Secret("vault", 3))
    store.tags["far/guard"] = store.commit(run)
    store.tags["far/secret"] = run.request().input
store.close()
"""


def make_faraway_run(cwd: Path) -> None:
    """Records, in a subprocess, a run paused on a request, of types this process lacks."""
    (cwd / "faraway_types.py").write_text(FARAWAY)
    subprocess.run([sys.executable, "-c", FARAWAY_RUN], cwd=cwd, check=True, timeout=60)


def record(cwd: Path, tag: str, invokable: enact.InvokableBase[Any, Any], arg: Any = None) -> str:
    """Invokes ``invokable`` tracked in the store of ``cwd``, tags the record; its digest."""
    store = enact.open_store(f"sqlite:///{cwd / STORE}", create=True)
    try:
        with store:
            ref = store.commit(invokable.invoke(arg))
            store.tags[tag] = ref
    finally:
        store.close()
    return ref.digest


def paused_demo_run(cwd: Path, tag: str = "inbox/winter") -> str:
    """A run of the demo's program paused on its input request, as `enact demo` makes it."""
    return record(cwd, tag, WriteHaiku(), enact.Str("winter"))


@dataclasses.dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """Requests to a server, as a page would make them."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.host = host
        self.port = port
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        token: bool = True,
    ) -> Response:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        sent = dict(headers or {})
        if token and self.token is not None:
            sent.setdefault("X-Enact-Token", self.token)
        try:
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            return Response(
                answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
            )
        finally:
            connection.close()

    def get(self, path: str, **options: Any) -> Response:
        return self.request("GET", path, **options)

    def api(self, path: str) -> Any:
        """GETs an API path that must succeed; its JSON."""
        response = self.get(path)
        assert response.status == 200, (response.status, response.body)
        return response.json()

    def post(self, path: str, value: Any, **options: Any) -> Response:
        headers = {"Content-Type": "application/json", **options.pop("headers", {})}
        return self.request("POST", path, json.dumps(value).encode(), headers, **options)


@contextlib.contextmanager
def serving(
    cwd: Path, *, writable: bool = False, token: str | None = None
) -> Iterator[tuple[Client, ViewerServer]]:
    """The server of the store in ``cwd``, in a thread of this process."""
    url = f"sqlite:///{cwd / STORE}"
    store = enact.open_store(url, read_only=not writable)
    server = make_server(store, writable=writable, token=token, label=url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Client("127.0.0.1", server.port, server.write_token), server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
        store.close()


class ServeProcess:
    """``python -m enact serve`` in a subprocess, stopped with Ctrl-C (SIGINT)."""

    def __init__(self, cwd: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("ENACT_STORE", "COLUMNS")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "enact", "serve", "--port", "0", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        # Read line by line to the end (communicate() would miss what readline buffered).
        self.first_line = self.process.stdout.readline()
        address = r"enact serve: (http://127\.0\.0\.1:(\d+)/(?:\?token=(\S+))?)\n$"
        found = re.match(address, self.first_line)
        if found is None:
            self.stop()
            raise AssertionError(f"unexpected first line {self.first_line!r}: {self.stderr}")
        self.url = found[1]
        self.port = int(found[2])
        self.token = found[3]
        self.client = Client("127.0.0.1", self.port, self.token)
        self.stderr = ""
        self.stdout = ""

    def stop(self) -> int:
        """Stops the server as Ctrl-C does; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.stdout = self.first_line + self.process.stdout.read()
        self.stderr = self.process.stderr.read()
        return self.process.returncode
