"""The ``enact`` command: the demo and tools to inspect and maintain a store.

Every command works on the store named by ``--store URL``, else by the
``ENACT_STORE`` environment variable, else ``sqlite:///.enact/store.db`` in
the current directory. Commands that only read a store never create one.

A user mistake (an unknown tag, a bad URL, a missing store, an ambiguous digest
prefix, a closed standard output, a missing optional dependency) is reported as
one line, ``enact: error: ...``, on stderr, with exit status 2 for a wrong
command line and 1 otherwise. Stored text is user content: what the commands
print never holds a character that could move the cursor or start a line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import re
import shutil
import signal
import sys
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO, cast

from enact import otel
from enact._demo import run_demo
from enact._json import object_json, tree_json, write_json
from enact._serve import is_loopback, make_server
from enact._tree import DEFAULT_WIDTH, RAW_SHOWN, escape, short, tree_lines
from enact_invoke import Invocation, cache_entries
from enact_resource import (
    EnactError,
    Registry,
    ResourceDict,
    StoredResource,
    TypeNotRegisteredError,
)
from enact_store import (
    DEFAULT_GRACE_PERIOD,
    FORMAT_VERSION,
    CorruptionError,
    FileBackend,
    GcRefused,
    NoStoreError,
    NotFound,
    Problem,
    Ref,
    SqliteBackend,
    Store,
    StoreConfigError,
    copy,
    open_store,
    pformat,
)

__all__ = ["DEFAULT_STORE", "main"]

DEFAULT_STORE = "sqlite:///.enact/store.db"
#: The port `enact serve` listens on unless told otherwise.
DEFAULT_PORT = 8765
#: Fewest hex digits accepted as a digest prefix.
MIN_PREFIX = 6
_HEX = re.compile(r"[0-9a-f]+")
_PASSWORD = re.compile(r"(://[^:/@]*):[^@/]*@")


class CliError(Exception):
    """A user mistake, reported as one line with exit status 1."""


class _OutputError(CliError):
    """Standard output cannot be written (closed, full disk, ...)."""


class _Output:
    """Stands in for ``sys.stdout`` while a command runs, so that a failed write says so.

    A write error would otherwise read like a problem with the store
    ("No space left on device"). A broken pipe passes through unchanged.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise _OutputError(f"cannot write to standard output: {e.strerror or e}") from e

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise _OutputError(f"cannot write to standard output: {e.strerror or e}") from e

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Parser(argparse.ArgumentParser):
    """Reports command-line mistakes as one line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        # Escaped: the message may quote an argument holding a newline or ESC.
        self.exit(2, f"enact: error: {escape(message)} (see '{self.prog} --help')\n")


# --- Opening stores. ---


def _store_url(args: argparse.Namespace) -> str:
    url: str | None = args.store or os.environ.get("ENACT_STORE") or None
    return url or DEFAULT_STORE


@contextlib.contextmanager
def _opened(
    url: str, *, read_only: bool = False, create: bool = False, hint: bool = True
) -> Iterator[Store]:
    """Opens a store (as the active one) and closes it afterwards.

    A store is created only with ``create`` (and never where something else
    is); ``read_only`` opens it so that nothing can be written.
    """
    try:
        store = open_store(url, create=create and not read_only, read_only=read_only)
    except NoStoreError as e:
        advice = (
            "; run `enact demo` to create one, or name another with --store URL or ENACT_STORE"
            if hint
            else ""
        )
        raise CliError(f"no store at {url} ({e.detail}){advice}") from e
    except ImportError as e:  # An optional dependency (psycopg) is not installed.
        raise CliError(f"cannot open the store: {e}") from e
    try:
        with store:
            yield store
    finally:
        store.close()


def _import_modules(names: Sequence[str]) -> None:
    """Imports the modules named with --import, so their resource types are registered.

    Each is a module name (``greeters``, ``pkg.greeters``) or the path of a
    Python file (``greeters.py``, ``path/to/greeters.py``): a file is imported
    as a module named after its stem, never as ``__main__``, so a script's
    ``if __name__ == "__main__":`` block does not run.
    """
    if not names:
        return
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # As `python -m` does.
    for name in names:
        try:
            if _is_path(name):
                module = _import_file(name)
            else:
                module = importlib.import_module(name).__name__
        except CliError:
            raise
        except ImportError as e:
            raise CliError(f"cannot import {name!r} (from --import): {e}") from e
        except (Exception, SystemExit) as e:
            raise CliError(
                f"cannot import {name!r} (from --import): {type(e).__name__}: {e} (at {_where(e)})"
            ) from e
        _alias_main_names(module)


def _alias_main_names(module: str) -> None:
    """Lets the types a module registers read records stored as ``__main__.Name``.

    A script run as ``python script.py`` stores its types under ``__main__``;
    imported with --import it defines them under its own name. Each type the
    module registered gets the alias ``__main__.QualName`` (see
    ``register(aliases=...)``), so the stored records read as its classes.
    """
    registry = Registry.get()
    for cls in registry.types().values():
        if cls.__module__ != module or cls.type_name().startswith("__main__."):
            continue
        main_name = f"__main__.{cls.__qualname__}"
        aliases = registry.aliases(cls)
        if main_name not in aliases:
            registry.register(cls, aliases=[*aliases, main_name])


def _is_path(name: str) -> bool:
    """Whether an --import argument names a file rather than a module."""
    separators = [sep for sep in ("/", os.sep, os.altsep) if sep]
    return name.endswith(".py") or any(sep in name for sep in separators)


def _import_file(text: str) -> str:
    """Imports a Python file as the module named after its stem, as ``python -m`` would.

    Its directory goes first on ``sys.path`` (so its own imports work), and
    ``__name__`` is the stem. A module of that name imported already is not
    run again: from the same file it is simply kept; from another file it is
    an error. Returns the module's name.
    """
    path = Path(text)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise CliError(f"cannot import {text!r} (from --import): {path} {what}")
    path = path.resolve()
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        origin = getattr(loaded, "__file__", None)
        if origin is not None and Path(origin).resolve() == path:
            return name
        raise CliError(
            f"cannot import {text!r} (from --import): a module named {name!r} is already "
            f"imported from {origin or 'the interpreter'}; rename the file"
        )
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CliError(f"cannot import {text!r} (from --import): not a Python file")
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return name


def _where(error: BaseException) -> str:
    """``file:line`` where an exception was raised (for a SyntaxError: the bad line)."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"{error.filename}:{error.lineno}"
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "unknown location"


