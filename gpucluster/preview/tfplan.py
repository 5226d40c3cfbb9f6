"""A preview as Terraform plan JSON (what `terraform show -json PLANFILE` prints), for the scanners security teams
already run on Terraform (Checkov, Trivy, OPA/conftest).

The Pulumi AWS and GCP providers are bridged from Terraform's, so each Pulumi type is a Terraform resource type
and each input a Terraform attribute. The mapping comes from the providers' bridge metadata
(`data/terraform.json`, with its sources): the Terraform type, and which attributes are blocks or lists, so that
Pulumi's plural list names (`rules`, `tags` on a group, `networkInterfaces` on GCP) become Terraform's singular
blocks (`rule`, `tag`, `network_interface`) and a block that holds at most one item is a list of one, as in
Terraform's JSON. An object that is not a block is a map (tags, labels, metadata): its keys stay as written.
Unknown values are left out of the planned values and marked in `after_unknown`; the dependencies the preview
recorded become `references` in the configuration, so checks across resources (a bucket and its separate
encryption, versioning and logging resources) can be evaluated.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from ..graph import is_default_provider
from .engine import COMPUTED

FORMAT_VERSION = "1.2"
TERRAFORM_VERSION = "1.9.0"  # the plan format's producer; only the format matters to scanners
PROVIDERS = {"aws": "registry.terraform.io/hashicorp/aws", "gcp": "registry.terraform.io/hashicorp/google"}


@cache
def mapping() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("data/terraform.json").read_text())


def terraform_type(pulumi_type: str) -> str | None:
    found = mapping()["resources"].get(pulumi_type)
    return found["type"] if found else None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _field(key: str, blocks: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """The Terraform name of a Pulumi input and its block or list description (None: a plain attribute or map).
    Pulumi pluralises list-typed Terraform fields: `rules` is the block `rule`."""
    snake = _snake(key)
    if snake in blocks:
        return snake, blocks[snake]
    for singular in (snake[:-3] + "y" if snake.endswith("ies") else None, snake[:-2] if snake.endswith("es") else None,
                     snake[:-1] if snake.endswith("s") else None):
        if singular and singular in blocks and not blocks[singular]["one"]:
            return singular, blocks[singular]
    return snake, None


def _convert(value: Any, blocks: dict[str, Any]) -> tuple[Any, Any]:
    """(planned value, after_unknown) of an object whose fields `blocks` describes."""
    values, unknown = {}, {}
    for key, item in value.items():
        name, block = _field(key, blocks)
        planned, unknown_part = _value(item, block)
        if planned is not _UNKNOWN:
            values[name] = planned
        if unknown_part not in (False, {}, []):
            unknown[name] = unknown_part
    return values, unknown


_UNKNOWN = object()


def _value(item: Any, block: dict[str, Any] | None) -> tuple[Any, Any]:
    if item == COMPUTED:
        return _UNKNOWN, True
    if block is None:
        if isinstance(item, dict):  # a map: keys as written, unknown entries marked
            return ({k: v for k, v in item.items() if v != COMPUTED}, {k: True for k, v in item.items() if v == COMPUTED})
        if isinstance(item, list):
            return [v for v in item if v != COMPUTED], [v == COMPUTED for v in item] if COMPUTED in item else False
        return item, False
    fields = block.get("fields") or {}
    if isinstance(item, dict):  # a block of at most one: a list of one in Terraform's JSON
        planned, unknown = _convert(item, fields)
        return [planned], [unknown] if unknown else []
    if isinstance(item, list):
        pairs = [_convert(v, fields) if isinstance(v, dict) else ((_UNKNOWN, True) if v == COMPUTED else (v, False)) for v in item]
        return [p for p, _ in pairs if p is not _UNKNOWN], ([u for _, u in pairs] if any(u for _, u in pairs) else [])
    return item, False


def _addresses(resources_: list[dict[str, Any]]) -> dict[str, str]:
    """A unique Terraform address per mapped resource: `<type>.<name>`, the name made safe, numbered on clashes."""
    taken: set[str] = set()
    addresses = {}
    for resource in resources_:
        tf_type = terraform_type(resource["type"])
        if tf_type is None:
            continue
        base = re.sub(r"[^A-Za-z0-9_-]", "_", resource["name"])
        base = base if re.match(r"^[A-Za-z_]", base) else f"r_{base}"
        name, count = base, 1
        while f"{tf_type}.{name}" in taken:
            count += 1
            name = f"{base}_{count}"
        taken.add(f"{tf_type}.{name}")
        addresses[resource["urn"]] = f"{tf_type}.{name}"
    return addresses


def to_tfplan(document: dict[str, Any]) -> dict[str, Any]:
    """Terraform plan JSON for a preview JSON document (README, "Preview JSON"). Resources of types the mapping does
    not know (components, providers, other packages) are listed under `gpucluster.unmapped`."""
    resources_ = document["resources"]
    addresses = _addresses(resources_)
    planned, changes, configured, unmapped = [], [], [], []
    for resource in resources_:
        address = addresses.get(resource["urn"])
        if address is None:
            if resource.get("custom") and not resource["type"].startswith("pulumi:"):
                unmapped.append(resource["type"])
            continue
        tf_type, name = address.split(".", 1)
        cloud = resource["type"].split(":", 1)[0]
        blocks = mapping()["resources"][resource["type"]]["blocks"]
        values, unknown = _convert(resource["inputs"], blocks)
        common = {"address": address, "mode": "managed", "type": tf_type, "name": name, "provider_name": PROVIDERS[cloud]}
        planned.append({**common, "schema_version": 0, "values": values, "sensitive_values": {}})
        changes.append({**common, "change": {"actions": ["create"], "before": None, "after": values, "after_unknown": unknown,
                                             "before_sensitive": False, "after_sensitive": {}}})
        expressions = {}
        for key, urns in (resource.get("dependencies") or {}).items():
            targets = [addresses[u] for u in urns if u in addresses]
            if targets:
                expressions[_field(key, blocks)[0]] = {"references": [ref for t in targets for ref in (f"{t}.id", t)]}
        configured.append({"address": address, "mode": "managed", "type": tf_type, "name": name,
                           "provider_config_key": "google" if cloud == "gcp" else cloud, "expressions": expressions,
                           "schema_version": 0})
    return {
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {"provider_config": _provider_config(resources_), "root_module": {"resources": configured}},
        "gpucluster": {"stack": document.get("stack"), "unmapped": sorted(set(unmapped)),
                       "source": "gpucluster preview --format tfplan (an offline Pulumi preview, not a Terraform run)"},
    }


def _provider_config(resources_: list[dict[str, Any]]) -> dict[str, Any]:
    config = {}
    for resource in resources_:
        if resource["type"] in ("pulumi:providers:aws", "pulumi:providers:gcp") and is_default_provider(resource["type"], resource["name"]):
            key = "google" if resource["type"].endswith("gcp") else "aws"
            config[key] = {"name": key, "full_name": PROVIDERS["gcp" if key == "google" else "aws"],
                           "expressions": {k: {"constant_value": v} for k, v in resource["inputs"].items()
                                           if k in ("region", "project") and v != COMPUTED}}
    return config
