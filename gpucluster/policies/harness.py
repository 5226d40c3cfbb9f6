"""Evaluates the packs on a previewed graph the way the Pulumi engine does.

Each pack is served in process by pulumi_policy's own analyzer servicer (`_PolicyAnalyzerServicer`, the class
`PolicyPack` serves over gRPC; private, so `pulumi-policy` is pinned to 1.21.* and a test guards its shape).
The harness then speaks the analyzer protocol to it: Configure with the reconciled config (policy defaults,
schema defaults, the `all` key, then the user's settings, validated against each policy's schema as the CLI
does), ConfigureStack, Analyze for every resource (its inputs, unknowns as the engine's sentinel), then
AnalyzeStack with parents and property dependencies.

The SDK decodes a resource's properties again for every policy it runs (protobuf Struct -> dict -> unknown-
checking proxy), which at 10,000 resources costs far more than the policies themselves. While a pack is evaluated
here, equal payloads are decoded once and every policy reads the same decoded view; the findings are the same
as with per-policy decoding for policies that only read their arguments, as policies should (a test compares
both on every example stack).
"""

from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import jsonschema
from google.protobuf import json_format, struct_pb2
from pulumi_policy import policy as policy_sdk
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi.runtime.rpc import UNKNOWN
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from ..codes import policy_code
from ..graph import is_default_provider
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
    code: str | None = None  # the built-in packs' policies' (gpucluster.codes); None for a pack of the user's own

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PolicyInfo:
    """What the engine learns of a policy before configuring it (its entry in GetAnalyzerInfo)."""

    name: str
    description: str
    level: str  # its own enforcement level, or the pack's when it sets none
    schema: dict[str, Any]  # the config schema's properties
    required: tuple[str, ...] = ()
    remediation: str | None = None
    severity: str | None = None


def policy_infos(pack: Pack) -> list[PolicyInfo]:
    return [PolicyInfo(p.name, p.description, (p.enforcement_level or pack.enforcement_level).value,
                       dict(p.config_schema.properties) if p.config_schema else {},
                       tuple(p.config_schema.required or ()) if p.config_schema else (),
                       p.remediation_steps, p.severity.value if p.severity else None)
            for p in pack.policies]


def reconcile(pack: Pack, user: dict[str, Any]) -> dict[str, tuple[EnforcementLevel, dict[str, Any]]]:
    """Each policy's effective level and properties, as `pulumi preview --policy-pack-config` computes them."""
    return reconcile_infos(pack.name, pack.version, policy_infos(pack), user)


def _level(pack: str, policy: str, value: Any) -> EnforcementLevel:
    if value not in LEVELS:
        raise PolicyConfigError(f"parsing enforcement level for {policy!r} of {pack}: {value!r} is not a valid "
                                f"enforcement level (one of {', '.join(LEVELS)})")
    return LEVELS[value]


def reconcile_infos(pack: str, version: str, infos: list[PolicyInfo], user: dict[str, Any],
                    initial: dict[str, Any] | None = None) -> dict[str, tuple[EnforcementLevel, dict[str, Any]]]:
    """The engine's ReconcilePolicyPackConfig (pulumi/pulumi pkg/resource/analyzer/config.go): each policy's level
    and schema defaults, then the pack's initial config, then the user's, `all` first within each; then every
    policy's properties validated against its schema. A name that is no policy of the pack is refused here (the
    engine passes it by silently, which hides typos)."""
    names = {info.name for info in infos}
    unknown = sorted(set(user) - names - {"all"})
    if unknown:
        raise PolicyConfigError(f"validating policy config: {pack} {version}  {unknown[0]}: not a policy of this pack")
    result = {info.name: (LEVELS[info.level], {k: s["default"] for k, s in info.schema.items() if "default" in s})
              for info in infos}
    for layer in (initial or {}, user):
        everyone = layer.get("all")
        everyone = everyone.get("enforcementLevel") if isinstance(everyone, dict) else everyone
        if everyone:
            common = _level(pack, "all", everyone)
            result = {name: (common, props) for name, (_, props) in result.items()}
        for name, given in layer.items():
            if name == "all" or name not in result:
                continue
            level, props = result[name]
            if isinstance(given, str):
                level = _level(pack, name, given)
            elif isinstance(given, dict):
                given = dict(given)
                if "enforcementLevel" in given:
                    level = _level(pack, name, given.pop("enforcementLevel"))
                props = {**props, **given}
            result[name] = (level, props)
    for info in infos:
        object_schema = {"type": "object", "properties": info.schema, "required": list(info.required)}
        errors = sorted(jsonschema.Draft7Validator(object_schema).iter_errors(result[info.name][1]), key=lambda e: e.path)
        if errors:
            where = ".".join(str(p) for p in errors[0].path) or "(root)"
            raise PolicyConfigError(f"validating policy config: {pack} {version}  {info.name}: {where}: {errors[0].message}")
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


class AnalyzerRequests:
    """Analyzer requests for a preview's registrations, built once and shared by every pack.

    As the engine sends them: every resource it registered (the stack, providers, components and custom
    resources; not reads), each with its options and provider on Analyze, and with its parent, dependencies and
    property dependencies too on AnalyzeStack.
    """

    def __init__(self, result: PreviewResult):
        self.resources = list(result.resources)
        self.stack_urn = self.resources[0].urn
        self.urns = {r.urn for r in self.resources}
        by_urn = {r.urn: r for r in self.resources}
        defaults = {r.type.rsplit(":", 1)[-1]: r for r in self.resources
                    if is_default_provider(r.type, r.name)}
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

    @cached_property
    def analyze(self) -> list[proto.AnalyzeRequest]:
        return [proto.AnalyzeRequest(type=reg.type, properties=self.structs[reg.urn], urn=reg.urn, name=reg.name,
                                     options=self.options[reg.urn], provider=self.provider_of.get(reg.urn))
                for reg in self.resources]

    @cached_property
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