# --- Naming objects: tags, digests and digest prefixes. ---


def _tag(store: Store, name: str) -> Ref[Any] | None:
    """The ref a tag points at, or None if there is no such tag (or it is not a tag name)."""
    try:
        return store.tags[name]
    except (KeyError, ValueError):
        return None


def _resolve(store: Store, text: str) -> Ref[Any]:
    """Returns the ref a command-line argument names: a tag, a digest or a unique prefix."""
    tagged = _tag(store, text)
    if tagged is not None:
        return tagged
    hex_text = text.removeprefix("#").lower()
    if not _HEX.fullmatch(hex_text) or len(hex_text) > 64:
        raise CliError(f"unknown tag {text!r} (see `enact ls`)")
    if len(hex_text) < MIN_PREFIX:
        raise CliError(
            f"unknown tag {text!r}, and a digest prefix needs at least {MIN_PREFIX} hex digits"
        )
    if len(hex_text) == 64:
        ref: Ref[Any] = store.ref_type.from_digest(hex_text)
        if not store.has(ref):
            raise CliError(f"no object {hex_text} in the store")
        return ref
    matches = [d for d in store.backend.iter_digests() if d.startswith(hex_text)]
    if not matches:
        raise CliError(f"no tag or object matches {text!r}")
    if len(matches) > 1:
        shown = ", ".join(d[:12] for d in sorted(matches)[:3])
        more = ", ..." if len(matches) > 3 else ""
        raise CliError(
            f"ambiguous digest prefix {text!r}: {len(matches)} objects match "
            f"({shown}{more}); give more digits"
        )
    return store.ref_type.from_digest(matches[0])


# --- Progress on stderr. ---


