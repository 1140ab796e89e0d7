"""open_store: a Store from a URL, through a table of schemes and their backends."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from enact_store._backend import StorageBackend
from enact_store._errors import StoreConfigError
from enact_store._store import Store
from enact_store.backends import FileBackend, InMemoryBackend, PostgresBackend, SqliteBackend

__all__ = ["open_store", "redact_url"]

# A password parameter or keyword (in a query string or a key=value DSN).
_PASSWORD_KEYWORD = re.compile(r"(?<![A-Za-z0-9_])((?:ssl)?password)\s*=", re.IGNORECASE)


def open_store(url: str, *, create: bool = True, read_only: bool = False) -> Store:
    """Returns a Store for a URL.

    - ``memory://``: a new :class:`InMemoryBackend`;
    - ``file:///abs/path`` or ``file:rel/path``: a :class:`FileBackend`;
    - ``sqlite:///rel/path.db`` or ``sqlite:////abs/path.db``: a
      :class:`SqliteBackend` (three slashes, then the path);
    - ``postgresql://user:password@host:port/dbname?param=value`` (or
      ``postgres://``): a :class:`PostgresBackend`; the whole URL is its DSN,
      so libpq's parameters (``sslmode``, ``options=-csearch_path%3DNAME``,
      ...) go in the query string. Needs ``enact-store[postgres]``.

    Paths are taken literally (no percent-decoding); relative paths are
    resolved against the current directory when the store is opened.

    Args:
        url: where the store is.
        create: create the store if nothing exists there yet (never inside
            something that is not a store, such as another program's
            database). With False, a missing store raises NoStoreError.
        read_only: open for reading only: nothing is created, migrated or
            written (also in a directory the user cannot write), and every
            write raises ReadOnlyStoreError. Implies ``create=False``.

    Raises:
        StoreConfigError: the URL is not one of the forms above, or the
            PostgreSQL server cannot be reached.
        NoStoreError: nothing at the location, and not ``create``.
        NotAStoreError: the location holds something that is not a store
            (it is left untouched).
        StoreFormatError: the store's format is newer than this release's.
        ImportError: a PostgreSQL URL without psycopg installed.
    """
    if not isinstance(url, str):
        raise StoreConfigError(f"A store URL must be a str, got {type(url).__qualname__}")
    scheme, colon, rest = url.partition(":")
    scheme = scheme.lower()
    entry = _SCHEMES.get(scheme)
    if not colon or entry is None:
        raise _bad(url, "")
    return Store(entry.open(_Url(url, scheme, rest), create and not read_only, read_only))


class _Url(NamedTuple):
    """A store URL as given, its scheme (lower case) and what follows the colon."""

    text: str
    scheme: str
    rest: str

    def bad(self, detail: str) -> StoreConfigError:
        return _bad(self.text, detail)

    def no_query(self) -> None:
        if "?" in self.rest or "#" in self.rest:
            raise self.bad("query strings and fragments are not supported")


# An opener: (the URL, create, read_only) -> the backend.
_Opener = Callable[[_Url, bool, bool], StorageBackend]


def _memory(url: _Url, create: bool, read_only: bool) -> StorageBackend:
    url.no_query()
    if url.rest != "//":
        raise url.bad("memory:// takes no path")
    return InMemoryBackend()


def _file(url: _Url, create: bool, read_only: bool) -> StorageBackend:
    url.no_query()
    rest = url.rest
    if rest.startswith("//"):
        # file:///abs/path: an empty host, then an absolute path.
        rest = rest[2:]
        if rest and not rest.startswith("/"):
            raise url.bad("file:// URLs cannot name a host; use file:///abs/path")
    return FileBackend(_path(url.text, rest), create=create, read_only=read_only)


def _sqlite(url: _Url, create: bool, read_only: bool) -> StorageBackend:
    url.no_query()
    if not url.rest.startswith("///"):
        raise url.bad("SQLite URLs need three slashes: sqlite:///path")
    # sqlite:///rel.db is relative; sqlite:////abs.db keeps a leading '/'.
    return SqliteBackend(_path(url.text, url.rest[3:]), create=create, read_only=read_only)


def _postgres(url: _Url, create: bool, read_only: bool) -> StorageBackend:
    if not url.rest.startswith("//"):
        raise url.bad("PostgreSQL URLs start with postgresql://")
    # The whole URL is the DSN; libpq recognises only a lower-case scheme.
    return PostgresBackend(f"{url.scheme}:{url.rest}", create=create, read_only=read_only)


class _Scheme(NamedTuple):
    open: _Opener
    #: The forms of URL it takes, for the message of an unsupported URL.
    forms: str


#: Every URL scheme open_store knows and how it opens its backend. Adding a
#: backend adds its line here (and, in the repo, a line to
#: tests/store/_store_testlib.KINDS, which runs the conformance suite on it).
_SCHEMES: dict[str, _Scheme] = {
    "memory": _Scheme(_memory, "memory://"),
    "file": _Scheme(_file, "file:///abs/path, file:rel/path"),
    "sqlite": _Scheme(
        _sqlite,
        "sqlite:///rel/path.db (relative to the current directory), sqlite:////abs/path.db",
    ),
    "postgresql": _Scheme(_postgres, "postgresql://user:password@host:port/dbname"),
    "postgres": _Scheme(_postgres, ""),  # The same backend: not listed again.
}
_FORMS = ", ".join(scheme.forms for scheme in _SCHEMES.values() if scheme.forms)
_FORMS = " or ".join(_FORMS.rsplit(", ", 1))


def _path(url: str, text: str) -> Path:
    if not text or text.strip("/") == "":
        raise _bad(url, "the URL names no path")
    return Path(text).absolute()


def _bad(url: str, detail: str) -> StoreConfigError:
    why = f" ({detail})" if detail else ""
    return StoreConfigError(f"Unsupported store URL {redact_url(url)!r}{why}: use {_FORMS}")


def redact_url(url: str) -> str:
    """Returns a store URL (or DSN) with whatever may be a credential hidden, to show it.

    Hides everything from a ``password`` parameter or keyword on, and the
    user information (everything before the last '@', however its special
    characters are written): ``postgresql://me:secret@db/enact`` becomes
    ``postgresql://***@db/enact``. URLs without credentials are unchanged.
    """
    match = _PASSWORD_KEYWORD.search(url)
    if match is not None:
        url = url[: match.start()]
    scheme, sep, _ = url.partition("://")
    if "@" in url:
        after = url.rsplit("@", 1)[1]
        url = f"{scheme}://***@{after}" if sep else f"{url.partition(':')[0]}:***@{after}"
    if match is not None:
        url += f"{match.group(1)}=***"
    return url
