"""The ReplayError of a call that does not match its record: a bounded message.

The first two lines are the message the original enact printed (the tutorial
shows it, In [17]): "Expected invocation NEW but got RECORDED." and advice.
It reads backwards ("Expected" is the new call), so a note (PEP 678, shown
under the message in tracebacks) says which is which, names the child's
position and invokable, and lists the fields that differ. Every value is
truncated, so the whole stays under 2 KiB whatever the size of the data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from enact_invoke._exceptions import ReplayError
from enact_invoke._records import Request
from enact_resource import ResourceBase

if TYPE_CHECKING:
    from enact_invoke._invokable import InvokableBase
    from enact_store import Ref, Store

__all__ = ["replay_mismatch"]

#: Longest text of a call in the message, of a differing value, of a field path.
CALL_CHARS = 200
VALUE_CHARS = 120
PATH_CHARS = 60
#: How many differing fields are listed.
MAX_DIFFERENCES = 3

_ATOMS = (str, bytes, int, float, bool, type(None), type)


def replay_mismatch(
    store: Store,
    invokable: InvokableBase[Any, Any],
    resource: ResourceBase,
    recorded: Ref[Request[Any, Any]],
    position: int,
) -> ReplayError:
    """Returns the ReplayError for a new call that does not match the recorded request.

    Args:
        store: where the record is read from.
        invokable: the new call's invokable (its state before the call).
        resource: the new call's input.
        recorded: the recorded request at that position.
        position: the index of the next recorded child not yet replayed among its
            parent's children (no recorded child not yet replayed matches the call).
    """
    new_call = shorten(f"{invokable!r}({resource})", CALL_CHARS)
    try:
        request = store.get(recorded)
        recorded_invokable = store.get(request.invokable)
        recorded_input = store.get(request.input)
    except Exception as e:  # A broken record must not hide the mismatch.
        error = ReplayError(
            f"Expected invocation {new_call} but could not read the recorded one: {e!s:.200}"
        )
        error.add_note(f"Recorded child {position}: request {recorded.digest}")
        return error
    recorded_call = shorten(f"{recorded_invokable!r}({recorded_input})", CALL_CHARS)
    error = ReplayError(
        f"Expected invocation {new_call} but got {recorded_call}.\n"
        "Ensure that all non-deterministic functions are wrapped in invokables "
        "or use strict=False."
    )
    new_name, recorded_name = type(invokable).__qualname__, type(recorded_invokable).__qualname__
    names = (
        recorded_name if new_name == recorded_name else f"recorded {recorded_name}, new {new_name}"
    )
    lines = [
        f"Recorded child {position} ({names}), the next one not yet replayed, does not match "
        "the new call, nor does any other recorded child not yet replayed (they are matched "
        'by request digest). "Expected" is the new call, "got" the record. Differences:'
    ]
    differences = _differences("invokable", recorded_invokable, invokable)
    differences = [*differences, *_differences("input", recorded_input, resource)]
    for path, old, new in differences[:MAX_DIFFERENCES]:
        shown_old, shown_new = _show_pair(old, new)
        lines.append(f"  {shorten(path, PATH_CHARS)}")
        lines.append(f"    recorded: {shown_old}")
        lines.append(f"    new call: {shown_new}")
    if len(differences) > MAX_DIFFERENCES:
        lines.append(f"  ... and {len(differences) - MAX_DIFFERENCES} more")
    error.add_note("\n".join(lines))
    return error


def shorten(text: str, limit: int) -> str:
    """Returns ``text``, cut to ``limit`` characters with a note of its length if longer."""
    if len(text) <= limit:
        return text
    tail = f"... ({len(text)} chars)"
    return text[: limit - len(tail)] + tail


def _show_pair(old: Any, new: Any) -> tuple[str, str]:
    """The two values' texts, cut around where they first differ if they are long."""
    old_text, new_text = _text(old), _text(new)
    if max(len(old_text), len(new_text)) <= VALUE_CHARS:
        return old_text, new_text
    same = 0
    for a, b in zip(old_text, new_text, strict=False):
        if a != b:
            break
        same += 1
    start = max(0, same - VALUE_CHARS // 4)
    return _window(old_text, start), _window(new_text, start)


def _window(text: str, start: int) -> str:
    tail = f"... ({len(text)} chars)"
    head = f"...[from char {start}] " if start else ""
    if len(text) - start + len(head) <= VALUE_CHARS:
        return head + text[start:]
    return head + text[start : start + VALUE_CHARS - len(head) - len(tail)] + tail


def _text(value: Any) -> str:
    if isinstance(value, type):
        return value.__qualname__
    try:
        return repr(value)
    except Exception as e:  # A broken repr must not hide the mismatch.
        return f"<{type(value).__qualname__}: repr failed: {e}>"


def _differences(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """The leaves where ``old`` and ``new`` differ, as (path, old, new); at most a few more
    than are shown, so that a huge structure costs no more than a small one."""
    found: list[tuple[str, Any, Any]] = []
    for difference in _walk(path, old, new):
        found.append(difference)
        if len(found) > 100:
            break
    return found


def _walk(path: str, old: Any, new: Any) -> Iterator[tuple[str, Any, Any]]:
    if type(old) is not type(new):
        yield path, type(old), type(new)
        return
    if _equal(old, new):
        return
    if isinstance(old, ResourceBase) and not isinstance(old, _ATOMS):
        for (name, old_value), (_, new_value) in zip(
            old.field_items(), new.field_items(), strict=False
        ):
            yield from _walk(f"{path}.{name}", old_value, new_value)
    elif isinstance(old, (list, tuple)) and len(old) == len(new):
        for index, (old_item, new_item) in enumerate(zip(old, new, strict=True)):
            yield from _walk(f"{path}[{index}]", old_item, new_item)
    elif isinstance(old, dict) and old.keys() == new.keys():
        for key in old:
            yield from _walk(f"{path}[{key!r}]", old[key], new[key])
    else:
        yield path, old, new


def _equal(old: Any, new: Any) -> bool:
    try:
        return bool(old == new)
    except Exception:
        return False