class _Progress:
    """Shows ``label: done/total`` on stderr while a long operation runs.

    On a terminal the line is redrawn in place (at most ten times a second)
    and cleared at the end; otherwise only a final count line is written.
    """

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self._label = label
        self._stream = sys.stderr if stream is None else stream
        self._tty = self._stream.isatty()
        self._shown = 0.0
        self.done = 0
        self.total: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        if not self._tty:
            return
        now = time.monotonic()
        if now - self._shown >= 0.1 or done == total:
            self._shown = now
            self._stream.write(f"\r\x1b[K{self._label}: {self._text()} objects")
            self._stream.flush()

    def _text(self) -> str:
        return f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"

    def clear(self) -> None:
        """Clears the progress line on a terminal (and writes nothing otherwise)."""
        if self._tty:
            self._stream.write("\r\x1b[K")
            self._stream.flush()

    def finish(self, summary: str) -> None:
        """Clears the progress line (terminal) or writes ``label: summary`` (otherwise)."""
        if self._tty:
            self._stream.write("\r\x1b[K")
        else:
            self._stream.write(f"{self._label}: {summary}\n")
        self._stream.flush()


# --- Commands. ---


def _cmd_demo(args: argparse.Namespace) -> int:
    url = _store_url(args)
    ask = None
    if args.answer is None and sys.stdin is not None and sys.stdin.isatty():
        ask = _ask_terminal
    with _opened(url, create=True) as store:
        run_demo(store, url, answer=args.answer, ask=ask, out=sys.stdout, seed=args.seed)
    return 0


def _ask_terminal(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None


def _shown_name(rtype: type[Any]) -> str:
    """A class name as listings show it: a type this process lacks is marked raw."""
    if issubclass(rtype, StoredResource) and rtype.target() is None:
        return f"{rtype.__name__}[raw]"
    return str(rtype.__name__)


def _type_name(store: Store, ref: Ref[Any]) -> str:
    """The class name of a ref's target, without failing on unreadable objects."""
    try:
        rtype = store.load(ref).type
        if issubclass(rtype, StoredResource) and rtype.target() is None:
            return f"{rtype.stored_name} (not registered)"
        return rtype.__name__
    except TypeNotRegisteredError as e:
        return f"{_registered_name(e.type_id)} (not registered)"
    except NotFound:
        return "(missing)"
    except CorruptionError:
        return "(corrupt)"


def _registered_name(type_id: str) -> str:
    try:
        name = json.loads(type_id)["name"]
    except (ValueError, KeyError, TypeError):
        return type_id
    return str(name)


def _raw_note(names: set[str]) -> None:
    """Says on stderr which types were shown as stored, and how to show them as classes."""
    if not names:
        return
    shown = ", ".join(sorted(escape(name) for name in names))
    if all(name.startswith("__main__.") for name in names):
        how = "they were defined in a script run as __main__: pass --import path/to/that_script.py"
    else:
        how = "pass --import MODULE (or --import path/to/file.py) to read them as their classes"
    print(
        f"enact: note: shown as stored ([raw]), without their classes: {shown}; {how}",
        file=sys.stderr,
    )


def _raw_names(value: Any, found: set[str] | None = None) -> set[str]:
    """The stored names of the types without a class in a loaded object (refs not followed)."""
    found = set() if found is None else found
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, ResourceDict):
            if issubclass(item.type, StoredResource) and item.type.target() is None:
                found.add(item.type.stored_name)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, type) and issubclass(item, StoredResource) and not item.target():
            found.add(item.stored_name)
    return found


def _not_registered(type_id: str) -> str:
    """Why an object of an unregistered type cannot be read, and what to do about it."""
    name = _registered_name(type_id)
    if name.startswith("__main__."):
        return (
            f"cannot read an object of type {name}: the type was defined in a script run "
            "as __main__ (python script.py); pass --import path/to/that_script.py, the "
            f"script that defines {name.removeprefix('__main__.')}"
        )
    return (
        f"cannot read an object of type {name}: the type is not registered in this process "
        "(pass --import MODULE, or --import path/to/file.py, to import the module that "
        "defines it)"
    )


def _cmd_ls(args: argparse.Namespace) -> int:
    url = _store_url(args)
    with _opened(url, read_only=True) as store:
        tags = store.backend.list_tags()
        rows = []
        for name in sorted(tags):
            ref = store.ref_type.from_digest(tags[name])
            type_name = escape(_type_name(store, ref).rsplit(".", 1)[-1])
            rows.append((name, type_name, short(ref)))
        objects = sum(1 for _ in store.backend.iter_digests())
    if rows:
        widths = [max(len(row[i]) for row in rows) for i in range(2)]
        for name, type_name, digest in rows:
            print(f"{name:<{widths[0]}}  {type_name:<{widths[1]}}  {digest}")
    print(f"{_plural(len(rows), 'tag')}, {_plural(objects, 'object')} in {url}")
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _cmd_show(args: argparse.Namespace) -> int:
    with _opened(_store_url(args), read_only=True) as store:
        ref = _resolve(store, args.target)
        if args.json:
            # Refs are not followed unless --depth says so.
            write_json(object_json(store, ref, args.depth or 0), sys.stdout)
        else:
            # The object itself, as enact.pprint shows it; --depth counts hops
            # from it. Read with load(), so that objects of types this process
            # lacks print too, as their stored fields (marked [raw]).
            data = store.load(ref)
            # Values print as Python reprs, but names come from stored data too:
            # nothing stored may move the cursor or fake lines.
            text = pformat(data, max_ref_depth=args.depth)
            print("\n".join(escape(line) for line in text.split("\n")))
            _raw_note(_raw_names(data))
    return 0


