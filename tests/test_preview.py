"""The offline preview: every example stack, the JSON contract, preview semantics and the mocks."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from gpucluster import cli
from gpucluster.preview.engine import COMPUTED, PreviewResult, run_program
from gpucluster.preview.stackfile import stack_config

from .helpers import BASE_SPEC, PROJECT, ROOT, of_type, one, preview_spec

GPUCLUSTER = Path(sys.executable).parent / "gpucluster"


@cache
def preview_stack(name: str) -> PreviewResult:
    return run_program(str(PROJECT.main), PROJECT.name, name, stack_config(PROJECT, name))


def test_there_are_example_stacks():
    assert "aws-p5-train" in PROJECT.stacks()


@pytest.mark.parametrize("stack", PROJECT.stacks())
def test_every_example_stack_previews_cleanly(stack, capsys):
    assert cli.main(["preview", stack, "--project", str(ROOT)]) == 0
    out = capsys.readouterr()
    assert "Resources:" in out.out and "to create" in out.out
    assert "error" not in out.err.lower()
    result = preview_stack(stack)
    assert not [d for d in result.diagnostics if d[0] in ("error", "warning")], result.diagnostics


def test_default_stack_is_16_p5_with_full_efa_in_one_zone():
    result = preview_stack("aws-p5-train")
    pools = result.outputs["pools"]
    assert pools["train"]["instanceType"] == "p5.48xlarge"
    assert (pools["train"]["min"], pools["train"]["max"]) == (16, 16)
    assert pools["train"]["efaInterfacesPerNode"] == 32
    assert pools["train"]["zones"] == ["us-east-1a"]
    assert result.outputs["gpus"] == {"min": 128, "max": 128}


def test_json_contract(capsys):
    assert cli.main(["preview", "aws-p5-train", "--json", "--project", str(ROOT)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"stack", "resources", "outputs", "policies", "waivers", "skippedChecks", "cost"}
    assert doc["stack"] == "aws-p5-train"
    assert {(v["pack"], v["policy"], v["enforcement"]) for v in doc["policies"]} == {
        ("cost", "no-unreserved-on-demand-large-gpus", "advisory"), ("cost", "training-pools-spot-or-scale-to-zero", "advisory")}
    assert {"lines", "pools", "total", "power", "unpriced"} <= set(doc["cost"])
    urns = set()
    for res in doc["resources"]:
        assert set(res) == {"urn", "type", "name", "custom", "parent", "provider", "inputs", "dependencies", "dependsOn", "options"}
        assert res["urn"].startswith("urn:pulumi:aws-p5-train::gpucluster::") and res["urn"].endswith("::" + res["name"])
        assert res["parent"] is None or res["parent"] in urns, "parents come before children"
        urns.add(res["urn"])
    every = {r["urn"] for r in doc["resources"]}
    for res in doc["resources"]:
        linked = {u for us in res["dependencies"].values() for u in us}
        assert linked <= every and linked <= set(res["dependsOn"]), "every link names a resource of the preview"
    asg = next(r for r in doc["resources"] if r["type"] == "aws:autoscaling/group:Group")
    (template,) = asg["dependencies"]["launchTemplate"]
    assert template.endswith("::" + asg["name"].removesuffix("-asg") + "-lt"), "a group's template input links to its template"
    lt = next(r for r in doc["resources"] if r["type"] == "aws:ec2/launchTemplate:LaunchTemplate")
    assert "networkInterfaces" in lt["inputs"] and "metadataOptions" in lt["inputs"]  # camelCase, as the engine sees them
    provider = next(r for r in doc["resources"] if r["type"] == "pulumi:providers:aws")
    assert provider["inputs"]["region"] == "us-east-1"


def test_engine_style_urns_for_top_level_resources(p5_preview):
    cluster = one(p5_preview, "gpucluster:aws:GpuCluster")
    assert cluster.urn == "urn:pulumi:test::gpucluster::gpucluster:aws:GpuCluster::t"
    vpc = one(p5_preview, "aws:ec2/vpc:Vpc")
    assert "::gpucluster:aws:GpuCluster$gpucluster:aws:ClusterNetwork$aws:ec2/vpc:Vpc::" in vpc.urn


def test_preview_leaves_computed_outputs_unknown(p5_preview):
    assert p5_preview.outputs["vpcId"] == COMPUTED
    assert all(s.inputs["vpcId"] == COMPUTED for s in of_type(p5_preview, "aws:ec2/subnet:Subnet"))
    # Names the engine assigns during its check step are known in a preview, as with the real CLI.
    asg_name = p5_preview.outputs["pools"]["train"]["autoScalingGroup"]
    assert asg_name.startswith("t-train-asg-") and len(asg_name) == len("t-train-asg-") + 7


def test_update_mode_gives_provider_shaped_ids():
    result = preview_spec(BASE_SPEC, preview=False)
    assert result.outputs["vpcId"].startswith("vpc-")
    assert {s.inputs["vpcId"] for s in of_type(result, "aws:ec2/subnet:Subnet")} == {result.outputs["vpcId"]}
    assert one(result, "aws:ec2/launchTemplate:LaunchTemplate").inputs["networkInterfaces"][0]["securityGroups"][0].startswith("sg-")


def test_runs_are_isolated_and_deterministic():
    first, second = preview_spec(BASE_SPEC), preview_spec(BASE_SPEC)
    assert [(r.urn, r.inputs) for r in first.resources] == [(r.urn, r.inputs) for r in second.resources]


def test_invokes_answer_in_provider_shape(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text(
        "import pulumi, pulumi_aws as aws\n"
        "pulumi.export('zones', aws.get_availability_zones_output().names)\n"
        "pulumi.export('account', aws.get_caller_identity_output().account_id)\n"
        "pulumi.export('region', aws.get_region_output().region)\n"
    )
    result = run_program(str(program), "p", "s", {"aws:region": "us-east-1"})
    assert result.outputs["account"] == "123456789012" and result.outputs["region"] == "us-east-1"
    assert "us-east-1a" in result.outputs["zones"] and all(z.startswith("us-east-1") for z in result.outputs["zones"])


def test_unmocked_invoke_fails_with_a_clear_message(tmp_path):
    program = tmp_path / "__main__.py"
    program.write_text("import pulumi_aws as aws\naws.ec2.get_vpc(default=True)\n")
    with pytest.raises(Exception, match="offline preview has no answer for the invoke aws:ec2/getVpc:getVpc"):
        run_program(str(program), "p", "s", {"aws:region": "us-east-1"})


def test_program_warnings_reach_the_diagnostics():
    spec = {**BASE_SPEC, "pools": [{**BASE_SPEC["pools"][0], "fabric": "off"},
                                   {"name": "dev", "instanceType": "trn1.32xlarge", "size": {"max": 1}, "zones": ["us-east-1b"]}],
            "zones": ["us-east-1a", "us-east-1b"], "storage": {"scratch": {}}}
    result = preview_spec(spec)
    messages = [m for level, m in result.diagnostics if level == "warning"]
    assert any(m.startswith("pools[0].fabric: [GPC-FABRIC-OFF] 'off' on p5.48xlarge") for m in messages)
    assert not any("storage.scratch is skipped" in m for m in messages), "trn1.32xlarge has local disks"


def test_spot_example_is_256_gpus_with_fsx_meeting_half_a_gbps_each():
    result = preview_stack("aws-p5-spot")
    assert result.outputs["gpus"] == {"min": 0, "max": 256}
    shared = result.outputs["storage"]["sharedFileSystem"]
    assert shared["throughputMBps"] >= 0.5 * 1000 * 256
    assert result.outputs["pools"]["train"]["capacity"] == ["spot"]


def test_capacity_block_example_is_16_fixed_nodes_with_its_window():
    pool_outputs = preview_stack("aws-p5-capacity-block").outputs["pools"]["train"]
    assert (pool_outputs["min"], pool_outputs["max"]) == (16, 16)
    assert (pool_outputs["blockStart"], pool_outputs["blockEnd"]) == ("2026-12-01T11:30:00+00:00", "2026-12-15T11:30:00+00:00")


def test_region_mismatch_between_provider_and_spec_fails():
    import pulumi

    with pytest.raises(pulumi.RunError, match="stack config aws:region is 'eu-west-1'"):
        preview_spec(BASE_SPEC, region="eu-west-1")


def test_gcp_needs_its_project():
    import pulumi

    spec = {**BASE_SPEC, "cloud": "gcp", "region": "us-central1", "zones": ["us-central1-a"],
            "pools": [{"name": "train", "instanceType": "a3-megagpu-8g", "size": {"min": 1, "max": 1}}]}
    config = {"gcp:region": "us-central1", "gpucluster:cluster": json.dumps(spec)}
    with pytest.raises(pulumi.RunError, match=r"gcp:project: \[GPC-PROVIDER-PROJECT\] stack config gcp:project is not set"):
        run_program(str(PROJECT.main), PROJECT.name, "test", config)


def test_installed_command_previews_the_default_stack():
    run = subprocess.run([GPUCLUSTER, "preview", "aws-p5-train"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "gpucluster:aws:GpuInstanceGroup" in run.stdout and "aws:ec2:LaunchTemplate" in run.stdout
