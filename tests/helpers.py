"""Shared helpers: a known-good spec, and running the real stack program offline."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from gpucluster.preview.engine import PreviewResult, Registration, run_program
from gpucluster.preview.stackfile import load_project

ROOT = Path(__file__).resolve().parent.parent
PROJECT = load_project(ROOT)

BASE_SPEC = {
    "name": "t",
    "cloud": "aws",
    "region": "us-east-1",
    "zones": ["us-east-1a"],
    "pools": [{"name": "train", "instanceType": "p5.48xlarge", "size": {"min": 2, "max": 2}}],
    "tags": {"owner": "team", "costCenter": "cc-1", "project": "proj"},
}


def spec_with(**changes) -> dict:
    """BASE_SPEC with top-level keys replaced."""
    spec = copy.deepcopy(BASE_SPEC)
    spec.update(copy.deepcopy(changes))
    return spec


def pool(**fields) -> dict:
    return {"name": "train", "instanceType": "p5.48xlarge", "size": {"min": 2, "max": 2}, **fields}


def preview_spec(spec: dict, preview: bool = True, region: str | None = None, existing: dict | None = None) -> PreviewResult:
    config = {"aws:region": region or spec["region"], "gpucluster:cluster": json.dumps(spec)}
    return run_program(str(PROJECT.main), PROJECT.name, "test", config, preview=preview, existing=existing)


def of_type(result: PreviewResult, type_: str) -> list[Registration]:
    return [r for r in result.resources if r.type == type_]


def one(result: PreviewResult, type_: str) -> Registration:
    found = of_type(result, type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def remove_installed(folder: Path) -> None:
    """What a test installed (a pack's virtual environment, 70 MB; AWSGuard's node_modules, 240 MB), removed when its
    tests are done, on the worker that made it while the other goes on: left in place, pytest deletes it at the end of
    a later session, on one core after every test has finished."""
    shutil.rmtree(folder, ignore_errors=True)