def _cmd_tree(args: argparse.Namespace) -> int:
    with _opened(_store_url(args), read_only=True) as store:
        ref = _resolve(store, args.target)
        target = store.load(ref)
        if target.type is not Invocation:
            raise CliError(
                f"{escape(args.target)} is a {_shown_name(target.type)}, not an Invocation "
                f"(try `enact show {escape(args.target)}`)"
            )
        if args.json:
            write_json(tree_json(store, ref), sys.stdout)
            return 0
        width = None if args.full else _terminal_width()
        RAW_SHOWN.clear()
        for line in tree_lines(ref, width):
            print(line)
        _raw_note(RAW_SHOWN)
    return 0


def _terminal_width() -> int:
    """Columns of the terminal; else $COLUMNS; else DEFAULT_WIDTH (output to a pipe or file)."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def _cmd_tag(args: argparse.Namespace) -> int:
    target: str | None = args.target
    if args.delete and target is not None:
        _usage_error(args, "tag --delete takes only the tag NAME")
    if not args.delete and target is None:
        _usage_error(args, "tag needs NAME and REF|TAG (or --delete NAME)")
    with _opened(_store_url(args)) as store:
        old = _tag(store, args.name)
        if args.delete:
            if old is None:
                raise CliError(f"unknown tag {args.name!r} (see `enact ls`)")
            del store.tags[args.name]
            print(f"deleted tag {args.name} (was {short(old)})")
            return 0
        assert target is not None
        ref = _resolve(store, target)
        try:
            store.tags[args.name] = ref
        except ValueError as e:
            raise CliError(str(e)) from e
        type_name = _type_name(store, ref).rsplit(".", 1)[-1]
        if old is None:
            print(f"tagged {args.name} -> {type_name} {short(ref)}")
        elif old == ref:
            print(f"{args.name} already points at {type_name} {short(ref)}")
        else:
            print(f"moved tag {args.name}: {short(old)} -> {type_name} {short(ref)}")
    return 0


def _invokable_name(store: Store, invocation: Ref[Any]) -> str:
    """The type name of a recorded invocation's invokable, without failing on unreadable ones."""
    try:
        request = store.load(store.load(invocation)["request"])
        rtype = store.load(request["invokable"]).type
        if issubclass(rtype, StoredResource):
            return str(rtype.stored_name)
        return str(rtype.type_name())
    except TypeNotRegisteredError as e:
        return _registered_name(e.type_id)
    except NotFound:
        return "(missing)"
    except CorruptionError:
        return "(corrupt)"


def _cmd_cache_ls(args: argparse.Namespace) -> int:
    url = _store_url(args)
    with _opened(url, read_only=True) as store:
        rows = []
        for entry in cache_entries(store):
            name = _invokable_name(store, entry.invocation)
            if args.invokable is None or name == args.invokable:
                rows.append(
                    (escape(name), entry.version, entry.request_digest, short(entry.invocation))
                )
    rows.sort()
    if rows:
        width = max(len(row[0]) for row in rows)
        versions = max(len(row[1]) for row in rows)
        for name, version, request, invocation in rows:
            print(f"{name:<{width}}  v{version:<{versions}}  request {request[:12]}  {invocation}")
    print(f"{_plural(len(rows), 'cache entry')} in {url}".replace("entrys", "entries"))
    return 0


