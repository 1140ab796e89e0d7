"""pprint and pformat: the indented, ref-following format of the tutorial."""

from __future__ import annotations

import sys
from typing import Any, TextIO

__all__ = ["pformat", "pprint"]


def pformat(value: Any, max_ref_depth: int | None = None, skip_repeated_refs: bool = False) -> str:
    """Returns the pretty-printed text of a resource, ref or field value."""
    raise NotImplementedError


def pprint(
    value: Any,
    max_ref_depth: int | None = None,
    skip_repeated_refs: bool = False,
    file: TextIO | None = None,
) -> None:
    """Prints :func:`pformat` of ``value``."""
    print(pformat(value, max_ref_depth, skip_repeated_refs), file=file or sys.stdout)
