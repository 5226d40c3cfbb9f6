"""`gpucluster ci` and `gpucluster diff` on a base and a head with known differences: an added pool, an instance type
that rolls nodes, a network CIDR that replaces the VPC and its subnets, removed buckets, and a budget overrun."""

from __future__ import annotations

import contextlib
import copy
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from gpucluster import cli

from .helpers import PROJECT, ROOT

SARIF_SCHEMA = json.loads((ROOT / "tests/fixtures/sarif/sarif-schema-2.1.0.json").read_text())

BASE = {
    "name": "ci", "cloud": "aws", "region": "us-east-1", "zones": ["us-east-1a"],
    "network": {"cidr": "10.40.0.0/16"},
    "pools": [{"name": "train", "instanceType": "p5.48xlarge", "size": {"min": 2, "max": 2}}],
    "storage": {"buckets": {"datasetSizeTb": 10, "checkpointSizeTb": 1}},
    "budget": {"monthlyUsd": 200000},
    "tags": {"owner": "team", "costCenter": "cc-1", "project": "proj"},
}


def head_spec() -> dict:
    spec = copy.deepcopy(BASE)
    spec["network"]["cidr"] = "10.41.0.0/16"  # replaces the VPC and its subnets
    spec["pools"][0]["instanceType"] = "p5en.48xlarge"  # a new launch template version: the group's nodes roll
    spec["pools"].append({"name": "dev", "instanceType": "g6.12xlarge", "size": {"min": 0, "max": 2}})
    del spec["storage"]  # the dataset and checkpoint buckets go
    spec["budget"] = {"monthlyUsd": 1000}  # far below the head's cost: a mandatory finding
    return spec