def _cmd_cache_clear(args: argparse.Namespace) -> int:
    url = _store_url(args)
    with _opened(url) as store:
        chosen = [
            entry
            for entry in cache_entries(store)
            if args.invokable is None or _invokable_name(store, entry.invocation) == args.invokable
        ]
        if args.invokable is not None and not chosen:
            raise CliError(f"no cache entries of {args.invokable} (see `enact cache ls`)")
        tags = store.tags
        for entry in chosen:
            tags.pop(entry.tag, None)
    what = _plural(len(chosen), "cache entry").replace("entrys", "entries")
    print(f"cleared {what} (`enact gc` then frees what only they kept)")
    return 0


def _usage_error(args: argparse.Namespace, message: str) -> NoReturn:
    parser: _Parser = args.parser
    parser.error(message)


def _cmd_verify(args: argparse.Namespace) -> int:
    url = _store_url(args)
    with _opened(url, read_only=True) as store:
        progress = _Progress("verify")
        report = store.verify(progress=progress)
    progress.finish(f"{report.checked} of {progress.total or 0} objects read")
    problems = report.problems
    for problem in problems:
        print(_problem_line(problem))
    if problems:
        print(f"{_plural(len(problems), 'problem')} in {url} ({report.checked} objects verified)")
        return 1
    print(f"ok: {_plural(report.checked, 'object')} verified in {url}, no problems")
    return 0


def _problem_line(problem: Problem) -> str:
    """One line for a problem verify or gc found: its kind, what it concerns, why."""
    if problem.kind == "dangling":
        text = f"{problem.referrer} -> {problem.digest} (missing)"
    elif problem.kind == "malformed":
        text = f"{problem.location}: {problem.detail}"
    elif problem.kind == "unregistered":
        name = problem.type_name or ""
        hint = (
            "pass --import path/to/that_script.py to read it (its type was defined in a "
            "script run as __main__)"
            if name.startswith("__main__.")
            else "pass --import MODULE to read it"
        )
        text = f"{problem.digest}: {problem.detail} ({hint})"
    else:
        where = f" ({problem.location})" if problem.location else ""
        text = f"{problem.digest}: {problem.detail}{where}"
    return escape(" ".join(f"{problem.kind:<11} {text}".splitlines()))


def _cmd_gc(args: argparse.Namespace) -> int:
    url = _store_url(args)
    with _opened(url, read_only=args.dry_run) as store:
        progress = _Progress("gc")
        try:
            report = store.gc(grace_period=args.grace, dry_run=args.dry_run, progress=progress)
        except GcRefused as e:
            progress.clear()
            for problem in e.problems:
                print(_problem_line(problem))
            sys.stdout.flush()
            raise CliError(
                f"gc deleted nothing: {_plural(len(e.problems), 'problem')} in {url} could hide "
                "what is still in use (listed above; see `enact verify`)"
            ) from e
    unreachable = len(report.deleted) + report.kept_recent
    progress.finish(f"{report.reachable} reachable, {unreachable} unreachable")
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"{_plural(report.reachable, 'object')} reachable from tags; {verb} "
        f"{_plural(len(report.deleted), 'unreachable object')}"
    )
    if report.kept_recent:
        print(
            f"kept {report.kept_recent} unreachable objects younger than the grace period "
            f"({args.grace:g} s; a concurrent writer may still need them; see --grace)"
        )
    for problem in report.dangling:
        print(_problem_line(problem))
    if report.dangling:
        print(
            f"{_plural(len(report.dangling), 'ref')} from the tags' trees to objects the "
            "store lacks (already lost; see `enact verify`)"
        )
    return 0


def _cmd_copy(args: argparse.Namespace) -> int:
    with _opened(args.src, read_only=True, hint=False) as src:
        roots: list[Ref[Any]] = []
        tags: list[str] = []
        if not args.targets:
            tags = sorted(src.tags)
        for text in args.targets:
            if _tag(src, text) is not None:
                tags.append(text)
            else:
                roots.append(_resolve(src, text))
        if not roots and not tags:
            print(f"nothing to copy: {args.src} has no tags (name refs or tags to copy)")
            return 0
        with _opened(args.dst, create=True) as dst:
            progress = _Progress("copy")
            report = copy(src, dst, roots, tags=tags, progress=progress)
    progress.finish(f"{report.copied} objects copied")
    print(
        f"copied {_plural(report.copied, 'object')} to {args.dst} "
        f"({report.skipped} already there)"
        + (f"; tags: {', '.join(report.tags)}" if report.tags else "")
    )
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    url = _store_url(args)
    with _opened(url) as store:
        old, new = store.backend.migrate()
    if old == new:
        print(f"{url} is at storage format {new}: nothing to do")
    else:
        print(f"migrated {url} from storage format {old} to {new}")
    return 0


