"""What ``enact serve`` shows, as JSON-ready data: runs, call trees, objects, diffs, the inbox.

Every view reads objects as they are stored (``Store.load``, a ResourceDict):
nothing here builds an object of a user's class, so no user code runs (no
``__init__``, ``__post_init__`` or ``migrate_fields``) and objects of types
this process has not imported show their stored fields, their types marked
``"raw": true``. The one exception is :func:`answer`, which continues a
paused run: that replays the user's program, so it needs its classes.

Values are written in the JSON forms of ``enact show --json`` (see
``enact._json``), clipped where they are long (``{"clipped": ...}``); the
object view shows them whole on request.

Runs: the tags that name an invocation. Records are content-addressed and
hold no times; a named run (``enact.run``) keeps its start time, state and
call count beside them, in the store's run index, so the entry of a run's
tag ``runs/NAME`` has ``started_at`` (ISO 8601, UTC) and, once the run has
ended, ``duration`` (seconds); other tags have them null.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
from collections import OrderedDict, deque
from typing import Any, TypeGuard

from enact._json import Style, type_json, value_json
from enact_invoke import (
    InputRequest,
    Invocation,
    InvocationError,
)
from enact_resource import (
    Bytes,
    DeserializationError,
    EnactError,
    Float,
    Int,
    NoneResource,
    ResourceBase,
    ResourceDict,
    SchemaMismatchError,
    StoredResource,
    Str,
    TypeNotRegisteredError,
)
from enact_store import (
    RUN_TAG_PREFIX,
    CallTime,
    CorruptionError,
    NotFound,
    Ref,
    RunEntry,
    Store,
    UnsupportedOperation,
)

__all__ = [
    "ApiError",
    "Views",
]

#: Values in rows of the tree, the runs and the diff: short.
ROW = Style(raw=True, max_str=300, max_items=20, max_bytes=48)
#: Values in the object view.
OBJECT = Style(raw=True, max_str=20_000, max_items=1000, max_bytes=3072)
#: Values shown whole (the object view's "show whole").
WHOLE = Style(raw=True)
#: Children of a call listed per request, by default and at most.
PAGE = 100
MAX_PAGE = 1000
#: Records read that the views keep (they never change), the latest first.
RECORDS_KEPT = 4096
#: Fewest hex digits accepted as a digest prefix (as the command).
MIN_PREFIX = 6
#: Reused calls in one parent's diff that get a label (type and input); more get none.
LABELLED_REUSED = 1000
#: Request fields listed as changed, at most, per call in a diff.
MAX_CHANGES = 20
#: Hops followed into changed refs when comparing two requests.
CHANGE_HOPS = 3

_HEX = re.compile(r"[0-9a-f]+")
_DIGITS = re.compile(r"(\d+)")
#: What answer the inbox asks for, by requested type.
_ANSWER_KINDS: dict[type[ResourceBase], str] = {
    Str: "text",
    Int: "int",
    Float: "float",
    Bytes: "text",
    NoneResource: "none",
}
TIMING_NOTE = (
    "recorded for named runs (enact.run) beside their records, which are "
    "content-addressed and hold no times; not recorded for other tags"
)


class ApiError(Exception):
    """A request the views cannot answer, with the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _short(digest: str) -> str:
    return "#" + digest[:8]


def _is_raw(cls: object) -> TypeGuard[type[StoredResource]]:
    """Whether a type was read from stored data alone (no class, or another version)."""
    return isinstance(cls, type) and issubclass(cls, StoredResource)


def _natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``run-10`` after ``run-9``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _DIGITS.split(name) if p)


