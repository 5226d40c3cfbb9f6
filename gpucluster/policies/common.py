"""Helpers the policies share: reading resource properties as the engine passes them (camelCase)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
    proxy,
)

from .. import graph
from ..cost import estimate
from ..graph import Graph

REQUIRED_TAGS = ("owner", "cost-center", "project")
ASG = "aws:autoscaling/group:Group"
BUCKET = "aws:s3/bucket:Bucket"


def region_of(resource: ResourceValidationArgs | PolicyResource) -> str | None:
    """The region a resource lands in (gpucluster.graph.region_of: its own argument, else its provider's)."""
    provider = resource.provider
    return graph.region_of(resource.resource_type, resource.props, provider.props if provider is not None else None)


def as_graph(resources: list[PolicyResource]) -> Graph:
    """The stack's resources in the shape of the preview JSON, links included, for the one reader of links
    (gpucluster.graph) and the one cost model. The policy SDK hands each stack policy its own copy of the
    resources, so the graph (and the estimate below) is kept while the resources stay the same: the same
    property objects (when the harness shares decoding), else equal in content."""
    identity = [r.props for r in resources]
    if len(identity) == len(_cache.get("identity", ())) and all(a is b for a, b in zip(identity, _cache["identity"])):
        return _cache["graph"]
    resources_as_dicts = _as_dicts(resources)
    if _cache.get("dicts") != resources_as_dicts:
        _cache.clear()
        _cache["dicts"] = resources_as_dicts
        _cache["graph"] = Graph(resources_as_dicts)
    _cache["identity"] = identity  # kept alive with the cache, so no id can be reused while it is
    return _cache["graph"]


def stack_estimate(resources: list[PolicyResource]) -> dict[str, Any]:
    """The cost model's estimate of the stack, computed once however many policies ask for it."""
    as_graph(resources)
    if "estimate" not in _cache:
        _cache["estimate"] = estimate(_cache["graph"].resources)
    return _cache["estimate"]


_cache: dict[str, Any] = {}


def _as_dicts(resources: list[PolicyResource]) -> list[dict[str, Any]]:
    providers: dict[str, dict] = {}
    nodes = []
    for r in resources:
        if r.provider is not None and r.provider.urn not in providers:
            providers[r.provider.urn] = {"urn": r.provider.urn, "type": r.provider.resource_type, "name": r.provider.name,
                                         "custom": True, "parent": None, "provider": None, "inputs": _plain(r.provider.props),
                                         "dependencies": {}}
        nodes.append({
            "urn": r.urn, "type": r.resource_type, "name": r.name,
            "custom": r.provider is not None,  # the engine gives every custom resource a provider, components none
            "parent": r.parent.urn if r.parent else None,
            "provider": r.provider.urn if r.provider is not None else None,
            "inputs": _plain(r.props),
            "dependencies": {k: [d.urn for d in v] for k, v in r.property_dependencies.items() if v},
        })
    # The engine lists providers among the stack's resources too; add those only referenced.
    listed = {n["urn"] for n in nodes}
    return [*(p for urn, p in providers.items() if urn not in listed), *nodes]


_UNKNOWNS = {proxy.UNKNOWN_STRING_VALUE, proxy.UNKNOWN_NUMBER_VALUE, proxy.UNKNOWN_BOOLEAN_VALUE,
             proxy.UNKNOWN_ARRAY_VALUE, proxy.UNKNOWN_OBJECT_VALUE, proxy.UNKNOWN_ASSET_VALUE, proxy.UNKNOWN_ARCHIVE_VALUE}
# The SDK's proxy classes, taken from what its public function returns rather than by their private names.
_DICT_PROXY = type(proxy.unknown_checking_proxy({}))
_LIST_PROXY = type(proxy.unknown_checking_proxy({"list": []})["list"])


def _plain(value: Any) -> Any:
    """Unwrap the unknown-checking proxy without tripping it: unknowns become '<computed>', as in the preview JSON.
    Exact type checks: this runs over every property of every resource."""
    kind = type(value)
    if kind is _DICT_PROXY or kind is _LIST_PROXY:
        value = value["__target"]
        kind = type(value)
    if kind is dict:
        return {k: _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if kind is float and value.is_integer():
        return int(value)  # the wire has only doubles; the program sent an int
    if kind is str and value in _UNKNOWNS:
        return "<computed>"
    return value


def is_set(props: Mapping[str, Any], key: str) -> bool:
    """Whether `key` has a value, known or not yet known (enough to tell that a key is configured at preview); an
    empty list or map is no value. Reads the unknown-checking proxy's target, so an unknown does not trip it."""
    try:
        target = props["__target"]
    except (KeyError, TypeError):
        target = props
    value = target.get(key)
    if value is None or value == "":
        return False
    return isinstance(value, str) or not hasattr(value, "__len__") or len(value) > 0


def declare(
    *,
    name: str,
    description: str,
    validate,
    severity: Severity,
    remediation: str,
    stack: bool = False,
    level: EnforcementLevel = EnforcementLevel.MANDATORY,
    settings: dict[str, Any] | None = None,
):
    """A policy of these packs: every one has a severity and remediation text; `settings` is its config schema's
    properties (JSON Schema, with defaults)."""
    kind = StackValidationPolicy if stack else ResourceValidationPolicy
    return kind(
        name=name, description=description, validate=validate, enforcement_level=level, severity=severity,
        remediation_steps=remediation, config_schema=PolicyConfigSchema(properties=settings) if settings else None,
    )