def _redacted(url: str) -> str:
    """A store URL without its password, to show."""
    return _PASSWORD.sub(r"\1:***@", url)


def _cmd_serve(args: argparse.Namespace) -> int:
    token: str | None = args.token
    if token is None:
        token = os.environ.get("ENACT_SERVE_TOKEN") or None
    elif not token.strip():
        _usage_error(args, "--token must not be empty")
    host: str = args.host
    loopback = is_loopback(host)
    if args.writable and not loopback and token is None:
        raise CliError(
            f"--writable on {host}, which is not a loopback address, needs a token: pass "
            "--token TOKEN or set ENACT_SERVE_TOKEN (or serve read-only)"
        )
    url = _store_url(args)
    with _opened(url, read_only=not args.writable) as store:
        try:
            server = make_server(
                store,
                host=host,
                port=args.port,
                writable=args.writable,
                token=token,
                label=_redacted(url),
            )
        except OSError as e:
            advice = " (pick another with --port N, or --port 0 for any free port)"
            raise CliError(f"cannot listen on {host}:{args.port}: {e.strerror or e}{advice}") from e
        with server:
            mode = "writable: the inbox answers input requests" if args.writable else "read-only"
            print(f"enact serve: {server.url}")
            print(f"  store {_redacted(url)} ({mode}); Ctrl-C stops the server")
            if not loopback:
                reach = "with a token" if token else "read-only, without a token"
                print(
                    f"  note: {host} is reachable from other machines; served {reach}",
                    file=sys.stderr,
                )
            sys.stdout.flush()
            try:
                with _stop_signals():
                    server.serve_forever()
            except KeyboardInterrupt:
                print("enact serve: stopped", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """Makes SIGINT and SIGTERM stop the server cleanly (a KeyboardInterrupt).

    Set explicitly: a process started in the background by a shell inherits
    SIGINT ignored, and SIGTERM would otherwise end it without closing the store.
    """

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _cmd_export(args: argparse.Namespace) -> int:
    if not args.otel:
        _usage_error(args, "export needs a format: --otel (OpenTelemetry spans)")
    endpoint: str | None = args.endpoint
    if endpoint is not None and not re.match(r"https?://[^/]", endpoint):
        _usage_error(args, f"--endpoint must be an http:// or https:// URL, got {endpoint!r}")
    with _opened(_store_url(args), read_only=True) as store:
        ref = _resolve(store, args.target)
        target = store.load(ref)
        if target.type is not Invocation:
            raise CliError(
                f"{escape(args.target)} is a {_shown_name(target.type)}, not an Invocation "
                f"(try `enact show {escape(args.target)}`)"
            )
        try:
            found = otel.spans(ref, store=store, content=args.content)
        except ImportError as e:
            raise CliError(f"export --otel needs OpenTelemetry: {otel.INSTALL}") from e
        document = otel.otlp_json(found)
    if endpoint is None:
        write_json(document, sys.stdout)
        return 0
    _post_spans(endpoint, document)
    print(f"sent {len(found)} spans (trace {otel.trace_id(ref):032x}) to {endpoint}")
    return 0


def _post_spans(endpoint: str, document: dict[str, Any]) -> None:
    """Sends an OTLP/JSON trace request to a collector (its /v1/traces URL)."""
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30):
            pass
    except urllib.error.HTTPError as e:
        raise CliError(
            f"the collector at {_redacted(endpoint)} refused the spans: HTTP {e.code} {e.reason}"
        ) from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise CliError(f"cannot send the spans to {_redacted(endpoint)}: {reason}") from e


def _cmd_stats(args: argparse.Namespace) -> int:
    url = _store_url(args)
    with _opened(url, read_only=True) as store:
        backend = store.backend
        objects = sum(1 for _ in backend.iter_digests())
        tags = len(store.tags)
        size = _size(backend)
    print(f"store:    {url}")
    print(f"backend:  {backend!r}")
    if backend.format_version is not None:
        current = "" if backend.format_version == FORMAT_VERSION else " (run `enact migrate`)"
        print(f"format:   {backend.format_version}{current}")
    print(f"objects:  {objects}")
    print(f"tags:     {tags}")
    if size is not None:
        print(f"size:     {_human(size)} on disk")
    return 0


