"""Kubernetes objects checked against schemas nobody here wrote: the Kubernetes OpenAPI of the cluster's version
(kubernetes-validate, strict) for built-in kinds, and the CustomResourceDefinitions of the pinned Kueue and JobSet
releases for theirs. A JobSet's Job templates are also checked as batch/v1 Jobs, so its pod spec meets the real
Kubernetes schema whether or not the JobSet CRD is at hand.

The CRDs are vendored unchanged in `gpucluster/kube/crds/` (a folder per release, each with a SOURCE.md naming
repository, tag, commit and paths); `$GPUCLUSTER_CRD_DIR` points elsewhere, to check against other releases. An
object whose CRD is not there raises NoSchema, saying so: it never passes.

Unknown fields are refused, as the API server does under strict field validation (`kubectl apply --validate=strict`,
server-side apply). Not evaluated: the CRDs' CEL rules (`x-kubernetes-validations`) and the controllers' webhooks.
"""

from __future__ import annotations

import copy
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

from ..yamlio import safe_load
from .rdma import NETWORK_OPERATOR_VERSION

CRD_DIR_ENV = "GPUCLUSTER_CRD_DIR"

# Object names and label syntax as the API server checks them (k8s.io/apimachinery pkg/util/validation): a CRD's
# schema says nothing of metadata, and the built-in schemas only that names are strings.
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class NoSchema(LookupError):
    """No schema is at hand for the object's kind; the message says which kind and where one was looked for."""


def crd_directory() -> Path:
    """`$GPUCLUSTER_CRD_DIR`, else the vendored CRDs beside this module."""
    return Path(os.environ.get(CRD_DIR_ENV) or Path(__file__).resolve().parent / "crds")


def check_object(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Problems with `obj` for a cluster of `kubernetes_version` ("1.35"); empty when it is valid. Built-in kinds
    against the strict Kubernetes OpenAPI of that version, custom kinds against their CRD's openAPIV3Schema for the
    object's group and version. Raises NoSchema when the kind is neither built in nor in the CRD directory."""
    problems = metadata_problems(obj.get("kind", "?"), obj.get("metadata") or {})
    try:
        return problems + _built_in_problems(obj, kubernetes_version)
    except kubernetes_validate.utils.SchemaNotFoundError:
        pass  # not a built-in kind: a custom resource
    problems += _custom_problems(obj)
    if obj["kind"] == "NicClusterPolicy":
        problems += shared_plugin_config_problems(obj)
    if obj["kind"] == "JobSet":
        problems += job_template_problems(obj, kubernetes_version)
    return problems


def job_template_problems(jobset: dict[str, Any], kubernetes_version: str) -> list[str]:
    """A JobSet's Job templates are batch/v1 JobTemplateSpecs: each is wrapped in a Job and checked against the
    Kubernetes schema of the version, pod spec and all, whether or not the JobSet CRD is at hand."""
    problems = []
    for replicated in jobset.get("spec", {}).get("replicatedJobs", []):
        template = copy.deepcopy(replicated.get("template", {}))
        job = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": replicated.get("name", "job"), **template.get("metadata", {})},
               "spec": template.get("spec", {})}
        pod_metadata = job["spec"].get("template", {}).get("metadata") or {}
        problems += [f"replicatedJobs[{replicated.get('name')}]: {problem}" for problem in
                     [*metadata_problems("Job", job["metadata"]), *metadata_problems("Pod template", pod_metadata),
                      *_built_in_problems(job, kubernetes_version)]]
    return problems


