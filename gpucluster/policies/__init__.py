"""The policy packs' policies, importable (the packs' own `__main__.py` files only wrap them in a PolicyPack,
whose constructor serves forever and so is never imported here)."""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_policy import EnforcementLevel, Policy

from . import cost, security, sovereignty

VERSION = "0.1.0"  # also in each policies/<pack>/PulumiPolicy.yaml, where the Pulumi CLI reads it


@dataclass(frozen=True)
class Pack:
    key: str  # the folder under policies/
    name: str
    description: str
    policies: list[Policy]
    enforcement_level: EnforcementLevel = EnforcementLevel.ADVISORY
    version: str = VERSION


PACKS = {
    "cost": Pack("cost", cost.NAME, "Budgets, GPU caps and cost hygiene for GPU clusters", cost.POLICIES),
    "sovereignty": Pack("sovereignty", sovereignty.NAME, "Where data and compute may live, and under whose keys", sovereignty.POLICIES),
    "security": Pack("security", security.NAME, "Baseline security for GPU nodes, storage and networks", security.POLICIES),
}
