"""Helpers the policies share: reading resource properties as the engine passes them (camelCase)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

REQUIRED_TAGS = ("owner", "cost-center", "project")
ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
BUCKET = "aws:s3/bucket:Bucket"
GCS_BUCKET = "gcp:storage/bucket:Bucket"


def region_of(resource: ResourceValidationArgs | PolicyResource) -> str | None:
    """The region a resource lands in: its own `region` argument (a GCS bucket's `location`), else its
    provider's (explicit or default)."""
    if resource.resource_type == GCS_BUCKET and resource.props.get("location"):
        location = str(resource.props.get("location"))
        return location if location.upper() in ("US", "EU", "ASIA") else location.lower()
    own = resource.props.get("region")
    if own:
        return own
    provider = resource.provider
    if provider is not None:
        return provider.props.get("region")
    return None


def templates_by_parent(resources: list[PolicyResource]) -> dict[str | None, PolicyResource]:
    """Launch templates keyed by their parent component: a group and its template share one."""
    return {r.parent.urn if r.parent else None: r for r in resources if r.resource_type == LAUNCH_TEMPLATE}


def as_graph(resources: list[PolicyResource]) -> list[dict[str, Any]]:
    """Stack resources in the shape of the preview JSON, for the cost model (one pricing code path)."""
    graph = []
    providers: dict[str, dict] = {}
    for r in resources:
        if r.provider is not None and r.provider.urn not in providers:
            providers[r.provider.urn] = {"urn": r.provider.urn, "type": r.provider.resource_type, "name": r.provider.name,
                                         "parent": None, "inputs": dict(r.provider.props)}
        graph.append({"urn": r.urn, "type": r.resource_type, "name": r.name,
                      "parent": r.parent.urn if r.parent else None, "inputs": _plain(r.props)})
    return [*providers.values(), *graph]


_UNKNOWNS = {proxy.UNKNOWN_STRING_VALUE, proxy.UNKNOWN_NUMBER_VALUE, proxy.UNKNOWN_BOOLEAN_VALUE,
             proxy.UNKNOWN_ARRAY_VALUE, proxy.UNKNOWN_OBJECT_VALUE, proxy.UNKNOWN_ASSET_VALUE, proxy.UNKNOWN_ARCHIVE_VALUE}


def _plain(value: Any) -> Any:
    """Unwrap the unknown-checking proxy without tripping it: unknowns become '<computed>', as in the preview JSON."""
    if isinstance(value, (Mapping, Sequence)) and not isinstance(value, str):
        try:
            target = value["__target"]
        except (KeyError, IndexError, TypeError):
            target = value
        if isinstance(target, Mapping):
            return {k: _plain(v) for k, v in target.items()}
        return [_plain(v) for v in target]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire has only doubles; the program sent an int
    return "<computed>" if isinstance(value, str) and value in _UNKNOWNS else value


def is_set(props: Mapping[str, Any], key: str) -> bool:
    """Whether `key` has a value, known or not yet known: enough to tell that a key is configured at preview."""
    try:
        target = props["__target"]
    except (KeyError, TypeError):
        target = props
    return target.get(key) not in (None, "")


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