def _size(backend: object) -> int | None:
    """Bytes on disk of a SQLite file (with its write-ahead log) or a file store."""
    if isinstance(backend, SqliteBackend):
        files = [backend.path, backend.path.with_name(backend.path.name + "-wal")]
        return sum(f.stat().st_size for f in files if f.exists())
    if isinstance(backend, FileBackend):
        return sum(f.stat().st_size for f in backend.root_dir.rglob("*") if f.is_file())
    return None


def _human(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# --- The parser. ---


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _add_store_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # Accepted before or after the command. After it, SUPPRESS keeps the
    # command's parser from overwriting a value given before it with a default.
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None if top else argparse.SUPPRESS,
        help="the store: sqlite:///path.db, file:path, memory:// or postgresql://... "
        f"(default: $ENACT_STORE, else {DEFAULT_STORE})",
    )
    parser.add_argument(
        "--import",
        dest="imports",
        metavar="MODULE|FILE.py",
        action="append",
        default=[] if top else argparse.SUPPRESS,
        help="import a module, or a Python file as a module named after it (its "
        "`if __name__ == '__main__':` block does not run), so the resource types it "
        "registers can be read (repeatable)",
    )


def _build_parser() -> _Parser:
    common = _Parser(add_help=False)
    _add_store_options(common, top=False)
    parser = _Parser(
        prog="enact",
        description="enact: the demo, and tools to inspect and maintain a store.",
        epilog="Start with `enact demo`, then `enact ls` and `enact tree demo/latest`.",
    )
    _add_store_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], text: str) -> _Parser:
        sub: _Parser = commands.add_parser(name, parents=[common], help=text, description=text)
        sub.set_defaults(func=func, parser=sub)
        return sub

    demo = command(
        "demo",
        _cmd_demo,
        "run a small generative program (a haiku generator) tracked in the store: its "
        "call tree, a partial replay and an input request",
    )
    demo.add_argument(
        "--answer",
        metavar="TEXT",
        help="the answer to the program's question (default: ask at the terminal, "
        "or use a default answer when stdin is not a terminal)",
    )
    demo.add_argument("--seed", type=int, metavar="N", help="seed the sampler")

    command("ls", _cmd_ls, "list the tags (target type, digest) and count the objects")

    show = command("show", _cmd_show, "pretty-print an object")
    show.add_argument("target", metavar="REF|TAG", help="a tag, a digest or a digest prefix")
    show.add_argument(
        "--depth",
        type=_depth,
        metavar="N",
        help="follow refs only N hops from the object (default: all; with --json: none)",
    )
    show.add_argument(
        "--json",
        action="store_true",
        help="write the object as JSON: its digest, type and fields (see the README)",
    )

    tree = command("tree", _cmd_tree, "show the call tree of an invocation, one line per call")
    tree.add_argument("target", metavar="REF|TAG", help="a tag, a digest or a digest prefix")
    tree.add_argument(
        "--full",
        action="store_true",
        help="show every value whole (default: the first line of each string, clipped "
        "to the terminal's width)",
    )
    tree.add_argument(
        "--json",
        action="store_true",
        help="write the call tree as nested JSON objects (see the README)",
    )

    tag = command("tag", _cmd_tag, "point a tag at an object, or delete a tag")
    tag.add_argument("name", metavar="NAME", help="the tag, e.g. experiments/best")
    tag.add_argument(
        "target", metavar="REF|TAG", nargs="?", help="a tag, a digest or a digest prefix"
    )
    tag.add_argument("--delete", action="store_true", help="delete the tag NAME")

    command("verify", _cmd_verify, "check that every object hashes to its digest (exit 1 if not)")

    gc = command("gc", _cmd_gc, "delete objects unreachable from the tags")
    gc.add_argument(
        "--grace",
        type=_seconds,
        default=DEFAULT_GRACE_PERIOD,
        metavar="SECONDS",
        help="keep unreachable objects written less than SECONDS ago "
        f"(default: {DEFAULT_GRACE_PERIOD:g})",
    )
    gc.add_argument("--dry-run", action="store_true", help="only report what would be deleted")

    cp = command(
        "copy", _cmd_copy, "copy objects (with everything they reach) from one store to another"
    )
    cp.add_argument("src", metavar="SRC_URL")
    cp.add_argument("dst", metavar="DST_URL", help="created if missing")
    cp.add_argument(
        "targets",
        metavar="REF|TAG",
        nargs="*",
        help="what to copy; tags are copied as tags (default: every tag)",
    )

    cache = command(
        "cache",
        _cmd_cache_ls,
        "list or clear the memo cache (calls of invokables declared with cache=True)",
    )
    cache_commands = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    for action, func, text in (
        ("ls", _cmd_cache_ls, "list the cache entries: invokable, cache version, request"),
        ("clear", _cmd_cache_clear, "delete cache entries (all, or one invokable's)"),
    ):
        sub = cache_commands.add_parser(action, parents=[common], help=text, description=text)
        sub.set_defaults(func=func, parser=sub)
        sub.add_argument(
            "--invokable",
            metavar="NAME",
            help="only the entries of the invokable of this type name (module.qualname, or "
            "the name= it was given)",
        )

    command("stats", _cmd_stats, "count objects and tags, name the backend and its size")
    command(
        "migrate",
        _cmd_migrate,
        "upgrade the store to this release's storage format (older stores are read as they "
        "are until then)",
    )

    serve = command(
        "serve",
        _cmd_serve,
        "browse the store's runs in a web browser: call trees, objects, diffs of two runs, "
        "and an inbox of runs waiting for input",
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"the port to listen on (default: {DEFAULT_PORT}; 0: any free port)",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDR",
        help="the address to listen on (default: 127.0.0.1, this machine only); another "
        "address serves read-only unless a token is set",
    )
    serve.add_argument(
        "--token",
        metavar="TOKEN",
        help="require TOKEN on every request (the page takes it from ?token=TOKEN); "
        "default: $ENACT_SERVE_TOKEN, else none",
    )
    serve.add_argument(
        "--writable",
        action="store_true",
        help="open the store writable, so that the inbox can answer input requests and "
        "continue runs (default: read-only; answering then runs your program: pass "
        "--import for its types)",
    )

    export = command(
        "export", _cmd_export, "write a recorded run as OpenTelemetry spans (OTLP/JSON)"
    )
    export.add_argument("target", metavar="REF|TAG", help="a tag, a digest or a digest prefix")
    export.add_argument(
        "--otel",
        action="store_true",
        help="as OpenTelemetry spans, one per call, with ids derived from the records "
        "(needs pip install 'enact[otel]')",
    )
    export.add_argument(
        "--content",
        action="store_true",
        help="put inputs, outputs, questions and exception messages in the spans "
        "(default: only types, digests and states)",
    )
    export.add_argument(
        "--endpoint",
        metavar="URL",
        help="send the spans to an OTLP/HTTP collector at URL "
        "(e.g. http://localhost:4318/v1/traces) instead of writing them to stdout",
    )
    return parser


