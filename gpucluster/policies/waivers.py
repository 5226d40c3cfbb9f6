"""Policy config in layers, and the waivers it makes visible.

A stack's policy config is built from layers, each in Pulumi's `--policy-pack-config` shape per pack
(`{pack: {policy | "all": level | {enforcementLevel, ...settings}}}`), later layers winning property by property:
what the spec implies (budget, residency), the organisation's file, `gpucluster:policy` in the stack config, then
a `--policy-config` file. A waiver is a policy whose effective level is lower than the pack's own (mandatory to
advisory or disabled, advisory to disabled); every waiver is reported with the layer that set it, so a reviewer
sees it. The organisation's file may mark a policy `"locked": true`: its level and settings are then the
organisation's, `all` in a later layer passes it by, and a later layer that names it is refused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .. import policyconfig
from . import PACKS
from .harness import PolicyConfigError, PolicyInfo, policy_infos, reconcile

RANK = {"disabled": 0, "advisory": 1, "mandatory": 2, "remediate": 2}
ORGANISATION = "organisation"


@dataclass(frozen=True)
class Layer:
    source: str  # what set it, as shown to a reviewer: "spec", "organisation (FILE)", "gpucluster:policy (FILE:LINE)", ...
    config: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Waiver:
    pack: str
    policy: str
    default: str  # the pack's own level
    effective: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.pack}/{self.policy}: {self.default} -> {self.effective}, set by {self.source}"


def combine(layers: list[Layer]) -> tuple[dict[str, dict[str, Any]], list[Waiver]]:
    """The effective config of every pack, and its waivers. Raises PolicyConfigError when a layer after the
    organisation's names a policy the organisation locked, or when a pack's config does not fit its schema."""
    locked, layers = _locks(layers)
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for pack, policies in layer.config.items():
            for policy in policies:
                if (pack, policy) in locked and not layer.source.startswith(ORGANISATION):
                    raise PolicyConfigError(f"{layer.source} sets {pack}/{policy}, which the organisation's policy config "
                                            f"locks ({locked[(pack, policy)]}); remove it from the stack's settings")
        merged = policyconfig.overlay(merged, layer.config)
    for (pack, policy), source in locked.items():  # `all` in a later layer does not reach a locked policy
        merged[pack][policy] = _organisation_value(layers, pack, policy)
    return merged, _waivers(layers, merged)


def _locks(layers: list[Layer]) -> tuple[dict[tuple[str, str], str], list[Layer]]:
    """The policies the organisation's layer locks, and the layers with the `locked` marks taken out (they are
    not Pulumi policy config)."""
    locked: dict[tuple[str, str], str] = {}
    cleaned = []
    for layer in layers:
        if not layer.source.startswith(ORGANISATION):
            cleaned.append(layer)
            continue
        config: dict[str, dict[str, Any]] = {}
        for pack, policies in layer.config.items():
            config[pack] = {}
            for policy, value in policies.items():
                if isinstance(value, dict) and value.get("locked"):
                    locked[(pack, policy)] = layer.source
                    # Locked at the level given, else at the pack's own, so that no `all` can move it.
                    value = {"enforcementLevel": _default_level(pack, policy, value.get("enforcementLevel")),
                             **{k: v for k, v in value.items() if k != "locked"}}
                config[pack][policy] = value
        cleaned.append(Layer(layer.source, config))
    return locked, cleaned


def _default_level(pack: str, policy: str, given: str | None) -> str:
    found = PACKS.get(pack)
    if found is None and given:  # a pack of the user's own (--policy-pack): its policies are known only once it runs
        return given
    if found is None:
        raise PolicyConfigError(f"the organisation's policy config locks {pack}/{policy} without an enforcementLevel; "
                                "a lock on a policy of a pack of your own must give the level")
    policy_object = next((p for p in found.policies if p.name == policy), None)
    if policy_object is None:
        raise PolicyConfigError(f"the organisation's policy config locks {pack}/{policy}, which is not a policy of these packs")
    return (policy_object.enforcement_level or found.enforcement_level).value


def _organisation_value(layers: list[Layer], pack: str, policy: str) -> Any:
    values = [layer.config[pack][policy] for layer in layers
              if layer.source.startswith(ORGANISATION) and policy in layer.config.get(pack, {})]
    return values[-1]


def _waivers(layers: list[Layer], merged: dict[str, dict[str, Any]]) -> list[Waiver]:
    return [waiver for pack in PACKS.values()
            for waiver in pack_waivers(layers, pack.key, policy_infos(pack), reconcile(pack, merged.get(pack.key, {})))]


def pack_waivers(layers: list[Layer], key: str, infos: list[PolicyInfo], effective: dict[str, tuple[Any, Any]]) -> list[Waiver]:
    """The policies of one pack (its config key, its policies, their reconciled levels) that run below their own
    level, each with the layer that set it."""
    return [Waiver(key, info.name, info.level, effective[info.name][0].value, _who_set(layers, key, info.name))
            for info in infos if RANK[effective[info.name][0].value] < RANK[info.level]]


def _who_set(layers: list[Layer], pack: str, policy: str) -> str:
    """The last layer that set the policy's level, itself or through `all`."""
    for layer in reversed(layers):
        for key in (policy, "all"):
            value = layer.config.get(pack, {}).get(key)
            if isinstance(value, str) or (isinstance(value, dict) and "enforcementLevel" in value):
                return layer.source if key == policy else f"{layer.source} ('all')"
    return "unknown"