class Views:
    """The views of one store, with the caches they share (records never change).

    Args:
        store: the store to show.
        writable: whether answering in the inbox may write to the store.
    """

    def __init__(self, store: Store, *, writable: bool = False) -> None:
        self.store = store
        self.writable = writable
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._counts_lock = threading.Lock()
        self._answer_lock = threading.Lock()
        self._records: OrderedDict[str, ResourceDict] = OrderedDict()
        self._records_lock = threading.Lock()
        # A run's call times as last read, with the run's updated_at then: read
        # again only once the run has moved on.
        self._times: dict[str, tuple[float, dict[str, CallTime]]] = {}

    # --- Reading. ---

    def _load(self, ref: Ref[Any]) -> ResourceDict:
        # Records never change, so what was read is kept (a few thousand of the
        # latest): paging through a run's 10,000 children reads its Response once.
        digest = ref.digest
        with self._records_lock:
            found = self._records.get(digest)
            if found is not None:
                self._records.move_to_end(digest)
                return found
        try:
            data = self.store.load(ref)
        except NotFound as e:
            raise ApiError(f"no object {ref.digest} in the store", 404) from e
        except CorruptionError as e:
            raise ApiError(f"object {ref.digest} is corrupt: {e}", 500) from e
        except DeserializationError as e:
            raise ApiError(f"object {ref.digest} cannot be read: {e}", 500) from e
        with self._records_lock:
            self._records[digest] = data
            if len(self._records) > RECORDS_KEPT:
                self._records.popitem(last=False)
        return data

    def _ref(self, digest: str) -> Ref[Any]:
        return self.store.ref_type.from_digest(digest)

    def resolve(self, text: str, *, tags: bool = True) -> Ref[Any]:
        """The ref a tag (if ``tags``), a digest or a unique digest prefix names."""
        if tags:
            try:
                return self.store.tags[text]
            except (KeyError, ValueError):
                pass
        hex_text = text.removeprefix("#").lower()
        what = "a tag, a digest or a digest prefix" if tags else "a digest or a digest prefix"
        if not hex_text or not _HEX.fullmatch(hex_text) or len(hex_text) > 64:
            if tags and hex_text and not _HEX.fullmatch(hex_text):
                raise ApiError(f"no tag {text!r} (and it is not a digest)", 404)
            raise ApiError(f"{text!r} is not {what}")
        if len(hex_text) < MIN_PREFIX:
            raise ApiError(f"a digest prefix needs at least {MIN_PREFIX} hex digits, got {text!r}")
        if len(hex_text) == 64:
            ref = self._ref(hex_text)
            if not self.store.has(ref):
                raise ApiError(f"no object {hex_text} in the store", 404)
            return ref
        matches = sorted(d for d in self.store.backend.iter_digests() if d.startswith(hex_text))
        if not matches:
            raise ApiError(f"no object matches {text!r}", 404)
        if len(matches) > 1:
            shown = ", ".join(d[:12] for d in matches[:3]) + (", ..." if len(matches) > 3 else "")
            raise ApiError(
                f"ambiguous digest prefix {text!r}: {len(matches)} objects match ({shown})"
            )
        return self._ref(matches[0])

    def _invocation(self, ref: Ref[Any]) -> ResourceDict:
        data = self._load(ref)
        if data.type is not Invocation:
            raise ApiError(f"{_short(ref.digest)} is a {_type_label(data.type)}, not an Invocation")
        return data

    def _state(self, response: ResourceDict) -> str:
        if response["output"] is not None:
            return "done"
        raised = response["raised"]
        if raised is None:
            return "incomplete"
        kind = self._load(raised).type
        return "paused" if _is_input_request(kind) else "failed"

    def _summary(self, ref: Ref[Any]) -> tuple[dict[str, Any], list[Ref[Any]]]:
        """One call as a row: invokable, input, output or exception; and its children."""
        invocation = self._invocation(ref)
        request = self._load(invocation["request"])
        response = self._load(invocation["response"])
        children: list[Ref[Any]] = response["children"]
        output, raised = response["output"], response["raised"]
        row = {
            "digest": ref.digest,
            "request": invocation["request"].digest,
            "response": invocation["response"].digest,
            "invokable": self._form(request["invokable"], ROW),
            "input": self._form(request["input"], ROW),
            "output": None if output is None else self._form(output, ROW),
            "raised": None if raised is None else self._form(raised, ROW),
            "raised_message": None if raised is None else self._message(raised),
            "raised_here": bool(response["raised_here"]),
            "state": self._state(response),
            "children_count": len(children),
            "duration": None,
        }
        return row, children

    def _message(self, ref: Ref[Any]) -> str | None:
        """One line that says what a recorded exception is about (as `enact tree` does):
        an input request's question, a wrapped exception's last traceback line, the
        arguments of others; None if it has none of these."""
        data = self._load(ref)
        text: str | None = None
        if _is_input_request(data.type):
            context = data.get("context")
            text = context if isinstance(context, str) else None
        elif isinstance(data.get("args"), list):
            args = data["args"]
            if data.type.type_name() == "enact.invocations.WrappedException" and args:
                lines = [line for line in str(args[0]).splitlines() if line.strip()]
                text = lines[-1].strip() if lines else ""
            elif all(isinstance(arg, str | int | float) for arg in args):
                text = ", ".join(str(arg) for arg in args)
        if text is None:
            return None
        text = " ".join(text.split())
        limit = ROW.max_str or len(text)
        return text if len(text) <= limit else text[:limit] + "..."

    def _form(self, ref: Ref[Any], style: Style) -> dict[str, Any]:
        data = self._load(ref)  # Turns a missing or corrupt object into an ApiError.
        return {"ref": ref.digest, **value_json(self.store, data, 0, style)}

    # --- The views. ---

    def info(self) -> dict[str, Any]:
        """What the page says about the server: writable or not, and timing."""
        return {"writable": self.writable, "timing": TIMING_NOTE}

    def runs(self) -> dict[str, Any]:
        """The tags that name invocations, one entry per invocation, newest name first.

        Named runs (with start times) do not exist yet: entries are sorted by
        their tag names, descending in natural order (``run-10`` before
        ``run-9``), so numbered runs come newest first.
        """
        index: dict[str, RunEntry] = {}
        try:
            index = {run.name: run for run in self.store.runs.all()}
        except UnsupportedOperation:
            pass  # A backend without a run index: no times.
        by_digest: dict[str, list[str]] = {}
        for name, digest in self.store.backend.list_tags().items():
            by_digest.setdefault(digest, []).append(name)
        entries = []
        for digest, names in by_digest.items():
            names.sort(key=_natural, reverse=True)
            entry: dict[str, Any] = {
                "digest": digest,
                "name": names[0],
                "tags": names,
                "started_at": None,
                "duration": None,
            }
            in_index = [
                n.removeprefix(RUN_TAG_PREFIX) for n in names if n.startswith(RUN_TAG_PREFIX)
            ]
            run = next((index[n] for n in in_index if n in index), None)
            if run is not None:
                entry.update(_run_times(run))
            try:
                row, _ = self._summary(self._ref(digest))
            except ApiError as e:
                if e.status == 400:
                    continue  # Not an invocation: not a run.
                entry.update(state="unreadable", error=str(e))
            else:
                entry.update(
                    state=row["state"],
                    invokable=row["invokable"],
                    input=row["input"],
                    output=row["output"],
                    raised=row["raised"],
                    raised_message=row["raised_message"],
                    raised_here=row["raised_here"],
                    calls=self._cached_count(digest),
                )
            entries.append(entry)
        # Named runs first, newest start first; then the other tags by name.
        entries.sort(key=lambda e: _natural(e["name"]), reverse=True)
        entries.sort(key=lambda e: e["started_at"] or "", reverse=True)
        return {
            "runs": entries,
            "order": "named runs by start, newest first; then tags by name, newest number first",
            "timing": TIMING_NOTE,
        }

    def _cached_count(self, digest: str) -> int | None:
        with self._counts_lock:
            return self._counts.get(digest)

    def count(self, digest: str) -> dict[str, Any]:
        """How many calls an invocation's tree holds (itself included).

        Shared subtrees (a replay reuses most of its source) are counted once
        per digest and remembered: records never change.
        """
        root = self.resolve(digest, tags=False)
        self._invocation(root)
        stack: list[tuple[Ref[Any], bool]] = [(root, False)]
        pending: dict[str, list[Ref[Any]]] = {}
        while stack:
            ref, expanded = stack.pop()
            if self._cached_count(ref.digest) is not None:
                continue
            if not expanded:
                children = self._load(self._invocation(ref)["response"])["children"]
                pending[ref.digest] = children
                stack.append((ref, True))
                stack.extend((child, False) for child in children)
                continue
            children = pending.pop(ref.digest, [])
            total = 1 + sum(self._cached_count(child.digest) or 0 for child in children)
            with self._counts_lock:
                self._counts[ref.digest] = total
                if len(self._counts) > 200_000:
                    self._counts.popitem(last=False)
        return {"digest": root.digest, "calls": self._cached_count(root.digest)}

    def call(
        self,
        digest: str,
        offset: int = 0,
        limit: int = PAGE,
        *,
        run: str | None = None,
        path: str = "",
    ) -> dict[str, Any]:
        """A call and one page of its children (each a row, with its own child count).

        With ``run`` (a named run's name) and ``path`` (the call's position in
        it: ``""`` for the run's top-level call, ``"3/0"`` for the first call
        of its fourth call), each row has its ``duration`` from the run index,
        where recorded.
        """
        if offset < 0 or not 0 < limit <= MAX_PAGE:
            raise ApiError(f"offset must be >= 0 and limit 1..{MAX_PAGE}")
        ref = self.resolve(digest, tags=False)
        row, children = self._summary(ref)
        items = []
        for position, child in enumerate(children[offset : offset + limit], offset):
            child_row, _ = self._summary(child)
            child_row["position"] = position
            items.append(child_row)
        row["children"] = {"total": len(children), "offset": offset, "items": items}
        row["timing"] = TIMING_NOTE
        if run is not None:
            times = self._call_times(run)
            prefix = f"{path}/" if path else ""
            row["duration"] = _duration(times.get(path))
            for item in items:
                item["duration"] = _duration(times.get(f"{prefix}{item['position']}"))
        return row

    def _call_times(self, run: str) -> dict[str, CallTime]:
        """When each call of a named run started and finished, by path (none if unknown)."""
        try:
            entry = self.store.runs.get(run)
            if entry is None:
                return {}
            kept = self._times.get(run)
            if kept is not None and kept[0] == entry.updated_at:
                return kept[1]  # Each page of a tree would read them all again.
            times = {time.path: time for time in self.store.runs.calls(run)}
        except UnsupportedOperation:
            return {}
        except ValueError as e:
            raise ApiError(f"not a run name: {e}") from None
        self._times[run] = (entry.updated_at, times)
        return times

    def object(self, text: str, *, whole: bool = False) -> dict[str, Any]:
        """An object by digest or unique prefix: its type and fields, refs not followed."""
        ref = self.resolve(text, tags=False)
        data = self._load(ref)
        form = value_json(self.store, data, 0, WHOLE if whole else OBJECT)
        return {
            "digest": ref.digest,
            **form,
            "is_invocation": data.type is Invocation,
            "whole": whole,
        }

    def lookup(self, text: str) -> dict[str, Any]:
        """What a tag, digest or prefix names: its digest and type."""
        ref = self.resolve(text)
        data = self._load(ref)
        return {
            "digest": ref.digest,
            "type": type_json(data.type, ROW),
            "is_invocation": data.type is Invocation,
        }

    # --- Diff. ---

    def diff(self, a_text: str, b_text: str) -> dict[str, Any]:
        """How invocation ``b`` differs from ``a`` (a run and its replay, say), call by call.

        Each call of either is ``reused`` (the very same record in both),
        ``rerun`` (matched, but recorded anew: its request may have changed
        too, see ``changes``), ``added`` (only in ``b``) or ``removed`` (only
        in ``a``). Children are matched as replay matches them: in order, else
        the earliest unmatched one with the same request digest; a call whose
        request matches nothing is paired with the next unmatched call of the
        same invokable type (a re-run with a changed request), else added.
        Only re-run calls are compared further down: a reused call's subtree
        is the same record.
        """
        a = self.resolve(a_text)
        b = self.resolve(b_text)
        self._invocation(a)
        self._invocation(b)
        counts = {"reused": 0, "rerun": 0, "added": 0, "removed": 0}
        root = self._pair(a, b, None, None, label=True)
        counts[root["status"]] += 1
        stack = [root] if root["status"] == "rerun" else []
        while stack:
            entry = stack.pop()
            entry["children"] = self._match_children(entry["a"], entry["b"])
            for child in entry["children"]:
                counts[child["status"]] += 1
                if child["status"] == "rerun":
                    stack.append(child)
        return {"a": a.digest, "b": b.digest, "root": root, "counts": counts}

    def _pair(
        self,
        a: Ref[Any] | None,
        b: Ref[Any] | None,
        a_position: int | None,
        b_position: int | None,
        *,
        label: bool,
    ) -> dict[str, Any]:
        if a is not None and b is not None:
            status = "reused" if a.digest == b.digest else "rerun"
        else:
            status = "added" if a is None else "removed"
        entry: dict[str, Any] = {
            "status": status,
            "a": None if a is None else a.digest,
            "b": None if b is None else b.digest,
            "a_position": a_position,
            "b_position": b_position,
            "call": None,
            "children": [],
        }
        if a is not None and b is not None and status == "rerun":
            a_row, _ = self._summary(a)
            b_row, _ = self._summary(b)
            entry["call"] = b_row
            entry["was"] = {
                key: a_row[key]
                for key in ("output", "raised", "raised_message", "raised_here", "state", "input")
            }
            entry["changes"] = (
                []
                if a_row["request"] == b_row["request"]
                else self._request_changes(self._ref(a_row["request"]), self._ref(b_row["request"]))
            )
        elif label:
            shown = b if b is not None else a
            assert shown is not None
            entry["call"], _ = self._summary(shown)
        return entry

    def _children(self, digest: str) -> list[Ref[Any]]:
        children: list[Ref[Any]] = self._load(self._invocation(self._ref(digest))["response"])[
            "children"
        ]
        return children

    def _request_digest(self, ref: Ref[Any]) -> str:
        digest: str = self._invocation(ref)["request"].digest
        return digest

    def _type_name(self, request_digest: str) -> str:
        request = self._load(self._ref(request_digest))
        name: str = self._load(request["invokable"]).type.type_name()
        return name

    def _match_children(self, a_digest: str, b_digest: str) -> list[dict[str, Any]]:
        a_children = self._children(a_digest)
        b_children = self._children(b_digest)
        a_ids = {ref.digest for ref in a_children}
        b_ids = {ref.digest for ref in b_children}
        # Requests are read only for calls with no identical twin on the other
        # side: a replay that re-ran one call of 10,000 reads two records.
        a_requests = {
            i: self._request_digest(ref)
            for i, ref in enumerate(a_children)
            if ref.digest not in b_ids
        }
        b_requests = {
            j: self._request_digest(ref)
            for j, ref in enumerate(b_children)
            if ref.digest not in a_ids
        }
        by_identity: dict[str, deque[int]] = {}
        by_request: dict[str, deque[int]] = {}
        for i, ref in enumerate(a_children):
            by_identity.setdefault(ref.digest, deque()).append(i)
            if i in a_requests:
                by_request.setdefault(a_requests[i], deque()).append(i)
        later_b_requests: dict[str, int] = {}
        for request in b_requests.values():
            later_b_requests[request] = later_b_requests.get(request, 0) + 1
        later_b_ids: dict[str, int] = {}
        for ref in b_children:
            later_b_ids[ref.digest] = later_b_ids.get(ref.digest, 0) + 1

        consumed = [False] * len(a_children)
        pairs: list[tuple[int | None, int | None]] = []
        pointer = 0

        def earliest(index: dict[str, deque[int]], key: str) -> int | None:
            queue = index.get(key)
            while queue and consumed[queue[0]]:
                queue.popleft()
            return queue[0] if queue else None

        for j, b_ref in enumerate(b_children):
            later_b_ids[b_ref.digest] -= 1
            if j in b_requests:
                later_b_requests[b_requests[j]] -= 1
            while pointer < len(a_children) and consumed[pointer]:
                pointer += 1
            match: int | None = None
            if pointer < len(a_children) and a_children[pointer].digest == b_ref.digest:
                match = pointer
            if match is None:
                match = earliest(by_identity, b_ref.digest)
            if match is None and j in b_requests:
                request = b_requests[j]
                if pointer < len(a_children) and a_requests.get(pointer) == request:
                    match = pointer
                else:
                    match = earliest(by_request, request)
                if match is None and pointer < len(a_children) and pointer in a_requests:
                    # Not the same request: the same invokable type at the same
                    # place, which no later call asks for, ran with a changed request.
                    a_request = a_requests[pointer]
                    if (
                        not later_b_requests.get(a_request)
                        and not later_b_ids.get(a_children[pointer].digest)
                        and self._type_name(a_request) == self._type_name(request)
                    ):
                        match = pointer
            if match is not None:
                consumed[match] = True
            pairs.append((match, j))
        pairs.extend((i, None) for i in range(len(a_children)) if not consumed[i])

        # In b's order, each removed call placed before the first call matched after it.
        removed = sorted(i for i, j in pairs if j is None and i is not None)
        ordered: list[tuple[int | None, int | None]] = []
        for a_index, b_index in pairs:
            if b_index is None:
                continue
            while removed and a_index is not None and removed[0] < a_index:
                ordered.append((removed.pop(0), None))
            ordered.append((a_index, b_index))
        ordered.extend((a_index, None) for a_index in removed)

        reused = sum(
            1
            for a_index, b_index in ordered
            if a_index is not None
            and b_index is not None
            and a_children[a_index].digest == b_children[b_index].digest
        )
        label = reused <= LABELLED_REUSED
        entries = []
        for a_index, b_index in ordered:
            before = None if a_index is None else a_children[a_index]
            after = None if b_index is None else b_children[b_index]
            entries.append(
                self._pair(before, after, a_index, b_index, label=label or before != after)
            )
        return entries

    def _request_changes(self, a: Ref[Any], b: Ref[Any]) -> list[dict[str, Any]]:
        """The fields of two requests that differ, as paths (``input.value``)."""
        a_request, b_request = self._load(a), self._load(b)
        changes: list[dict[str, Any]] = []
        for part in ("invokable", "input"):
            self._compare(a_request[part], b_request[part], part, changes, CHANGE_HOPS)
        return changes

    def _compare(self, a: Any, b: Any, path: str, out: list[dict[str, Any]], hops: int) -> None:
        if len(out) >= MAX_CHANGES:
            return
        if isinstance(a, Ref) and isinstance(b, Ref):
            if a.digest == b.digest:
                return
            if hops > 0:
                self._compare(self._load(a), self._load(b), path, out, hops - 1)
                return
        elif isinstance(a, ResourceDict) and isinstance(b, ResourceDict):
            if a.type is b.type or a.type.type_id() == b.type.type_id():
                for name in [*a, *(n for n in b if n not in a)]:
                    if name not in b:
                        out.append(self._change(f"{path}.{name}", a[name], None, missing="b"))
                    elif name not in a:
                        out.append(self._change(f"{path}.{name}", None, b[name], missing="a"))
                    else:
                        self._compare(a[name], b[name], f"{path}.{name}", out, hops)
                return
        elif isinstance(a, list) and isinstance(b, list):
            for k in range(max(len(a), len(b))):
                if k >= len(a):
                    out.append(self._change(f"{path}[{k}]", None, b[k], missing="a"))
                elif k >= len(b):
                    out.append(self._change(f"{path}[{k}]", a[k], None, missing="b"))
                else:
                    self._compare(a[k], b[k], f"{path}[{k}]", out, hops)
            return
        elif isinstance(a, dict) and isinstance(b, dict):
            for key in [*a, *(k for k in b if k not in a)]:
                if key not in b:
                    out.append(self._change(f"{path}[{key!r}]", a[key], None, missing="b"))
                elif key not in a:
                    out.append(self._change(f"{path}[{key!r}]", None, b[key], missing="a"))
                else:
                    self._compare(a[key], b[key], f"{path}[{key!r}]", out, hops)
            return
        elif (type(a) is type(b) or isinstance(a, ResourceBase)) and a == b:
            return
        out.append(self._change(path, a, b))

    def _change(self, path: str, a: Any, b: Any, missing: str | None = None) -> dict[str, Any]:
        change = {
            "path": path,
            "a": None if missing == "a" else value_json(self.store, a, 0, ROW),
            "b": None if missing == "b" else value_json(self.store, b, 0, ROW),
        }
        if missing:
            change["missing"] = missing
        return change

    # --- The inbox. ---

    def inbox(self) -> dict[str, Any]:
        """The runs paused on an input request: the question, and whether it can be answered."""
        entries = []
        for run in self.runs()["runs"]:
            if run.get("state") == "paused":
                entries.append(self._pending(run))
        return {"writable": self.writable, "requests": entries}

    def _pending(self, run: dict[str, Any]) -> dict[str, Any]:
        root = self._ref(run["digest"])
        raised: Ref[Any] = self._load(self._invocation(root)["response"])["raised"]
        request = self._load(raised)
        path, calls = self._path_to(root, raised)
        requested = request["requested_type"]
        missing = sorted(self._missing_types(calls) | _raw_names(requested))
        kind = _ANSWER_KINDS.get(requested) if isinstance(requested, type) else None
        if kind is None and isinstance(requested, type) and not _is_raw(requested):
            kind = "json"
        why_not = None
        if missing:
            why_not = (
                "this server lacks the program's types ("
                + ", ".join(missing)
                + "): restart it with --import MODULE (or --import path/to/file.py)"
            )
        elif not self.writable:
            why_not = "the server is read-only: restart it with --writable to answer"
        return {
            "run": run["name"],
            "tags": run["tags"],
            "invocation": root.digest,
            "request": raised.digest,
            "call": calls[-1].digest,
            "path": path,
            "question": value_json(self.store, request["context"], 0, OBJECT),
            "requested_type": (type_json(requested, ROW) if isinstance(requested, type) else None),
            "answer_kind": kind,
            "missing_types": missing,
            "can_answer": why_not is None,
            "why_not": why_not,
        }

    def _path_to(self, root: Ref[Any], raised: Ref[Any]) -> tuple[list[int], list[Ref[Any]]]:
        """Positions and calls from ``root`` down to the call that raised ``raised``."""
        path: list[int] = []
        calls = [root]
        ref = root
        while True:
            response = self._load(self._invocation(ref)["response"])
            if response["raised_here"]:
                return path, calls
            children: list[Ref[Any]] = response["children"]
            for position in range(len(children) - 1, -1, -1):
                child_response = self._load(self._invocation(children[position])["response"])
                child_raised = child_response["raised"]
                if child_raised is not None and child_raised.digest == raised.digest:
                    path.append(position)
                    ref = children[position]
                    calls.append(ref)
                    break
            else:
                return path, calls  # Recorded without its origin: stop here.

    def _missing_types(self, calls: list[Ref[Any]]) -> set[str]:
        """Types without a class among what continuing would rebuild: the calls on the
        path to the request (they run again) and their children's records."""
        found: set[str] = set()
        for ref in calls:
            invocation = self._invocation(ref)
            request = self._load(invocation["request"])
            response = self._load(invocation["response"])
            for part in (request["invokable"], request["input"]):
                found |= _raw_names(self._load(part))
            for child in response["children"]:
                child_invocation = self._invocation(child)
                child_request = self._load(child_invocation["request"])
                child_response = self._load(child_invocation["response"])
                found |= _raw_names(self._load(child_request["invokable"]))
                if child_response["output"] is not None:
                    found |= _raw_names(self._load(child_response["output"]))
        return found

    def answer(self, body: Any) -> dict[str, Any]:
        """Answers a paused run's input request and continues the run; moves its tag.

        ``body`` is ``{"run": TAG, "invocation": D, "request": D, "answer": TEXT}``:
        the tag of the paused run, the invocation it names and the input
        request it raised (both as the inbox listed them, so a run that
        changed meanwhile is not continued), and the answer as text (for an
        ``int``/``float`` answer its digits, for ``json`` a JSON object of the
        requested type's fields). Runs the user's program (a replay), so its
        types must be imported; writes the continued run and moves the tag to
        it. Answers are taken one at a time.
        """
        if not self.writable:
            raise ApiError("the server is read-only: restart it with --writable to answer", 403)
        if not isinstance(body, dict):
            raise ApiError("expected a JSON object with run, invocation, request and answer")
        for key in ("run", "invocation", "request", "answer"):
            if not isinstance(body.get(key), str):
                raise ApiError(f"expected a JSON object with a string {key!r}")
        with self._answer_lock:
            return self._answer(body["run"], body["invocation"], body["request"], body["answer"])

    def _answer(self, run: str, invocation: str, request: str, text: str) -> dict[str, Any]:
        store = self.store
        try:
            tagged = store.tags[run]
        except (KeyError, ValueError) as e:
            raise ApiError(f"no run {run!r} (no such tag)", 404) from e
        if tagged.digest != invocation:
            raise ApiError(
                f"run {run!r} has moved on (it names {_short(tagged.digest)} now): "
                "reload the inbox",
                409,
            )
        pending = self._pending({"digest": invocation, "name": run, "tags": [run]})
        if pending["request"] != request:
            raise ApiError(f"run {run!r} is paused on another request now: reload the inbox", 409)
        if pending["missing_types"]:
            raise ApiError(str(pending["why_not"]), 409)
        raised = self._ref(request)
        requested = self._load(raised)["requested_type"]
        value = _answer_value(requested, pending["answer_kind"], text)
        try:
            with store:
                paused = store.get(tagged)
                input_request = store.get(raised)
                assert isinstance(input_request, InputRequest)
                continued = input_request.continue_invocation(paused, value)
                new_ref = store.commit(continued)
                # Moved only if nobody moved it meanwhile, in any process.
                if not store.tags.compare_and_set(run, tagged, new_ref):
                    raise ApiError(f"run {run!r} moved while it was continued", 409)
        except (TypeNotRegisteredError, SchemaMismatchError) as e:
            raise ApiError(f"cannot continue the run: {e}", 409) from e
        except InvocationError as e:
            raise ApiError(f"cannot continue the run: {type(e).__name__}: {e}", 409) from e
        row, _ = self._summary(new_ref)
        return {"run": run, "invocation": new_ref.digest, "was": invocation, "state": row["state"]}


