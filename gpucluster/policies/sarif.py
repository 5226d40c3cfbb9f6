"""Policy findings as SARIF 2.1.0, for code-scanning tools."""

from __future__ import annotations

from typing import Any

from . import PACKS
from .harness import Violation


def to_sarif(violations: list[Violation], waivers: list | None = None) -> dict[str, Any]:
    """SARIF 2.1.0: one run, one rule per policy, one result per violation, located by resource URN. Waivers are
    the run's rule configuration overrides (the level the config gives a rule), and each finding of a waived
    policy carries an external, accepted suppression naming who waived it."""
    waived = {f"{w.pack}/{w.policy}": w for w in waivers or []}
    rules = {}
    for pack in PACKS.values():
        for policy in pack.policies:
            rules[f"{pack.key}/{policy.name}"] = {
                "id": f"{pack.key}/{policy.name}",
                "name": policy.name,
                "shortDescription": {"text": policy.description},
                "help": {"text": policy.remediation_steps or policy.description},
                "properties": {"pack": pack.name, "severity": policy.severity.value if policy.severity else None},
            }
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gpucluster-policies", "version": "0.1.0", "rules": list(rules.values())}},
            "results": [
                {
                    "ruleId": f"{v.pack}/{v.policy}",
                    "level": "error" if v.enforcement == "mandatory" else "warning",
                    "message": {"text": v.message},
                    "locations": [{"logicalLocations": [{"fullyQualifiedName": v.resource or "stack", "kind": "resource"}]}],
                    **({"suppressions": [{"kind": "external", "status": "accepted",
                                          "justification": f"waived: {waived[f'{v.pack}/{v.policy}']}"}]}
                       if f"{v.pack}/{v.policy}" in waived else {}),
                }
                for v in violations
            ],
            "invocations": [{
                "executionSuccessful": True,
                "ruleConfigurationOverrides": [
                    {"descriptor": {"id": rule_id, "index": list(rules).index(rule_id)},
                     "configuration": {"enabled": w.effective != "disabled",
                                       "level": "warning" if w.effective == "advisory" else "none"},
                     "properties": {"waivedFrom": w.default, "setBy": w.source}}
                    for rule_id, w in waived.items() if rule_id in rules
                ],
            }],
        }],
    }