def shared_plugin_config_problems(policy: dict[str, Any]) -> list[str]:
    """The RDMA shared device plugin's `config` is a JSON string the CRD does not look into: checked against the JSON
    schema the Network Operator's webhook uses (webhook-schemas/rdma_shared_device_plugin.json, vendored)."""
    plugin = policy.get("spec", {}).get("rdmaSharedDevicePlugin")
    if not plugin or "config" not in plugin:
        return []
    path = crd_directory() / f"network-operator-v{NETWORK_OPERATOR_VERSION}" / "rdma_shared_device_plugin.schema.json"
    if not path.exists():
        raise NoSchema(f"no schema for the RDMA shared device plugin's config at {path}")
    try:
        config = json.loads(plugin["config"])
    except json.JSONDecodeError as exc:
        return [f"NicClusterPolicy: spec.rdmaSharedDevicePlugin.config is not JSON: {exc}"]
    return [f"NicClusterPolicy: rdmaSharedDevicePlugin.config: {_path(error)}: {error.message}"
            for error in jsonschema.Draft7Validator(json.loads(path.read_text())).iter_errors(config)]


def metadata_problems(kind: str, metadata: dict[str, Any]) -> list[str]:
    """The object's name (a DNS-1123 subdomain) and its label and annotation keys and label values."""
    problems = []
    name = metadata.get("name")
    if name is not None and (len(name) > 253 or not _DNS_SUBDOMAIN.match(name)):
        problems.append(f"{kind}: metadata.name {name!r} is not a DNS-1123 subdomain")
    for field in ("labels", "annotations"):
        for key, value in (metadata.get(field) or {}).items():
            if not _qualified_key(key):
                problems.append(f"{kind}: metadata.{field} key {key!r} is not a qualified name")
            if field == "labels" and (len(str(value)) > 63 or not _LABEL_VALUE.match(str(value))):
                problems.append(f"{kind}: metadata.labels[{key}] value {value!r} is not a valid label value")
    return problems


def _qualified_key(key: str) -> bool:
    """`[prefix/]name`: the prefix a DNS subdomain, the name at most 63 characters."""
    prefix, _, name = key.rpartition("/")
    prefix_ok = not prefix or (len(prefix) <= 253 and bool(_DNS_SUBDOMAIN.match(prefix)))
    return prefix_ok and len(name) <= 63 and bool(_QUALIFIED_NAME.match(name))


def _built_in_problems(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Raises SchemaNotFoundError for a kind the Kubernetes OpenAPI of that version does not have."""
    try:
        kubernetes_validate.validate(obj, f"{kubernetes_version}.0", strict=True)
    except kubernetes_validate.ValidationError as error:  # the library reports the first problem it finds
        return [f"{obj['kind']}: {_path(error)}: {error.message}"]
    return []


def _custom_problems(obj: dict[str, Any]) -> list[str]:
    schema = _crd_schemas(crd_directory()).get((obj["apiVersion"], obj["kind"]))
    if schema is None:
        raise NoSchema(f"no schema for {obj['apiVersion']} {obj['kind']}: no CustomResourceDefinition serving it "
                       f"under {crd_directory()} (set ${CRD_DIR_ENV} to a folder of CRDs; see "
                       "gpucluster/kube/schemas.py)")
    return [f"{obj['kind']}: {_path(error)}: {error.message}"
            for error in jsonschema.Draft7Validator(schema).iter_errors(obj)]


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(map(str, error.absolute_path)) or "(top)"


@cache
def _crd_schemas(directory: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema made strict, for every served version of every CRD under `directory`."""
    schemas = {}
    for path in sorted(directory.glob("*/*.yaml")):
        crd = safe_load(path.read_text())
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schemas[(f"{group}/{version['name']}", kind)] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas


def _strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever it lists the known ones and keeps no others (a structural
    CRD schema prunes unknown fields; strict field validation refuses them)."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _python_pattern(value) if key == "pattern" and isinstance(value, str) else _strict(value)
              for key, value in schema.items()}
    keeps_unknown = strict.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in strict and "additionalProperties" not in strict and not keeps_unknown:
        strict["additionalProperties"] = False
    return strict


def _python_pattern(pattern: str) -> str:
    """The API server's Go (RE2) pattern in Python's syntax: Go takes flags such as `(?i)` after `^`, Python only
    at the start."""
    match = re.match(r"\^\(\?([a-z]+)\)", pattern)
    return f"(?{match.group(1)})^{pattern[match.end():]}" if match else pattern
