"""``enact serve``: a local web server that shows a store's runs in the browser.

Built on the standard library's ``http.server`` (see the package README for
why): a pool of a few threads answers requests; the page is plain HTML, CSS
and JavaScript read from ``enact/_static`` once at start and served from
memory; the data comes from a small JSON API (``/api/...``, see
:func:`_route`) over :class:`enact._view.Views`.

Safety, in the order requests meet it:

- Bound to 127.0.0.1 unless told otherwise. On a loopback address only
  requests whose ``Host`` names the server itself are answered, so that a web
  page elsewhere cannot reach the API through DNS rebinding.
- With a token (``--token``), every API request must carry it in the
  ``X-Enact-Token`` header (the page takes it from ``?token=`` once).
- Read-only by default: the store is opened read-only and every POST is
  refused. With ``--writable`` the one write, answering an input request, is
  a POST with a JSON body and the token (one is made up at start when none is
  given), which a page of another origin can neither send nor learn.
- Everything stored is user content: the page builds its DOM with
  ``textContent``, never HTML strings, and a Content-Security-Policy allows
  only the server's own script and style.
"""

from __future__ import annotations

import hmac
import importlib.resources
import ipaddress
import json
import secrets
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from enact._view import MAX_PAGE, PAGE, ApiError, Views
from enact_resource import EnactError
from enact_store import Store

__all__ = ["ViewerServer", "is_loopback", "make_server"]

#: The static files of the page, by the path they are served at.
_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/app.css": ("app.css", "text/css; charset=utf-8"),
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
#: The largest POST body read.
MAX_BODY = 1 << 20
#: Threads answering requests.
WORKERS = 4


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _static_files() -> dict[str, tuple[bytes, str]]:
    folder = importlib.resources.files("enact").joinpath("_static")
    return {
        path: (folder.joinpath(name).read_bytes(), content_type)
        for path, (name, content_type) in _STATIC.items()
    }


class ViewerServer(ThreadingHTTPServer):
    """The HTTP server of ``enact serve``: a thread pool over :class:`Views`.

    Args:
        address: (host, port) to listen on; port 0 takes any free port.
        views: what to serve.
        token: required on every API request when set.
        write_token: required on the POST that answers (defaults to
            ``token``; made up when the views are writable and none is given).
        label: the store's address, as the page shows it (no password).
    """

    daemon_threads = True
    # The default (5) drops connections when a page opens several at once.
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        views: Views,
        *,
        token: str | None = None,
        write_token: str | None = None,
        label: str = "",
    ) -> None:
        self.views = views
        self.label = label
        self.token = token or None
        self.write_token = write_token or self.token
        if views.writable and self.write_token is None:
            self.write_token = secrets.token_urlsafe(24)
        self.static = _static_files()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="enact-serve")
        super().__init__(address, _Handler)
        host, port = str(self.server_address[0]), self.server_address[1]
        self.loopback = is_loopback(host)
        self.port = int(port)
        self.allowed_hosts = {
            f"{name}:{self.port}" for name in ("127.0.0.1", "localhost", "[::1]")
        } | {f"{host}:{self.port}"}

    @property
    def url(self) -> str:
        """The address to open in a browser (with the token, if one is needed)."""
        host = str(self.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        token = self.write_token if self.views.writable else self.token
        return f"http://{shown}:{self.port}/" + (f"?token={token}" if token else "")

    def process_request(self, request: Any, client_address: Any) -> None:
        # A fixed pool instead of a thread per request: store connections are
        # per thread (SQLite), so a pool reuses them, and bounds the work.
        self._pool.submit(self.process_request_thread, request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Handler(BaseHTTPRequestHandler):
    server: ViewerServer
    # One request per connection: a kept-alive connection would hold one of the
    # pool's few threads while the browser leaves it idle, and starve the others.
    protocol_version = "HTTP/1.0"
    # A client that sends nothing gives its thread back after this many seconds.
    timeout = 60

    def version_string(self) -> str:
        return "enact-serve"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # Quiet: the page is the interface; errors go to stderr below.

    # --- Answers. ---

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        body = json.dumps(value, allow_nan=False, separators=(",", ":")).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    # --- Checks. ---

    def _host_ok(self) -> bool:
        if not self.server.loopback:
            return True  # Served on another address on purpose.
        return self.headers.get("Host", "") in self.server.allowed_hosts

    def _token_ok(self, token: str | None) -> bool:
        if token is None:
            return True
        given = self.headers.get("X-Enact-Token", "")
        return hmac.compare_digest(given.encode(), token.encode())

    # --- Methods. ---

    def do_GET(self) -> None:
        self._handle(write=False)

    def do_HEAD(self) -> None:
        self._handle(write=False)

    def do_POST(self) -> None:
        self._handle(write=True)

    def _handle(self, *, write: bool) -> None:
        try:
            if not self._host_ok():
                self._error(
                    HTTPStatus.FORBIDDEN, "unknown Host: open the address enact serve printed"
                )
                return
            parts = urlsplit(self.path)
            path = parts.path
            if not path.startswith("/api/"):
                if write:
                    self._error(HTTPStatus.METHOD_NOT_ALLOWED, "only /api/answer takes a POST")
                    return
                self._static(path)
                return
            if not self._token_ok(self.server.token):
                self._error(
                    HTTPStatus.UNAUTHORIZED, "a token is needed: open the address with ?token="
                )
                return
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            if write:
                self._post(path)
            else:
                self._json(HTTPStatus.OK, _route(self.server, path, query))
        except ApiError as e:
            self._error(e.status, str(e))
        except (EnactError, RecursionError) as e:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(e).__name__}: {e}")
        except (BrokenPipeError, ConnectionResetError):
            pass  # The browser went away.
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            self._error(
                HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(e).__name__}: {e}"
            )

    def _static(self, path: str) -> None:
        found = self.server.static.get(path)
        if found is None:
            self._error(HTTPStatus.NOT_FOUND, f"nothing at {path}")
            return
        body, content_type = found
        headers = {"Content-Security-Policy": _CSP, "X-Frame-Options": "DENY"}
        self._send(HTTPStatus.OK, body, content_type, headers)

    def _post(self, path: str) -> None:
        if path != "/api/answer":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes no POST")
            return
        if not self.server.views.writable:
            raise ApiError("the server is read-only: restart it with --writable to answer", 403)
        if not self._token_ok(self.server.write_token):
            raise ApiError("answering needs the token: open the address enact serve printed", 403)
        origin = self.headers.get("Origin")
        if origin is not None and origin != f"http://{self.headers.get('Host', '')}":
            raise ApiError(f"a POST from another origin ({origin}) is refused", 403)
        if self.headers.get_content_type() != "application/json":
            raise ApiError("the body must be JSON (Content-Type: application/json)", 415)
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError as e:
            raise ApiError("a POST needs a Content-Length", 411) from e
        if not 0 <= length <= MAX_BODY:
            raise ApiError(f"the body is larger than {MAX_BODY} bytes", 413)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError as e:
            raise ApiError(f"the body is not JSON: {e}") from e
        self._json(HTTPStatus.OK, self.server.views.answer(body))