class _SharedDecoding:
    """Stands in for the decoding functions the policy SDK's servicer calls, remembering their results: a Struct by
    its serialized bytes, the later steps by the identity of the (remembered) value they are given."""

    def __init__(self, decode, proxy):
        self._decode, self._proxy = decode, proxy  # the SDK's own functions
        self.messages: dict[int, tuple[Any, Any]] = {}  # id(message) -> (message kept alive, dict)
        self.dicts: dict[bytes, dict] = {}
        self.decoded: dict[int, tuple[Any, Any]] = {}  # id(input) -> (input kept alive, result)
        self.proxies: dict[int, tuple[Any, Any]] = {}
        self.MessageToDict = self._message_to_dict  # the servicer's `json_format.MessageToDict`

    def _message_to_dict(self, message, *args, **kwargs):
        if args or kwargs or not isinstance(message, struct_pb2.Struct):
            return json_format.MessageToDict(message, *args, **kwargs)
        hit = self.messages.get(id(message))  # the same message, read again by the next policy
        if hit is None or hit[0] is not message:
            key = message.SerializeToString(deterministic=True)  # an equal payload in another request
            if key not in self.dicts:
                self.dicts[key] = json_format.MessageToDict(message)
            hit = self.messages[id(message)] = (message, self.dicts[key])
        return hit[1]

    def deserialize_properties(self, props, *args):
        return self._remember(self.decoded, self._decode, props, *args)

    def unknown_checking_proxy(self, props):
        return self._remember(self.proxies, self._proxy, props)

    @staticmethod
    def _remember(memo, function, value, *args):
        if args:  # remediation's secret-preserving decoding: not shared
            return function(value, *args)
        hit = memo.get(id(value))
        if hit is None or hit[0] is not value:
            hit = memo[id(value)] = (value, function(value))
        return hit[1]


@contextmanager
def _decoding_shared(enabled: bool):
    names = ("json_format", "deserialize_properties", "unknown_checking_proxy")
    saved = {name: getattr(policy_sdk, name) for name in names}
    shared = _SharedDecoding(saved["deserialize_properties"], saved["unknown_checking_proxy"])
    if enabled:
        for name in names:
            setattr(policy_sdk, name, shared if name == "json_format" else getattr(shared, name))
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(policy_sdk, name, value)


def evaluate(result: PreviewResult, config: dict[str, dict[str, Any]], packs: list[Pack] | None = None,
             share_decoding: bool = True) -> list[Violation]:
    """Every pack's diagnostics for the preview. `config` maps a pack key (cost, sovereignty, security) to its
    Pulumi-shaped policy config. `share_decoding=False` decodes per policy, exactly as the SDK does by itself."""
    packs = packs or list(PACKS.values())
    settings = [reconcile(pack, config.get(pack.key, {})) for pack in packs]  # a bad config refuses before anything runs
    requests = AnalyzerRequests(result)
    with _decoding_shared(share_decoding), _no_cycle_collection():
        return [v for pack, pack_settings in zip(packs, settings) for v in _evaluate_pack(pack, pack_settings, requests, result)]


@contextmanager
def _no_cycle_collection():
    """Decoding allocates millions of short-lived containers and no cycles; the cyclic collector would rescan the
    whole heap again and again (bench/policy_scale.py at 11,090 resources: 12.7 s with it, 6.9 s without).
    Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _evaluate_pack(pack: Pack, settings: dict, requests: AnalyzerRequests, result: PreviewResult) -> list[Violation]:
    """One pack served as the CLI serves it: Configure, ConfigureStack, Analyze per resource, then AnalyzeStack."""
    servicer = _PolicyAnalyzerServicer(pack.name, pack.version, pack.policies, pack.enforcement_level)
    servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig={
        name: proto.PolicyConfig(enforcementLevel=proto.EnforcementLevel.Value(level.value.upper()), properties=as_struct(props))
        for name, (level, props) in settings.items()
    }), None)
    servicer.ConfigureStack(proto.AnalyzerStackConfigureRequest(stack=result.stack, project=result.project), None)
    found = [(servicer.Analyze(request, None), request.urn) for request in requests.analyze]
    found.append((servicer.AnalyzeStack(requests.stack, None), None))
    violations = []
    for response, analyzed in found:
        for diag in response.diagnostics:
            # As the engine reports them: Analyze's on the resource analyzed; AnalyzeStack's on the resource the
            # diagnostic names when it is in the stack, else on the stack itself.
            urn = analyzed or (diag.urn if diag.urn in requests.urns else requests.stack_urn)
            violations.append(Violation(
                pack=pack.key, policy=diag.policyName, resource=urn,
                message=diag.message, enforcement=WIRE_LEVELS[diag.enforcementLevel],
                severity=_severity(pack, diag.policyName), code=policy_code(pack.key, diag.policyName)))
    return violations


def as_struct(properties: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(properties)
    return struct


def _severity(pack: Pack, policy_name: str) -> str | None:
    policy = next((p for p in pack.policies if p.name == policy_name), None)
    return policy.severity.value if policy is not None and policy.severity is not None else None
