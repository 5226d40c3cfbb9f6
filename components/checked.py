"""The cluster components check their spec as a stack file's spec is checked, so that a program that builds a
`ClusterSpec` in code cannot deploy what `load_spec` refuses (a spec made with `ClusterSpec.model_validate` has
passed only the structural checks)."""

from __future__ import annotations

import pulumi

from gpucluster.problems import format_problems
from gpucluster.spec import ClusterSpec
from gpucluster.validate import semantic_problems


def checked_spec(spec: ClusterSpec, cloud: str, component: str, name: str) -> ClusterSpec:
    """`spec`, when it is valid for `cloud`; else a RunError naming every error, before anything is registered."""
    if spec.cloud != cloud:
        raise pulumi.RunError(f"{component} {name!r}: the spec's cloud is {spec.cloud!r}, not {cloud!r}")
    errors = [p for p in semantic_problems(spec) if p.severity == "error"]
    if errors:
        raise pulumi.RunError(f"{component} {name!r}: {format_problems(errors)}")
    return spec