def _int(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError as e:
        raise ApiError(f"{name} must be a number, got {text!r}") from e


def _route(server: ViewerServer, path: str, query: dict[str, str]) -> Any:
    """Answers a GET of the API. The routes (all JSON):

    ==============================  ==================================================
    ``/api/info``                   the store's address, whether answering is allowed
    ``/api/runs``                   the runs: tags that name invocations
    ``/api/count/D``                how many calls the tree of invocation D holds
    ``/api/calls/D?offset&limit``   a call and one page of its children (``&run=NAME&path=P``:
                                    with their durations, a named run's call at path P)
    ``/api/objects/D?whole=1``      any object by digest or unique prefix
    ``/api/lookup?name=X``          what a tag, digest or prefix names
    ``/api/diff?a=X&b=Y``           how invocation Y differs from X
    ``/api/inbox``                  runs paused on an input request
    ==============================  ==================================================
    """
    views = server.views
    parts = [unquote(part) for part in path.removeprefix("/api/").split("/")]
    simple: dict[str, Callable[[], Any]] = {
        "info": lambda: {**views.info(), "store": server.label},
        "runs": views.runs,
        "inbox": views.inbox,
    }
    if len(parts) == 1 and parts[0] in simple:
        return simple[parts[0]]()
    if len(parts) == 2 and parts[0] == "count":
        return views.count(parts[1])
    if len(parts) == 2 and parts[0] == "calls":
        offset = _int(query, "offset", 0)
        limit = min(_int(query, "limit", PAGE), MAX_PAGE)
        run = query.get("run") or None
        return views.call(parts[1], offset, limit, run=run, path=query.get("path", ""))
    if len(parts) == 2 and parts[0] == "objects":
        return views.object(parts[1], whole=query.get("whole", "") not in ("", "0"))
    if parts == ["lookup"]:
        return views.lookup(_required(query, "name"))
    if parts == ["diff"]:
        return views.diff(_required(query, "a"), _required(query, "b"))
    raise ApiError(f"no API at {path}", 404)


def _required(query: dict[str, str], name: str) -> str:
    value = query.get(name, "")
    if not value:
        raise ApiError(f"missing the query parameter {name!r}")
    return value


def make_server(
    store: Store,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    writable: bool = False,
    token: str | None = None,
    label: str = "",
) -> ViewerServer:
    """Makes (and binds) the server of ``enact serve`` for ``store``; call ``serve_forever``.

    Raises:
        OSError: the address cannot be listened on.
    """
    return ViewerServer((host, port), Views(store, writable=writable), token=token, label=label)
