"""Policy findings as SARIF 2.1.0, for code-scanning tools (GitHub code scanning and others).

One run, one rule per policy (the built-in packs' and any external pack's), one result per finding. Code scanning
shows a result only where it has a file: each result is placed in the stack file that declares it, on the line of
the config key it comes from when that is known (a pool's entry in the cluster spec), and keeps the resource URN
as its logical location. Waivers are the run's rule configuration overrides, and each finding of a waived policy
carries an external, accepted suppression naming who waived it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..codes import policy_code
from . import PACKS, VERSION
from .harness import Violation

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
Location = tuple[str, int | None]  # a file relative to the repository root, and a line in it when known


@dataclass(frozen=True)
class Rule:
    id: str  # pack/policy
    description: str
    help: str
    pack: str
    severity: str | None = None
    code: str | None = None  # gpucluster.codes; None for an external pack's policy


@dataclass
class StackFindings:
    """One stack's findings, its waivers and where its findings are declared."""

    stack: str
    violations: Sequence[Violation]
    waivers: Sequence[Any] = ()
    locate: Callable[[Violation], Location | None] = field(default=lambda violation: None)


def builtin_rules() -> list[Rule]:
    return [Rule(f"{pack.key}/{policy.name}", policy.description, policy.remediation_steps or policy.description,
                 pack.name, policy.severity.value if policy.severity else None, policy_code(pack.key, policy.name))
            for pack in PACKS.values() for policy in pack.policies]


def pack_rules(pack) -> list[Rule]:
    """The rules of an external pack (`external.PackRun`), from the policies it reported."""
    return [Rule(f"{pack.name}/{p.name}", p.description, p.remediation or p.description, pack.name, p.severity)
            for p in pack.policies]


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "name": rule.id.split("/", 1)[1], "shortDescription": {"text": rule.description},
            "help": {"text": rule.help}, "properties": {"pack": rule.pack, "severity": rule.severity, "code": rule.code}}


def _result(stack: StackFindings, violation: Violation, index: dict[str, int], waived: dict[str, Any]) -> dict[str, Any]:
    rule_id = f"{violation.pack}/{violation.policy}"
    where = violation.resource or f"stack {stack.stack}"
    location: dict[str, Any] = {"logicalLocations": [{"fullyQualifiedName": where, "kind": "resource"}]}
    found = stack.locate(violation)
    if found:
        uri, line = found
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        if line:
            physical["region"] = {"startLine": line}
        location["physicalLocation"] = physical
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "level": {"mandatory": "error", "advisory": "warning"}.get(violation.enforcement, "note"),  # note: remediated
        "message": {"text": violation.message},
        "locations": [location],
        # Stable across runs and line moves, so code scanning tracks one alert per stack, rule and resource.
        "partialFingerprints": {"gpuclusterFinding/v1": hashlib.sha256(f"{stack.stack}|{rule_id}|{where}".encode()).hexdigest()},
        "properties": {"stack": stack.stack, "code": violation.code},
    }
    if rule_id in index:
        result["ruleIndex"] = index[rule_id]
    if rule_id in waived:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": f"waived: {waived[rule_id]}"}]
    return result


def to_sarif(stacks: Sequence[StackFindings], extra_rules: Sequence[Rule] = ()) -> dict[str, Any]:
    rules = {rule.id: rule for rule in [*builtin_rules(), *extra_rules]}
    index = {rule_id: i for i, rule_id in enumerate(rules)}
    results, overrides = [], []
    for stack in stacks:
        waived = {f"{w.pack}/{w.policy}": w for w in stack.waivers}
        results += [_result(stack, v, index, waived) for v in stack.violations]
        overrides += [
            {"descriptor": {"id": rule_id, "index": index[rule_id]},
             "configuration": {"enabled": w.effective != "disabled", "level": "warning" if w.effective == "advisory" else "none"},
             "properties": {"stack": stack.stack, "waivedFrom": w.default, "setBy": w.source}}
            for rule_id, w in waived.items() if rule_id in index
        ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gpucluster-policies", "version": VERSION,
                                "rules": [_rule_json(rule) for rule in rules.values()]}},
            "results": results,
            "invocations": [{"executionSuccessful": True, "ruleConfigurationOverrides": overrides}],
        }],
    }
