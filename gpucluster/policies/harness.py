"""Evaluates the packs on a previewed graph the way the Pulumi engine does.

Each pack is served in process by pulumi_policy's own analyzer servicer (`_PolicyAnalyzerServicer`, the class
`PolicyPack` serves over gRPC; private, so `pulumi-policy` is pinned to 1.21.* and a test guards its shape).
The harness then speaks the analyzer protocol to it: Configure with the reconciled config (policy defaults,
schema defaults, the `all` key, then the user's settings, validated against each policy's schema as the CLI
does), ConfigureStack, Analyze for every resource (its inputs, unknowns as the engine's sentinel), then
AnalyzeStack with parents and property dependencies.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import jsonschema
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi.runtime.rpc import UNKNOWN
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from ..preview.engine import COMPUTED, PreviewResult, Registration
from . import PACKS, Pack

LEVELS = {level.value: level for level in EnforcementLevel}
WIRE_LEVELS = {value: name.lower() for name, value in proto.EnforcementLevel.items()}


class PolicyConfigError(Exception):
    """The policy config does not fit a policy's schema; the message follows the Pulumi CLI's wording."""


@dataclass(frozen=True)
class Violation:
    pack: str
    policy: str
    resource: str | None
    message: str
    enforcement: str  # advisory | mandatory
    severity: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reconcile(pack: Pack, user: dict[str, Any]) -> dict[str, tuple[EnforcementLevel, dict[str, Any]]]:
    """Each policy's effective level and properties, as `pulumi preview --policy-pack-config` computes them."""
    names = {p.name for p in pack.policies}
    unknown = sorted(set(user) - names - {"all"})
    if unknown:
        raise PolicyConfigError(f"validating policy config: {pack.name} {pack.version}  {unknown[0]}: not a policy of this pack")
    everyone = user.get("all")
    if isinstance(everyone, dict):
        everyone = everyone.get("enforcementLevel")
    result = {}
    for policy in pack.policies:
        schema = policy.config_schema.properties if policy.config_schema else {}
        level = policy.enforcement_level or pack.enforcement_level
        if everyone:
            level = LEVELS[everyone]
        properties = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
        given = user.get(policy.name)
        if isinstance(given, str):
            level = LEVELS[given]
        elif isinstance(given, dict):
            given = dict(given)
            if "enforcementLevel" in given:
                level = LEVELS[given.pop("enforcementLevel")]
            properties.update(given)
        object_schema = {"type": "object", "properties": schema,
                         "required": list(policy.config_schema.required or []) if policy.config_schema else []}
        errors = sorted(jsonschema.Draft7Validator(object_schema).iter_errors(properties), key=lambda e: e.path)
        if errors:
            where = ".".join(str(p) for p in errors[0].path) or "(root)"
            raise PolicyConfigError(f"validating policy config: {pack.name} {pack.version}  {policy.name}: {where}: {errors[0].message}")
        result[policy.name] = (level, properties)
    return result


def _struct(inputs: dict[str, Any]) -> struct_pb2.Struct:
    def engine(value: Any) -> Any:
        if value == COMPUTED:
            return UNKNOWN  # the engine's unknown sentinel, which the policy SDK's proxy recognises
        if isinstance(value, dict):
            return {k: engine(v) for k, v in value.items()}
        if isinstance(value, list):
            return [engine(v) for v in value]
        return value

    struct = struct_pb2.Struct()
    struct.update(engine(inputs))
    return struct


