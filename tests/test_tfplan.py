"""The preview as Terraform plan JSON, read by Checkov, the scanner security teams already run: it must parse every
resource we emit and find nothing that tests/checkov-accepted.yaml does not explain."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from gpucluster.preview.render import as_json
from gpucluster.preview.tfplan import mapping, terraform_type, to_tfplan

from .helpers import PROJECT, ROOT
from .test_preview import preview_stack

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
ACCEPTED = yaml.safe_load((Path(__file__).parent / "checkov-accepted.yaml").read_text())
MAPS = {"tags", "labels", "metadata", "tags_all", "resource_labels"}  # the map-typed attributes the example stacks set


@pytest.fixture(scope="module")
def plans():
    return {stack: to_tfplan(as_json(preview_stack(stack))) for stack in PROJECT.stacks()}


def _checkov(folder: Path) -> list[dict]:
    """Checkov over every plan in `folder`, in one run (its start-up is the slow part): its reports."""
    assert CHECKOV.exists(), "Checkov is installed by `make test` (.venv-checkov); run the suite through make"
    run = subprocess.run([str(CHECKOV), "-d", str(folder), "--framework", "terraform_plan", "-o", "json", "--quiet",
                          "--skip-download"], capture_output=True, text=True, timeout=300)
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    return reports


def _without_bucket_encryption(plan: dict) -> dict:
    """aws-p5-spot's plan with its buckets' encryption resources gone, as a plan whose buckets lack it would be."""
    plan = copy.deepcopy(plan)
    plan["gpucluster"]["stack"] = "broken"
    for section in (plan["planned_values"]["root_module"]["resources"], plan["resource_changes"], plan["configuration"]["root_module"]["resources"]):
        section[:] = [r for r in section if r["type"] != "aws_s3_bucket_server_side_encryption_configuration"]
    return plan


@pytest.fixture(scope="module")
def scanned(plans, tmp_path_factory):
    """Checkov's report over every example stack's plan and the broken one (broken.json), in one run."""
    folder = tmp_path_factory.mktemp("plans")
    for stack, plan in plans.items():
        (folder / f"{stack}.json").write_text(json.dumps(plan))
    (folder / "broken.json").write_text(json.dumps(_without_bucket_encryption(plans["aws-p5-spot"])))
    (report,) = _checkov(folder)  # one framework, every plan file
    return report


def test_every_emitted_type_maps_to_a_terraform_type(plans):
    """Every cloud resource; Kubernetes objects are not Terraform resources of either cloud (their schema checks are
    the Kubernetes OpenAPI and the CRDs, tests/test_eks.py)."""
    for stack, plan in plans.items():
        assert [t for t in plan["gpucluster"]["unmapped"] if not t.startswith("kubernetes:")] == [], stack
    emitted = {r.type for stack in PROJECT.stacks() for r in preview_stack(stack).resources
               if r.custom and not r.type.startswith(("pulumi:", "kubernetes:"))}
    assert all(terraform_type(t) for t in emitted)
    assert mapping()["sources"]["aws"] and mapping()["sources"]["gcp"]


def test_blocks_are_lists_and_objects_elsewhere_are_maps(plans):
    """Terraform's JSON has every block as a list; an object left as an object must be a map attribute. An object
    under any other name would mean a block the mapping does not know."""
    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict):
                    assert key in MAPS, f"{path}.{key} is an object but not a known map: a block missing from the mapping?"
                else:
                    walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for item in value:
                walk(item, path)

    for plan in plans.values():
        for resource in plan["planned_values"]["root_module"]["resources"]:
            walk(resource["values"], resource["address"])


def test_pulumi_plurals_become_terraform_blocks(plans):
    resources = {r["type"]: r["values"] for r in plans["aws-p5-spot"]["planned_values"]["root_module"]["resources"]}
    group = resources["aws_autoscaling_group"]
    assert {"tag", "initial_lifecycle_hook", "mixed_instances_policy"} <= set(group) and "tags" not in group
    assert group["mixed_instances_policy"][0]["launch_template"][0]["override"][0]["instance_type"] == "p5.48xlarge"
    assert "rule" in resources["aws_s3_bucket_lifecycle_configuration"]
    gcp = {r["type"]: r["values"] for r in plans["gcp-a3-mega-spot"]["planned_values"]["root_module"]["resources"]}
    template = gcp["google_compute_instance_template"]
    assert len(template["network_interface"]) == 9 and template["metadata"]["block-project-ssh-keys"] == "TRUE"


def test_unknowns_are_marked_and_links_are_references(plans):
    plan = plans["aws-p5-train"]
    vpc = next(r for r in plan["resource_changes"] if r["type"] == "aws_vpc")
    assert "id" not in vpc["change"]["after"]
    flow = next(r for r in plan["configuration"]["root_module"]["resources"] if r["type"] == "aws_flow_log")
    assert f"{vpc['address']}.id" in flow["expressions"]["vpc_id"]["references"]
    subnet = next(r for r in plan["resource_changes"] if r["type"] == "aws_subnet")
    assert subnet["change"]["after_unknown"]["vpc_id"] is True and "vpc_id" not in subnet["change"]["after"]


def _unexplained(report: dict, broken: bool = False) -> list[tuple[str, str]]:
    """The failed checks the accepted list does not explain, of the example stacks' plans or (broken) of broken.json."""
    found = []
    for check in report["results"]["failed_checks"]:
        if check["file_path"].endswith("/broken.json") != broken:
            continue
        rule = ACCEPTED.get(check["check_id"])
        tf_type, name = check["resource"].split(".", 1)
        if rule and tf_type in rule["types"] and (not rule.get("names") or any(re.search(p, name) for p in rule["names"])):
            continue
        found.append((check["check_id"], check["resource"]))
    return found


def test_checkov_parses_every_resource_and_finds_nothing_unexplained(plans, scanned):
    report = scanned
    emitted = sum(len(p["resource_changes"]) for p in [*plans.values(), _without_bucket_encryption(plans["aws-p5-spot"])])
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] == emitted, "Checkov read every resource of every plan"
    assert _unexplained(report) == []
    assert report["summary"]["passed"] > 300  # the plans carry what the checks read


def test_checkov_flags_a_bucket_without_its_encryption(plans, scanned):
    """The accepted list explains; it does not blind the test. A bucket whose encryption resource is gone is found."""
    plan = _without_bucket_encryption(plans["aws-p5-spot"])
    buckets = sorted(r["address"] for r in plan["resource_changes"] if r["type"] == "aws_s3_bucket" and not r["name"].endswith("-logs"))
    # Checkov relates each bucket to its encryption resource through the plan's references: without it, it fails.
    assert sorted(_unexplained(scanned, broken=True)) == [("CKV_AWS_145", bucket) for bucket in buckets]
