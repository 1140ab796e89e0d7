"""Puts this folder on sys.path, so the tests share the helpers in _cli_testlib."""

from __future__ import annotations

import sys
from pathlib import Path

# Importable by the same name whatever pytest's import mode.
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
