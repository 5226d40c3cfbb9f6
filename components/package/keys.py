"""The spec's JSON Schema and its keys as the package's Python names: what the generator writes args.py from, and
what the components read their inputs back into a spec with."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from gpucluster.spec import ClusterSpec


def snake(alias: str) -> str:
    """The Python key whose camel case (as Pulumi's analyzer computes it) is the spec's key."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", alias).lower()


@cache
def schema() -> dict[str, Any]:
    return ClusterSpec.model_json_schema(by_alias=True)
