"""The change between two previews (the preview JSON of a base and of a head), as the engine would plan it.

Resources are matched by URN, or through a head resource's aliases. A matched custom resource is updated when an
input differs, and replaced when a changed input forces replacement (`replacements.yaml`, with the provider source
of each property), when its `replaceOnChanges` option names the input, or when its provider's region or project
changes. Inputs that come from another resource are compared through their links: an input whose value is a
dependency's output changes when that dependency is replaced (a new id) or when it depends on other resources than
before, so a replacement cascades to what refers to it, as in `pulumi preview`. Both previews are offline, so an
output that stays unknown in both is equal in both unless such a link says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..graph import COMPUTED, LAUNCH_TEMPLATE, Graph
from .disruption import LAUNCH_INPUTS, SEVERITY, Flag, data_loss, rollout, running_nodes
from .replacements import conditional_replacement, forces_replacement, replacement_rule

OPS = ("create", "replace", "update", "delete")
_INDEX = re.compile(r"\[\d+\]")
PROVIDER_KEYS = ("region", "project", "zone")  # a provider setting whose change makes every resource of it move


def changed_paths(before: Any, after: Any, path: str = "") -> dict[str, tuple[Any, Any]]:
    """Leaf paths (`tags.Name`, `overrides[0].instanceType`) whose values differ, with both values."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: dict[str, tuple[Any, Any]] = {}
        for key in sorted(set(before) | set(after), key=str):
            found.update(changed_paths(before.get(key), after.get(key), f"{path}.{key}" if path else str(key)))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = {}
        for i, (old, new) in enumerate(zip(before, after)):
            found.update(changed_paths(old, new, f"{path}[{i}]"))
        return found
    return {} if before == after else {path: (before, after)}


def _takes_new_version(value: Any) -> bool:
    """Whether an input takes a launch template's latest version (a computed `version`), which every update of
    the template changes; `$Latest` or a fixed number does not."""
    if isinstance(value, dict):
        return value.get("version") == COMPUTED or any(_takes_new_version(v) for v in value.values())
    if isinstance(value, list):
        return any(_takes_new_version(v) for v in value)
    return False


