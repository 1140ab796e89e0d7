"""Records outlive the code: a later version of a program reads, replays and verifies old runs.

Each test runs the first version of a program in one process (which records
a run and tags it), then a changed version in another (a field added with a
default, a field replaced with a migration, the class renamed with an alias),
on every persistent backend, as a user who edits their classes would.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from _store_testlib import BackendFactory

VERSION_1 = """
import dataclasses, sys
import enact

@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Greeter(enact.Invokable):
    greeting: str

    def call(self, name: enact.Str) -> enact.Str:
        return enact.Str(f"{self.greeting} {name}")

@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class Main(enact.Invokable):
    def call(self) -> enact.Str:
        return enact.Str(Greeter("Hello")("Ada") + " / " + Greeter("Hi")("Bob"))

with enact.open_store(sys.argv[1]) as store:
    store.tags["run"] = enact.commit(Main().invoke())
"""

# What every later version checks: the old run reads, a replay of it reuses
# every recorded call (nothing runs: Main.call would print), verify is clean.
CHECK = """
with enact.open_store(sys.argv[1]) as store:
    run = store.tags["run"]()
    print("output", run.get_output())
    print("invokables", [child.request().invokable() for child in run.get_children()])
    again = run.replay()
    print("replayed", again == run)
    print("verify", store.verify().ok)
"""

MAIN = """
@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class Main(enact.Invokable):
    def call(self) -> enact.Str:
        print("Main ran")
        raise AssertionError("a reused call must not run")
"""

ADDED_FIELD = """
import dataclasses, sys
import enact

@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Greeter(enact.Invokable):
    greeting: str
    punctuation: str = "!"

    def call(self, name: enact.Str) -> enact.Str:
        return enact.Str(f"{self.greeting} {name}{self.punctuation}")
"""

MIGRATED_FIELD = """
import dataclasses, sys
import enact

@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Greeter(enact.Invokable):
    words: list

    @classmethod
    def migrate_fields(cls, fields, stored_name):
        return {"words": fields["greeting"].split()}

    def call(self, name: enact.Str) -> enact.Str:
        return enact.Str(" ".join([*self.words, name]))
"""

RENAMED_CLASS = """
import dataclasses, sys
import enact

@enact.typed_invokable(enact.Str, enact.Str)
@enact.register(aliases=["__main__.Greeter"])
@dataclasses.dataclass
class Welcomer(enact.Invokable):
    greeting: str

    def call(self, name: enact.Str) -> enact.Str:
        return enact.Str(f"{self.greeting} {name}")
"""


def run(script: str, url: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    ("version_2", "invokables"),
    [
        (
            ADDED_FIELD,
            "[Greeter(greeting='Hello', punctuation='!'), Greeter(greeting='Hi', punctuation='!')]",
        ),
        (MIGRATED_FIELD, "[Greeter(words=['Hello']), Greeter(words=['Hi'])]"),
        (RENAMED_CLASS, "[Welcomer(greeting='Hello'), Welcomer(greeting='Hi')]"),
    ],
    ids=["added-field-with-default", "field-replaced-by-migration", "class-renamed-with-alias"],
)
def test_a_changed_program_reads_replays_and_verifies_the_old_run(
    persistent_factory: BackendFactory, version_2: str, invokables: str
) -> None:
    url = persistent_factory.url
    run(VERSION_1, url)

    lines = run(version_2 + MAIN + CHECK, url)

    assert lines == [
        "output Hello Ada / Hi Bob",
        f"invokables {invokables}",
        "replayed True",
        "verify True",
    ]


def test_an_unmigrated_change_names_the_fields_that_differ(
    persistent_factory: BackendFactory,
) -> None:
    url = persistent_factory.url
    run(VERSION_1, url)
    changed = """
import dataclasses, sys
import enact

@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class Greeter(enact.Invokable):
    salutation: str

    def call(self, name: enact.Str) -> enact.Str:
        return enact.Str(f"{self.salutation} {name}")

with enact.open_store(sys.argv[1]) as store:
    child = store.tags["run"]().get_children()[0]
    try:
        child.request().invokable()
    except enact.SchemaMismatchError as e:
        print(e)
"""

    (message,) = run(changed, url)

    assert "has fields ['greeting']" in message
    assert "has fields ['salutation']" in message
    assert "['salutation'] are not stored and have no default" in message
    assert "['greeting'] are not fields of the class" in message
