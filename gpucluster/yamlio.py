"""YAML documents the project ships (catalog, price books, replacements, CRDs), read with libyaml when PyYAML has
it: several times faster than the pure-Python parser, which every CLI run would otherwise pay on start."""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """yaml.safe_load, with libyaml's parser when present (the same safe constructors either way)."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader)