# --- Entry point. ---


def _fail(message: str) -> int:
    if sys.stderr is not None:  # Else there is nowhere to say it: the status must do.
        print(f"enact: error: {escape(' '.join(message.split()))}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the enact command; returns the exit status."""
    if sys.stdout is None:  # Started with stdout closed (`enact ls >&-`).
        # Checked first: a command must not change the store and then fail to say so.
        return _fail(
            "standard output is closed, so nothing could be printed; "
            "redirect it instead (for example >/dev/null)"
        )
    stdout = sys.stdout
    sys.stdout = cast(TextIO, _Output(stdout))
    try:
        return _main(argv)
    finally:
        sys.stdout = stdout


def _main(argv: Sequence[str] | None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already reported
        return e.code if isinstance(e.code, int) else 2
    try:
        _import_modules(args.imports)
        status: int = args.func(args)
        sys.stdout.flush()  # Inside the try: a closed pipe is reported like any other.
        return status
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    except _OutputError as e:
        _silence_stdout()  # So that Python's own flush at exit does not fail again.
        return _fail(str(e))
    except CliError as e:
        return _fail(str(e))
    except TypeNotRegisteredError as e:
        return _fail(_not_registered(e.type_id))
    except StoreConfigError as e:
        return _fail(str(e))
    except BrokenPipeError:
        # Output piped into a program that stopped reading (`enact ls | head`).
        _silence_stdout()
        return 1
    except (EnactError, OSError) as e:
        return _fail(str(e) or type(e).__name__)
    except RecursionError:
        return _fail("the object is nested too deeply to show (past Python's recursion limit)")
    except KeyboardInterrupt:
        if sys.stderr is not None:
            print("enact: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Points stdout at /dev/null, so Python does not report the broken pipe again at exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