class _Requests:
    """Analyzer requests for a preview's registrations, built once and shared by every pack.

    As the engine sends them: every resource it registered (the stack, providers, components and custom
    resources; not reads), each with its options and provider on Analyze, and with its parent, dependencies and
    property dependencies too on AnalyzeStack.
    """

    def __init__(self, result: PreviewResult):
        self.resources = list(result.resources)
        self.stack_urn = self.resources[0].urn
        by_urn = {r.urn: r for r in self.resources}
        defaults = {r.type.rsplit(":", 1)[-1]: r for r in self.resources
                    if r.type.startswith("pulumi:providers:") and r.name.startswith("default")}
        self.provider_of = {}
        for reg in self.resources:
            if not reg.custom or reg.type.startswith("pulumi:providers:"):
                continue  # components and the stack have no provider; providers are the engine's own
            # An explicit provider is referenced as "<urn>::<id>"; otherwise the package's default provider applies.
            explicit = by_urn.get(reg.provider.rsplit("::", 1)[0]) if reg.provider else None
            provider = explicit or defaults.get(reg.type.split(":", 1)[0])
            if provider:
                self.provider_of[reg.urn] = proto.AnalyzerProviderResource(
                    type=provider.type, name=provider.name, urn=provider.urn, properties=_struct(provider.inputs))
        self.structs = {reg.urn: _struct(reg.inputs) for reg in self.resources}
        self.options = {reg.urn: _options(reg) for reg in self.resources}

    def analyze(self, reg: Registration) -> proto.AnalyzeRequest:
        return proto.AnalyzeRequest(type=reg.type, properties=self.structs[reg.urn], urn=reg.urn, name=reg.name,
                                    options=self.options[reg.urn], provider=self.provider_of.get(reg.urn))

    def stack(self) -> proto.AnalyzeStackRequest:
        return proto.AnalyzeStackRequest(resources=[
            proto.AnalyzerResource(
                type=reg.type, properties=self.structs[reg.urn], urn=reg.urn, name=reg.name,
                options=self.options[reg.urn], provider=self.provider_of.get(reg.urn), parent=reg.parent or "",
                dependencies=reg.depends_on,
                propertyDependencies={k: proto.AnalyzerPropertyDependencies(urns=v) for k, v in reg.dependencies.items()},
            )
            for reg in self.resources
        ])


def _options(reg: Registration) -> proto.AnalyzerResourceOptions:
    options = reg.options
    timeouts = options.get("customTimeouts") or {}
    return proto.AnalyzerResourceOptions(
        protect=bool(options.get("protect")),
        ignoreChanges=options.get("ignoreChanges", []),
        deleteBeforeReplace=bool(options.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined="deleteBeforeReplace" in options,
        additionalSecretOutputs=options.get("additionalSecretOutputs", []),
        aliases=options.get("aliases", []),
        customTimeouts=proto.AnalyzerResourceOptions.CustomTimeouts(
            **{k: _seconds(v) for k, v in timeouts.items()}) if timeouts else None,
        parent=reg.parent or "",
    )


def _seconds(duration: str) -> float:
    """A Go duration as the SDK sends custom timeouts ("1h30m", "90s") in seconds, as the engine passes them on."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(number) * units[unit] for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration))


def evaluate(result: PreviewResult, config: dict[str, dict[str, Any]], packs: list[Pack] | None = None) -> list[Violation]:
    """Every pack's diagnostics for the preview. `config` maps a pack key (cost, sovereignty, security) to its
    Pulumi-shaped policy config."""
    requests = _Requests(result)
    urns = {reg.urn for reg in requests.resources}
    violations: list[Violation] = []
    for pack in packs or list(PACKS.values()):
        settings = reconcile(pack, config.get(pack.key, {}))
        servicer = _PolicyAnalyzerServicer(pack.name, pack.version, pack.policies, pack.enforcement_level)
        servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig={
            name: proto.PolicyConfig(enforcementLevel=proto.EnforcementLevel.Value(level.value.upper()), properties=_props(props))
            for name, (level, props) in settings.items()
        }), None)
        servicer.ConfigureStack(proto.AnalyzerStackConfigureRequest(stack=result.stack, project=result.project), None)
        found = [(servicer.Analyze(requests.analyze(reg), None), reg.urn) for reg in requests.resources]
        found.append((servicer.AnalyzeStack(requests.stack(), None), None))
        for response, analyzed in found:
            for diag in response.diagnostics:
                # As the engine reports them: Analyze's on the resource analyzed; AnalyzeStack's on the resource the
                # diagnostic names when it is in the stack, else on the stack itself.
                urn = analyzed or (diag.urn if diag.urn in urns else requests.stack_urn)
                violations.append(Violation(
                    pack=pack.key, policy=diag.policyName, resource=urn,
                    message=diag.message, enforcement=WIRE_LEVELS[diag.enforcementLevel],
                    severity=_severity(pack, diag.policyName)))
    return violations


def _props(properties: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(properties)
    return struct


def _severity(pack: Pack, policy_name: str) -> str | None:
    policy = next((p for p in pack.policies if p.name == policy_name), None)
    return policy.severity.value if policy is not None and policy.severity is not None else None


def to_sarif(violations: list[Violation]) -> dict[str, Any]:
    """SARIF 2.1.0: one run, one rule per policy, one result per violation, located by resource URN."""
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
                }
                for v in violations
            ],
        }],
    }
