"""Functions generated from source text, as dataclasses generates ``__init__``.

The packers (_digest) and codecs (_serialization) of each resource type are
generated so that a small record costs a few Python calls. :func:`generate`
is the one way they are made (and, exported as
``enact_resource.generate_code``, the way sibling packages and extensions
generate theirs): it gives the generated code a filename of its
own and registers its source with :mod:`linecache`, so tracebacks,
:func:`inspect.getsource`, debuggers and profilers show the generated lines,
and it checks that the names written into the source as identifiers are
identifiers (a field name is never code).
"""

from __future__ import annotations

import itertools
import keyword
import linecache
from collections.abc import Iterable
from typing import Any

__all__ = ["generate"]

_COUNTER = itertools.count(1)


def generate(
    what: str,
    owner: Any,
    lines: Iterable[str],
    namespace: dict[str, Any],
    *,
    identifiers: Iterable[str] = (),
) -> dict[str, Any]:
    """Runs generated source in ``namespace`` and returns it (holding the new functions).

    Args:
        what: what the code is, for its filename (``"packers"``, ``"codec"``).
        owner: the class or function it is generated for (its module and
            qualified name go in the filename:
            ``<enact-resource packers of mod.Cls #3>``).
        lines: the source, one line per item.
        namespace: the globals of the generated functions.
        identifiers: the names the source uses as identifiers (attribute
            names, say): each must be a Python identifier and not a keyword.

    Raises:
        ValueError: a name in ``identifiers`` is not an identifier.
    """
    for name in identifiers:
        if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
            raise ValueError(
                f"Cannot generate the {what} of {owner.__qualname__}: "
                f"field name {name!r} is not a Python identifier"
            )
    source = "\n".join(lines) + "\n"
    filename = (
        f"<enact-resource {what} of {owner.__module__}.{owner.__qualname__} #{next(_COUNTER)}>"
    )
    # mtime None: linecache.checkcache never drops the entry (there is no file).
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    return namespace
