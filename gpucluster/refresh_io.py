"""What every refresh from a cloud's API shares: the error that leaves a data file untouched, a progress line, and
writing a file so that a reader sees the old one or the new one, never half of one. Pure Python: no cloud clients."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

Progress = Callable[[int, int, str], None]


class RefreshError(Exception):
    """A response was malformed, incomplete or inconsistent; the data file was not touched."""


def progress_bar(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    end = "\n" if done == total else ""
    if sys.stderr.isatty():
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<40}", end=end, file=sys.stderr, flush=True)
    elif done == total or done % 10 == 0:
        print(f"{done}/{total} {label}", file=sys.stderr, flush=True)


def write_atomically(path: Path, text: str) -> None:
    """Write next to the file, then rename over it."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(text)
    os.replace(handle.name, path)
