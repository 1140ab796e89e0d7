"""The resource types the conformance suite commits, and small helpers of its tests."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import enact_resource as er
from enact_store import Ref, Store

__all__ = [
    "Box",
    "Node",
    "Pair",
    "canonical",
    "closure",
    "fresh_ref",
    "own_resource",
    "shared_resource",
]

T = TypeVar("T", bound=er.ResourceBase)


@er.register(name="enact_store.testing.Box")
@dataclasses.dataclass
class Box(er.Resource):
    """A resource of one field holding any legal value."""

    value: Any


@er.register(name="enact_store.testing.Pair")
@dataclasses.dataclass
class Pair(er.Resource):
    """A resource whose fields are declared out of alphabetical order."""

    zeta: Any
    alpha: Any


@er.register(name="enact_store.testing.Node")
@dataclasses.dataclass
class Node(er.Resource):
    """A node of a DAG: a label, and refs to its children (of any type)."""

    label: str
    children: list[Ref[Any]]


def fresh_ref(ref: Ref[T]) -> Ref[T]:
    """A new ref to the same digest, with nothing cached (reads go to the backend)."""
    return type(ref)(ref.digest)


def closure(store: Store, *roots: Ref[Node]) -> set[str]:
    """The digests of the Nodes the roots reach (read through fresh refs)."""
    found: set[str] = set()
    stack = [root.digest for root in roots]
    with store:
        while stack:
            digest = stack.pop()
            if digest not in found:
                found.add(digest)
                node: Node = Ref(digest).get()
                stack.extend(child.digest for child in node.children)
    return found


def canonical(value: Any) -> Any:
    """A type-exact, comparable form of a value (NaN equals NaN, -0.0 differs from 0.0).

    Booleans compare as the integers they digest as (``True`` and ``1`` have
    one digest), since a store holds one object per digest.
    """
    if isinstance(value, er.ResourceBase):
        value = value.to_resource_dict()
    cls = type(value)
    if value is None:
        return None
    if cls is bool or cls is int:
        return ("int", int(value))
    if cls is float:
        return ("float", repr(value))
    if cls is str:
        return ("str", value)
    if cls is bytes:
        return ("bytes", value)
    if isinstance(value, type) and issubclass(value, er.ResourceBase):
        return ("type", value.type_id())
    if cls is er.ResourceDict:
        return ("res", value.type.type_id(), [(k, canonical(v)) for k, v in value.items()])
    if cls is dict:
        return ("map", sorted((k, canonical(v)) for k, v in value.items()))
    if cls in (list, tuple):
        return ("seq", [canonical(v) for v in value])
    raise AssertionError(f"unexpected value in a resource: {value!r}")


# --- What the concurrency workers commit (so the parent knows every digest). ---


def shared_resource(i: int) -> Box:
    """The i-th resource that every thread of every worker commits."""
    return Box({"shared": i, "data": [i, float(i) / 3, str(i) * 10]})


def own_resource(process: int, thread: int, j: int) -> Box:
    """The j-th resource that only one thread of one worker commits."""
    return Box({"process": process, "thread": thread, "j": j})
