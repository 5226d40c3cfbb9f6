"""Policy config for a stack: what the spec's `budget` and `residency` imply, overlaid with explicit settings.

The shape is Pulumi's `--policy-pack-config` file, one per pack: {policy name | "all": level | {enforcementLevel,
...properties}}. `gpucluster:policy` in the stack config (or a `--policy-config` file) maps pack key -> that.
"""

from __future__ import annotations

import copy
from typing import Any

from .spec import ClusterSpec


def from_spec(spec: ClusterSpec) -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = {"cost": {}, "sovereignty": {}, "security": {}}
    if spec.budget:
        budget = {k: v for k, v in (("maxMonthlyUsd", spec.budget.monthly_usd), ("maxHourlyUsd", spec.budget.hourly_usd)) if v}
        if budget:
            config["cost"]["stack-budget"] = budget
        if spec.budget.max_gpus:
            config["cost"]["gpus-per-stack"] = {"maxGpus": spec.budget.max_gpus}
    if spec.residency:
        config["sovereignty"]["allowed-regions"] = {"allowedRegions": list(spec.residency.allowed_regions)}
    return config


def overlay(base: dict[str, dict[str, Any]], explicit: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Explicit settings win, property by property."""
    merged = copy.deepcopy(base)
    for pack, policies in explicit.items():
        target = merged.setdefault(pack, {})
        for policy, value in policies.items():
            if isinstance(value, dict) and isinstance(target.get(policy), dict):
                target[policy] = {**target[policy], **value}
            else:
                target[policy] = value
    return merged
