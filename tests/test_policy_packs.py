"""The three policy packs are self-contained, as `pulumi policy publish` needs them: each depends on the gpucluster
distribution by version, not on this checkout. Built the way publishing and the CLI install a pack (the project's
wheel in the pack folder, a fresh virtual environment from the pack's requirements.txt), each pack starts as the
CLI starts it and finds exactly what the offline harness finds."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml
from uv import find_uv_bin

from gpucluster.policies import PACKS, VERSION
from gpucluster.policies.external import run_pack
from gpucluster.policies.harness import evaluate
from gpucluster.preview.engine import run_program
from gpucluster.preview.stackfile import find_project, read_stack

from .helpers import ROOT, remove_installed

FOLDERS = {key: ROOT / "policies" / key for key in PACKS}


def test_every_pack_names_the_distribution_by_version_and_needs_no_checkout():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert VERSION == version
    for key, folder in FOLDERS.items():
        project = yaml.safe_load((folder / "PulumiPolicy.yaml").read_text())
        assert project["version"] == version, key
        assert project["runtime"]["options"]["virtualenv"] == "venv", key  # its own, inside the pack
        requirements = [line for line in (folder / "requirements.txt").read_text().splitlines()
                        if line and not line.startswith("#")]
        assert requirements == ["--find-links wheels", f"gpucluster=={version}"], key
        assert not any(".." in line for line in requirements), key


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each pack folder as it is published: the wheel beside it, and a virtual environment made from its own
    requirements.txt (one environment, linked into the three packs: their requirements are the same)."""
    tmp = tmp_path_factory.mktemp("packs")
    subprocess.run([find_uv_bin(), "build", "--wheel", "--quiet", "--out-dir", str(tmp / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = (tmp / "dist").glob("gpucluster-*.whl")
    folders = {}
    for key, source in FOLDERS.items():
        folder = tmp / key
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("venv", "wheels", "__pycache__"))
        (folder / "wheels").mkdir()
        shutil.copy(wheel, folder / "wheels")
        folders[key] = folder
    first = folders["cost"]
    # The environment and the pack's requirements.txt as the CLI makes them, by uv rather than venv and pip: the same
    # interpreter and requirements, several times faster.
    subprocess.run([find_uv_bin(), "venv", "--quiet", "--seed", "--python", sys.executable, str(first / "venv")], check=True)
    done = subprocess.run([find_uv_bin(), "pip", "install", "--quiet", "--python", str(first / "venv/bin/python"),
                           "-r", "requirements.txt"], cwd=first, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    for folder in folders.values():
        if folder != first:
            (folder / "venv").symlink_to(first / "venv")
    yield folders
    remove_installed(first / "venv")


def test_the_built_environment_has_the_distribution_and_no_checkout(built):
    python = built["cost"] / "venv/bin/python"
    where = subprocess.run([str(python), "-c", "import gpucluster, pulumi_policy; print(gpucluster.__file__)"],
                           capture_output=True, text=True, cwd=built["cost"])
    assert where.returncode == 0, where.stderr
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout


@pytest.mark.parametrize("key", sorted(PACKS))
def test_each_built_pack_finds_what_the_harness_finds(built, key):
    project = find_project(ROOT)
    stack = read_stack(project, "aws-p5-spot")
    result = run_program(str(project.main), project.name, "aws-p5-spot", stack.values)
    served = run_pack(built[key], result, {}, stack.values)
    assert served.reported_name == PACKS[key].name and served.version == VERSION
    assert {p.name for p in served.policies} == {p.name for p in PACKS[key].policies}
    offline = evaluate(result, {}, packs=[PACKS[key]])
    as_found = lambda violations: sorted((v.policy, v.resource, v.message, v.enforcement) for v in violations)
    assert as_found(served.violations) == as_found(offline)
    assert re.fullmatch(r"gpucluster-[a-z]+", served.reported_name)