def write_project(folder: Path, spec: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(f"name: gpucluster\nruntime: python\nmain: {ROOT / '__main__.py'}\n"
                                        "stackConfigDir: stacks\n")
    (folder / "stacks").mkdir(exist_ok=True)
    stack = {"config": {"aws:region": spec["region"], "gpucluster:cluster": spec}}
    (folder / "stacks/Pulumi.ci.yaml").write_text(yaml.safe_dump(stack, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The base previewed to a folder of JSON, then `gpucluster ci` on the head against it."""
    tmp = tmp_path_factory.mktemp("ci")
    base_project = write_project(tmp / "base", BASE)
    base_dir = tmp / "base-previews"
    base_dir.mkdir()
    with open(base_dir / "ci.json", "w") as out, contextlib.redirect_stdout(out):
        assert cli.main(["preview", "ci", "--project", str(base_project), "--json"]) == 0
    head_project = write_project(tmp / "head", head_spec())
    code = cli.main(["ci", "--project", str(head_project), "--base-dir", str(base_dir), "--out", str(tmp / "out")])
    return code, tmp / "out", base_dir / "ci.json"


def by_name(diff: dict, type_: str, name: str) -> dict:
    return next(c for c in diff["changes"] if c["type"] == type_ and c["name"] == name)


def test_exit_code_1_on_the_mandatory_budget_finding(ran):
    code, out, _ = ran
    assert code == 1
    report = (out / "report.md").read_text()
    assert "**1 mandatory**" in report and "cost/stack-budget" in report


def test_diff_replaces_the_network_and_cascades_through_links(ran):
    diff = json.loads((ran[1] / "ci.diff.json").read_text())
    vpc = by_name(diff, "aws:ec2/vpc:Vpc", "ci-net-vpc")
    assert vpc["op"] == "replace" and [r["path"] for r in vpc["replaceBecause"]] == ["cidrBlock"]
    assert "terraform-provider-aws" in vpc["replaceBecause"][0]["source"]
    subnet = by_name(diff, "aws:ec2/subnet:Subnet", "ci-net-private-us-east-1a")
    assert subnet["op"] == "replace"
    assert {r["path"] for r in subnet["replaceBecause"]} >= {"cidrBlock", "vpcId"}  # its own CIDR, and the new VPC's id
    assert subnet["changed"]["vpcId"]["after"] == "<computed: ci-net-vpc is replaced>"
    # The security groups move to the new VPC too: vpcId forces their replacement.
    assert by_name(diff, "aws:ec2/securityGroup:SecurityGroup", "ci-net-nodes")["op"] == "replace"


def test_instance_type_change_rolls_the_nodes_later(ran):
    diff = json.loads((ran[1] / "ci.diff.json").read_text())
    template = by_name(diff, "aws:ec2/launchTemplate:LaunchTemplate", "ci-train-lt")
    assert template["op"] == "update"
    assert template["changed"]["instanceType"] == {"before": "p5.48xlarge", "after": "p5en.48xlarge"}
    group = by_name(diff, "aws:autoscaling/group:Group", "ci-train-asg")
    roll = next(f for f in group["flags"] if f["kind"] == "rollout")
    assert roll["when"] == "later" and "2 node(s) always running" in roll["message"]
    assert "instance refresh" in roll["source"]


def test_added_pool_is_created_and_removed_buckets_lose_data(ran):
    diff = json.loads((ran[1] / "ci.diff.json").read_text())
    created = {c["name"] for c in diff["changes"] if c["op"] == "create"}
    assert {"ci-dev", "ci-dev-asg", "ci-dev-lt"} <= created
    deleted = [c for c in diff["changes"] if c["op"] == "delete" and c["type"] == "aws:s3/bucket:Bucket"]
    assert {c["name"] for c in deleted} == {"ci-storage-datasets", "ci-storage-checkpoints", "ci-storage-logs"}
    for bucket in deleted:
        loss = next(f for f in bucket["flags"] if f["kind"] == "data-loss")
        assert "forceDestroy" in loss["message"] and "DeleteBucket" in loss["source"]
    # Disruptive changes come first.
    flagged = [bool(c["flags"]) for c in diff["changes"]]
    assert flagged == sorted(flagged, reverse=True)
    assert diff["disruptive"] == sum(flagged)


def test_cost_delta(ran):
    code, out, base_file = ran
    report = (out / "report.md").read_text()
    head = json.loads((out / "ci.json").read_text())
    base_cost = json.loads(base_file.read_text())["cost"]
    delta_max = head["cost"]["total"]["monthly"]["max"] - base_cost["total"]["monthly"]["max"]
    assert delta_max > 0  # p5en costs more than p5, and the dev pool adds up to two g6 nodes
    assert f"+${delta_max:,.2f} at max per month" in report
    assert "dataset" in report  # the removed buckets' lines are in the cost table


def test_report_lists_disruptive_changes_first(ran):
    report = (ran[1] / "report.md").read_text()
    assert report.startswith("<!-- gpucluster-ci -->\n## Stack previews: 1 stack(s), 1 with disruptive changes, 1 failing")
    section = report.split("### `ci`", 1)[1]
    assert section.index("disruptive change(s)**") < section.index("All changes") < section.index("#### Policies")
    assert "**DATA LOSS** `" in section and "**NODES ROLL** (later)" in section and "**REPLACE**" in section


def test_sarif_is_valid_and_located_in_the_stack_file(ran):
    sarif = json.loads((ran[1] / "results.sarif").read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    results = sarif["runs"][0]["results"]
    budget = next(r for r in results if r["ruleId"] == "cost/stack-budget")
    physical = budget["locations"][0]["physicalLocation"]
    assert budget["level"] == "error" and physical["artifactLocation"]["uri"].endswith("stacks/Pulumi.ci.yaml")
    stack_file = (ran[1].parent / "head/stacks/Pulumi.ci.yaml").read_text().splitlines()
    # On the pool the finding's resource belongs to.
    assert stack_file[physical["region"]["startLine"] - 1].strip() == "- name: train"
    assert budget["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith("urn:pulumi:ci::gpucluster::")
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert rules[budget["ruleIndex"]]["id"] == "cost/stack-budget" and rules[budget["ruleIndex"]]["help"]["text"]
    assert budget["properties"]["code"] == rules[budget["ruleIndex"]]["properties"]["code"] == "GPC-COST-BUDGET"
    assert "| **mandatory** | `cost/stack-budget` | `GPC-COST-BUDGET` |" in (ran[1] / "report.md").read_text()


def test_terraform_plan_per_stack(ran):
    plan = json.loads((ran[1] / "ci.tfplan.json").read_text())
    types = {r["type"] for r in plan["planned_values"]["root_module"]["resources"]}
    assert "aws_autoscaling_group" in types and "aws_launch_template" in types
    assert "aws_s3_bucket" not in types  # the head has no buckets


def test_diff_command_formats(ran, capsys):
    _, out, base_file = ran
    head_file = out / "ci.json"
    assert cli.main(["diff", str(base_file), str(head_file)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("Changes from ci to ci: ")
    assert "[DATA LOSS]" in text and "[NODES ROLL, later]" in text
    assert cli.main(["diff", str(base_file), str(head_file), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("#### Changes: ")
    assert cli.main(["diff", str(base_file), str(head_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["replace"] >= 3
    assert cli.main(["diff", str(base_file), str(out / "report.md")]) == 2
    assert "not a preview JSON file" in capsys.readouterr().err


def test_base_from_a_git_ref(tmp_path):
    """The base previewed from a commit, in a temporary work tree, by its own program."""
    repo = write_project(tmp_path / "repo", BASE)
    git = lambda *args: subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "empty")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base")
    spec = copy.deepcopy(BASE)
    spec["pools"].append({"name": "dev", "instanceType": "g6.12xlarge", "size": {"min": 0, "max": 2}})
    write_project(repo, spec)
    assert cli.main(["ci", "--project", str(repo), "--base-ref", "HEAD", "--out", str(tmp_path / "out")]) == 0
    diff = json.loads((tmp_path / "out/ci.diff.json").read_text())
    assert diff["summary"]["delete"] == 0 and diff["summary"]["replace"] == 0
    assert {c["name"] for c in diff["changes"] if c["op"] == "create"} >= {"ci-dev-asg", "ci-dev-lt"}
    assert not git("worktree", "list").stdout.count("\n") > 1  # the temporary work tree is gone
    # A ref that does not exist is a usage error, said plainly.
    assert cli.main(["ci", "--project", str(repo), "--base-ref", "no-such-ref", "--out", str(tmp_path / "out2")]) == 2


def test_a_stack_that_no_longer_previews_fails_the_run(tmp_path, capsys):
    spec = copy.deepcopy(BASE)
    spec["pools"][0]["instanceType"] = "p5.96xlarge"  # not in the catalog
    project = write_project(tmp_path / "p", spec)
    assert cli.main(["ci", "--project", str(project), "--out", str(tmp_path / "out")]) == 1
    report = (tmp_path / "out/report.md").read_text()
    assert "**does not preview**" in report and "pools[0].instanceType" in report


def test_a_base_folder_with_a_broken_file_is_refused(tmp_path, capsys):
    project = write_project(tmp_path / "p", BASE)
    (tmp_path / "base").mkdir()
    (tmp_path / "base/ci.json").write_text('{"stack": "ci"}')
    assert cli.main(["ci", "--project", str(project), "--base-dir", str(tmp_path / "base"), "--out", str(tmp_path / "o")]) == 2
    assert "ci.json: not a preview JSON file (no 'resources' list)" in capsys.readouterr().err
    assert cli.main(["ci", "nope", "--project", str(project), "--out", str(tmp_path / "o")]) == 2
    assert "error: no stack nope in" in capsys.readouterr().err


def test_every_example_stack_passes_ci_with_every_pack():
    """The gate `make test` ends on, as CI runs it on a pull request: every example stack previewed with every
    built-in pack. A mandatory finding, or a stack that no longer previews, fails it; the report stays in build/ci."""
    out = ROOT / "build/ci"
    assert cli.main(["ci", "--project", str(ROOT), "--out", str(out)]) == 0
    examples = set(PROJECT.stacks())
    assert {f.stem for f in out.glob("*.json") if not f.name.endswith((".diff.json", ".tfplan.json"))} == examples
    assert f"{len(examples)} stack(s), 0 with disruptive changes, 0 failing" in (out / "report.md").read_text()
