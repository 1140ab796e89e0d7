"""open_store: a Store from a URL."""

from __future__ import annotations

import re
from pathlib import Path

from enact_store._errors import StoreConfigError
from enact_store._store import Store
from enact_store.backends import FileBackend, InMemoryBackend, PostgresBackend, SqliteBackend

__all__ = ["open_store"]

_FORMS = (
    "memory://, file:///abs/path, file:rel/path, "
    "sqlite:///rel/path.db (relative to the current directory), sqlite:////abs/path.db "
    "or postgresql://user:password@host:port/dbname"
)
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
    if not colon:
        raise _bad(url, "")
    if scheme in ("postgresql", "postgres"):
        if not rest.startswith("//"):
            raise _bad(url, "PostgreSQL URLs start with postgresql://")
        # libpq recognises only a lower-case scheme.
        return Store(PostgresBackend(f"{scheme}:{rest}", create=create, read_only=read_only))
    if "?" in rest or "#" in rest:
        raise _bad(url, "query strings and fragments are not supported")
    if scheme == "memory":
        if rest != "//":
            raise _bad(url, "memory:// takes no path")
        return Store(InMemoryBackend())
    if scheme == "file":
        if rest.startswith("//"):
            # file:///abs/path: an empty host, then an absolute path.
            rest = rest[2:]
            if rest and not rest.startswith("/"):
                raise _bad(url, "file:// URLs cannot name a host; use file:///abs/path")
        return Store(FileBackend(_path(url, rest), create=create, read_only=read_only))
    if scheme == "sqlite":
        if not rest.startswith("///"):
            raise _bad(url, "SQLite URLs need three slashes: sqlite:///path")
        # sqlite:///rel.db is relative; sqlite:////abs.db keeps a leading '/'.
        return Store(SqliteBackend(_path(url, rest[3:]), create=create, read_only=read_only))
    raise _bad(url, "")


def _path(url: str, text: str) -> Path:
    if not text or text.strip("/") == "":
        raise _bad(url, "the URL names no path")
    return Path(text).absolute()


def _bad(url: str, detail: str) -> StoreConfigError:
    why = f" ({detail})" if detail else ""
    return StoreConfigError(f"Unsupported store URL {_redact(url)!r}{why}: use {_FORMS}")


def _redact(url: str) -> str:
    """Hides whatever may be a credential before a URL goes in a message.

    Everything from a ``password`` parameter or keyword on, and everything
    before the last '@' left (the user information, however its special
    characters are written).
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