def _type_label(cls: type[Any]) -> str:
    if _is_raw(cls):
        return f"{cls.__name__}[raw]"
    return str(cls.__name__)


def _is_input_request(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, InputRequest)


def _raw_names(value: Any) -> set[str]:
    """Stored names of the types without a class in a loaded value (refs not followed)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, ResourceDict):
            if _is_raw(item.type):
                found.add(item.type.stored_name)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif _is_raw(item):
            found.add(item.stored_name)
    return found


def _answer_value(requested: Any, kind: str | None, text: str) -> ResourceBase:
    """The answer resource from the text typed in the inbox."""
    try:
        if kind == "none":
            return NoneResource()
        if kind == "int":
            return Int(int(text.strip()))
        if kind == "float":
            return Float(float(text.strip()))
        if kind == "text":
            return Bytes(text.encode()) if requested is Bytes else Str(text)
        if kind == "json":
            fields = json.loads(text)
            if not isinstance(fields, dict):
                raise ValueError("expected a JSON object of the fields")
            built: ResourceBase = requested.from_fields(fields)
            return built
    except (ValueError, TypeError, EnactError) as e:
        name = getattr(requested, "__name__", "the requested type")
        raise ApiError(f"cannot make a {name} of the answer: {e}") from e
    raise ApiError("this request cannot be answered here (its requested type is unknown)", 409)


def _duration(time: CallTime | None) -> float | None:
    """A call's duration in seconds, if it finished (None if not recorded)."""
    if time is None or not time.finished or time.finished < time.started:
        return None
    return round(time.finished - time.started, 3)


def _run_times(run: RunEntry) -> dict[str, Any]:
    """A named run's times and progress from the run index, for its entry in the runs list."""
    started = datetime.datetime.fromtimestamp(run.started_at, datetime.UTC)
    ended = run.state in ("done", "raised")
    return {
        "started_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "duration": round(run.updated_at - run.started_at, 3) if ended else None,
        "run": {
            "name": run.name,
            "state": run.state,
            "calls_done": run.calls_done,
            "owner": run.owner,
            "updated_at": run.updated_at,
        },
    }