class _Planner:
    def __init__(self, base: Mapping[str, Any], head: Mapping[str, Any]):
        self.base = Graph(base.get("resources", []))
        self.head = Graph(head.get("resources", []))
        self.old_urn: dict[str, str] = {}  # head URN -> the base URN it continues (itself, or an alias)
        for resource in self.head.resources:
            urn = resource["urn"]
            if urn in self.base.by_urn:
                self.old_urn[urn] = urn
            else:
                alias = next((a for a in (resource.get("options") or {}).get("aliases", []) if a in self.base.by_urn), None)
                if alias:
                    self.old_urn[urn] = alias
        self.ops: dict[str, dict[str, Any]] = {}

    def plan(self) -> list[dict[str, Any]]:
        changes = [self.op(r["urn"]) for r in self.head.resources]
        kept = set(self.old_urn.values())
        changes += [self.deleted(r) for r in self.base.resources if r["urn"] not in kept]
        self.template_rollouts(changes)
        return changes

    def op(self, urn: str) -> dict[str, Any]:
        """The planned step for a head resource, after the steps of everything its inputs depend on."""
        if urn in self.ops:
            return self.ops[urn]
        self.ops[urn] = {"op": "same"}  # a placeholder that also stops a (malformed) cycle
        resource = self.head.by_urn[urn]
        for dependency in {u for urns in (resource.get("dependencies") or {}).values() for u in urns}:
            if dependency in self.head.by_urn:
                self.op(dependency)
        change = self._step(resource)
        self.ops[urn] = change
        return change

    def _step(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        entry = {"urn": resource["urn"], "type": resource["type"], "name": resource["name"], "custom": resource.get("custom", False)}
        old_urn = self.old_urn.get(resource["urn"])
        if old_urn is None:
            return {**entry, "op": "create", "flags": []}
        if old_urn != resource["urn"]:
            entry["renamedFrom"] = old_urn
        if not resource.get("custom"):
            return {**entry, "op": "same", "flags": []}
        old = self.base.by_urn[old_urn]
        diffs = changed_paths(old.get("inputs") or {}, resource.get("inputs") or {})
        for name, urns in (resource.get("dependencies") or {}).items():
            if name in diffs or any(p.startswith(f"{name}.") or p.startswith(f"{name}[") for p in diffs):
                continue
            reason = self._link_change(resource, name, urns, old)
            if reason:
                diffs[name] = (COMPUTED, reason)
        replace = self._replace_reasons(resource, old, diffs)
        op = "replace" if replace else "update" if diffs else "same"
        change = {**entry, "op": op, "changed": {p: {"before": b, "after": a} for p, (b, a) in diffs.items()},
                  "replaceBecause": replace, "flags": []}
        change["flags"] = self._flags(resource, change)
        return change

    def _link_change(self, resource, name: str, urns: list[str], old: Mapping[str, Any]) -> str | None:
        before = {u for u in (old.get("dependencies") or {}).get(name, [])}
        now = {self.old_urn.get(u, u) for u in urns}
        if now != before:
            return "<computed: refers to other resources>"
        for urn in urns:
            step = self.ops.get(urn, {})
            if step.get("op") == "replace":
                return f"<computed: {step['name']} is replaced>"
            if (step.get("op") == "update" and step.get("type") == LAUNCH_TEMPLATE
                    and _takes_new_version((resource.get("inputs") or {}).get(name))):
                return f"<computed: new version of {step['name']}>"
        return None

    def _replace_reasons(self, resource, old, diffs) -> list[dict[str, str]]:
        reasons = []
        rule = replacement_rule(resource["type"])
        on_changes = (resource.get("options") or {}).get("replaceOnChanges", [])
        for path in diffs:
            plain = _INDEX.sub("", path)
            if rule and forces_replacement(rule, plain):
                reasons.append({"path": path, "source": rule.source})
            elif "*" in on_changes or any(plain == p or plain.startswith(f"{p}.") for p in on_changes):
                reasons.append({"path": path, "source": "resource option replaceOnChanges"})
        old_provider, new_provider = self.base.provider(old), self.head.provider(resource)
        for key in PROVIDER_KEYS:
            before = (old_provider or {}).get("inputs", {}).get(key)
            after = (new_provider or {}).get("inputs", {}).get(key)
            if before != after:
                reasons.append({"path": f"provider {key}", "source": f"the provider's {key} changed: {before} -> {after}"})
        return reasons

    def _flags(self, resource, change) -> list[Flag]:
        flags: list[Flag] = []
        options = resource.get("options") or {}
        if change["op"] == "replace":
            paths = ", ".join(r["path"] for r in change["replaceBecause"])
            sources = sorted({r["source"] for r in change["replaceBecause"]})
            order = "deleted before its replacement is created" if options.get("deleteBeforeReplace") else \
                "a replacement is created, then the old one deleted"
            flags.append(Flag("replace", f"replaced ({order}): {paths} force a new resource", "; ".join(sources)))
            flags += data_loss(self.base.by_urn[self.old_urn[resource["urn"]]], "replaced", options)
            nodes = running_nodes(self.head, resource)
            if nodes and nodes.get("max"):
                flags.append(Flag("rollout", f"every node of the group is replaced now with it ({nodes['min']} to "
                                  f"{nodes['max']} node(s))", when="now"))
        if change["op"] == "update" and (rule := replacement_rule(resource["type"])):
            for path in change["changed"]:
                if condition := conditional_replacement(rule, _INDEX.sub("", path)):
                    flags.append(Flag("replace", f"may be replaced: {path} changed ({condition})", rule.source))
        if change["op"] == "update" and resource["type"] in LAUNCH_INPUTS:
            launch = [p for p in change["changed"] if re.split(r"[.\[]", p)[0] in LAUNCH_INPUTS[resource["type"]]]
            if launch:
                flag = rollout(self.head, resource, f"{', '.join(launch)} changed")
                flags += [flag] if flag else []
        return flags

    def deleted(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        options = resource.get("options") or {}
        flags = []
        if options.get("protect"):
            flags.append(Flag("blocked", "protected: the engine refuses to delete it; the preview fails until the "
                              "protect option is removed", "Pulumi resource option protect"))
        flags += data_loss(resource, "deleted", options)
        nodes = running_nodes(self.base, resource)
        if nodes and nodes.get("max"):
            if options.get("retainOnDelete"):
                flags.append(Flag("orphan", f"retainOnDelete leaves the group and its nodes running, no longer managed "
                                  f"(up to {nodes['max']} node(s), still billed)"))
            else:
                flags.append(Flag("rollout", f"its nodes are terminated now (up to {nodes['max']})", when="now"))
        return {"urn": resource["urn"], "type": resource["type"], "name": resource["name"],
                "custom": resource.get("custom", False), "op": "delete", "flags": flags}

    def template_rollouts(self, changes: list[dict[str, Any]]) -> None:
        """A launch or instance template that changes rolls the groups that launch it, by their rollout settings."""
        by_urn = {c["urn"]: c for c in changes if c["op"] != "delete"}
        for group in self.head.resources:
            template = self.head.template_of(group)
            step = by_urn.get(template["urn"]) if template else None
            change = by_urn.get(group["urn"])
            if not step or step["op"] not in ("update", "replace") or not change or change["op"] in ("create", "replace"):
                continue
            if any(f.kind == "rollout" for f in change["flags"]):
                continue
            flag = rollout(self.head, group, f"its template {template['name']} {step['op']}d")
            if flag:
                change["flags"].append(flag)


def diff_previews(base: Mapping[str, Any], head: Mapping[str, Any]) -> dict[str, Any]:
    """Every step the head needs from the base, disruptive ones first, with a summary (as `pulumi preview` counts)."""
    changes = _Planner(base, head).plan()
    summary = {op: sum(1 for c in changes if c["op"] == op) for op in (*OPS, "same")}
    shown = [c for c in changes if c["op"] != "same" or c["flags"]]
    shown.sort(key=lambda c: (min((SEVERITY.index(f.kind) for f in c["flags"]), default=len(SEVERITY)),
                              OPS.index(c["op"]) if c["op"] in OPS else len(OPS), c["urn"]))
    for change in shown:
        change["flags"] = [f.as_dict() for f in change["flags"]]
    return {
        "base": base.get("stack"),
        "head": head.get("stack"),
        "summary": summary,
        "disruptive": sum(1 for c in shown if c["flags"]),
        "changes": shown,
    }
