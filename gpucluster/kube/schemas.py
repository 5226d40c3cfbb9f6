"""Kubernetes objects checked against schemas nobody here wrote: the Kubernetes OpenAPI of the cluster's version
(kubernetes-validate) for built-in kinds, and the CustomResourceDefinitions of the pinned Kueue and JobSet releases
for theirs.

The CRDs are read from a directory, not shipped: `$GPUCLUSTER_CRD_DIR`, else `shared/crds` beside the repository
(each release in its own folder with a SOURCE.md naming repository, tag and commit). Unknown fields are refused, as the
API server does under strict field validation (`kubectl apply --validate=strict`, server-side apply).
"""

from __future__ import annotations

import copy
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

CRD_DIR_ENV = "GPUCLUSTER_CRD_DIR"


def crd_directory() -> Path:
    return Path(os.environ.get(CRD_DIR_ENV) or Path(__file__).resolve().parents[3] / "shared" / "crds")


@cache
def _crd_schemas(directory: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema, for every served version of every CRD under `directory`."""
    schemas = {}
    for path in sorted(directory.glob("*/*.yaml")):
        crd = yaml.safe_load(path.read_text())
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schemas[(f"{group}/{version['name']}", kind)] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas


def _strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever it lists the known ones and keeps no others."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _python_pattern(value) if key == "pattern" else _strict(value) for key, value in schema.items()}
    if "properties" in strict and "additionalProperties" not in strict and not strict.get("x-kubernetes-preserve-unknown-fields"):
        strict["additionalProperties"] = False
    return strict


def _python_pattern(pattern: str) -> str:
    """The API server's Go (RE2) pattern in Python's syntax: Go takes flags such as `(?i)` after `^`, Python only first."""
    match = re.match(r"\^\(\?([a-z]+)\)", pattern)
    return f"(?{match.group(1)})^{pattern[match.end():]}" if match else pattern


class NoSchema(LookupError):
    """No schema is at hand for the object's kind; the message says where one was looked for."""


def check_object(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Problems with `obj` (empty: valid). Raises NoSchema for a custom kind whose CRD is not in the directory."""
    try:
        return _built_in(obj, kubernetes_version)
    except kubernetes_validate.utils.SchemaNotFoundError:
        pass  # a custom resource
    schemas = _crd_schemas(crd_directory())
    schema = schemas.get((obj["apiVersion"], obj["kind"]))
    if schema is None:
        raise NoSchema(f"no CRD for {obj['apiVersion']} {obj['kind']} under {crd_directory()} (set ${CRD_DIR_ENV})")
    problems = [f"{obj['kind']}: {'.'.join(map(str, e.path)) or '(top)'}: {e.message}"
                for e in jsonschema.Draft7Validator(schema).iter_errors(obj)]
    return problems + (job_template_problems(obj, kubernetes_version) if obj["kind"] == "JobSet" else [])


def job_template_problems(jobset: dict[str, Any], kubernetes_version: str) -> list[str]:
    """A JobSet's Job templates are batch/v1 objects: checked against the Kubernetes schema, CRD or not."""
    problems = []
    for replicated in jobset["spec"].get("replicatedJobs", []):
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": replicated["name"]},
               **copy.deepcopy(replicated["template"])}
        problems += _built_in(job, kubernetes_version)
    return problems


def _built_in(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    try:
        kubernetes_validate.validate(obj, f"{kubernetes_version}.0", strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{obj['kind']}: {'.'.join(map(str, error.path)) or '(top)'}: {error.message}"]
    return []
