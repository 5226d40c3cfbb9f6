"""Where a finding is declared: the stack file, and the line of the cluster spec entry the resource comes from."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..graph import tags_of
from ..spec import CONFIG_KEY, CONFIG_NAMESPACE
from ..stackrun import StackRun

POOL_KEYS = ("gpucluster:pool", "gpucluster-pool")  # the pool tag (AWS) and label (GCP) the components add


def repo_root(folder: Path) -> Path:
    """The git work tree `folder` is in (code scanning wants paths from its root), else `folder` itself."""
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                             check=True, timeout=30).stdout.strip()
        return Path(out) if out else folder.resolve()
    except (OSError, subprocess.SubprocessError):
        return folder.resolve()


def pool_of(inputs: Mapping[str, Any]) -> str | None:
    """The spec pool a resource belongs to, from the tag or label the components put on a pool's resources."""
    labels = [tags_of(inputs) or {}, ((inputs.get("nodeConfig") or {}).get("resourceLabels") or {})]
    return next((str(found[key]) for found in labels if isinstance(found, dict) for key in POOL_KEYS if key in found), None)


def locator(run: StackRun, root: Path) -> Callable[[Any], tuple[str, int | None]]:
    """A function placing a finding (anything with `.resource`, a URN or None) in the stack file: on its pool's
    entry in the cluster spec, else on the spec itself, else on the file."""
    stack_file = run.project.stack_file(run.result.stack).resolve()
    try:
        uri = stack_file.relative_to(root.resolve()).as_posix()
    except ValueError:
        uri = stack_file.as_posix()
    key = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"
    try:
        pools = json.loads(run.stack.values[key]).get("pools") or [] if key in run.stack.values else []
    except (ValueError, AttributeError):
        pools = []
    pool_index = {str(p.get("name")): i for i, p in enumerate(pools) if isinstance(p, dict)}
    inputs = {r.urn: r.inputs for r in run.result.resources}

    def line_of(key_: str, path: str = "") -> int | None:
        return run.stack.lines.get((key_, path))

    def locate(finding: Any) -> tuple[str, int | None]:
        pool = pool_of(inputs.get(finding.resource) or {}) if finding.resource else None
        line = line_of(key, f"pools[{pool_index[pool]}]") if pool in pool_index else None
        return uri, line or line_of(key)

    return locate
