"""Every policy, against a compliant graph and a violating one, evaluated as the engine does (analyzer protocol)."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from pulumi_policy import EnforcementLevel, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from gpucluster import cli
from gpucluster.cost import prices
from gpucluster.policies import PACKS, VERSION
from gpucluster.policies.harness import PolicyConfigError, evaluate, reconcile
from gpucluster.policies.sarif import StackFindings, to_sarif
from gpucluster.preview.engine import Registration

from .helpers import PROJECT, ROOT, pool, preview_spec, spec_with
from .test_preview import preview_stack

FULL = spec_with(
    pools=[pool(size={"max": 4}, capacity={"type": "spot"})],
    storage={"scratch": {}, "shared": {"throughputGbps": 2}, "buckets": {"datasetSizeTb": 10, "checkpointSizeTb": 1}},
)


@pytest.fixture(scope="module")
def full():
    return preview_spec(FULL)


def results(graph, config=None, pack=None):
    return [v for v in evaluate(graph, config or {}) if pack is None or v.pack == pack]


def of(violations, policy):
    return [v for v in violations if v.policy == policy]


def mutated(graph, type_, name_part, change):
    graph = copy.deepcopy(graph)
    for reg in graph.resources:
        if reg.type == type_ and name_part in reg.name:
            change(reg.inputs)
            return graph
    raise AssertionError(f"no {type_} named like {name_part}")


def added(graph, reg: Registration):
    graph = copy.deepcopy(graph)
    graph.resources.append(reg)
    return graph


def test_the_full_graph_passes_every_policy_but_the_pricing_gaps(full):
    assert {v.policy for v in results(full)} == set()  # its spot nodes are priced since the SkyPilot import


def test_pack_versions_match_the_pack_files():
    for key in PACKS:
        assert f"version: {VERSION}" in (ROOT / "policies" / key / "PulumiPolicy.yaml").read_text()


def test_every_policy_is_documented():
    for pack in PACKS.values():
        for policy in pack.policies:
            assert policy.description and policy.remediation_steps and policy.severity is not None, policy.name
            assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)


def test_the_private_servicer_still_has_the_shape_we_drive():
    servicer = _PolicyAnalyzerServicer("p", "0.0.1", PACKS["security"].policies, EnforcementLevel.ADVISORY)
    for method in ("Configure", "ConfigureStack", "Analyze", "AnalyzeStack", "GetAnalyzerInfo"):
        assert callable(getattr(servicer, method))


# cost ------------------------------------------------------------------------------------------------------

def test_budget(full):
    within = results(full, {"cost": {"stack-budget": {"maxMonthlyUsd": 1_000_000}}})
    assert of(within, "stack-budget") == []
    over = of(results(full, {"cost": {"stack-budget": {"maxMonthlyUsd": 100}}}), "stack-budget")
    assert over[0].enforcement == "mandatory" and "exceeds the budget of $100.00" in over[0].message
    assert over[0].resource.endswith("::t-train-nodes-asg"), "names the largest resource (32 spot nodes at max)"


def test_pricing_gaps_are_findings_not_zeros(full, monkeypatch):
    # The price file without its imported layer has no p5 spot price: a gap to report.
    monkeypatch.setattr("gpucluster.cost.model.load_prices", prices.load)
    monkeypatch.setattr("gpucluster.policies.common._cache", {})
    gaps = of(results(full), "everything-priced")
    # The signal queue and the flow logs are billed by use: listed in the estimate, not findings.
    assert {v.resource.rsplit("::", 1)[1] for v in gaps} == {"t-train-nodes-asg"}
    assert all(v.enforcement == "advisory" for v in gaps)
    assert any("no spot price for p5.48xlarge" in v.message for v in gaps)


def test_gpu_caps(full):
    assert of(results(full), "gpus-per-pool") == []
    capped = of(results(full, {"cost": {"gpus-per-pool": {"maxGpusPerPool": 16}}}), "gpus-per-pool")
    assert "pool 'train' can grow to 32 GPUs, above the cap of 16" in capped[0].message
    assert capped[0].resource.endswith("::t-train-nodes-asg")
    assert "above the cap of 8" in of(results(full, {"cost": {"gpus-per-stack": {"maxGpus": 8}}}), "gpus-per-stack")[0].message
    assert of(results(full, {"cost": {"gpus-per-stack": {"maxGpus": 64}}}), "gpus-per-stack") == []


def test_on_demand_large_gpus_and_idle_training_pools():
    on_demand = results(preview_stack("aws-p5-train"), pack="cost")
    assert {v.policy for v in on_demand} == {"no-unreserved-on-demand-large-gpus", "training-pools-spot-or-scale-to-zero"}
    assert all(v.enforcement == "advisory" for v in on_demand)
    allowed = results(preview_stack("aws-p5-train"), {"cost": {"no-unreserved-on-demand-large-gpus": {"allowPools": ["train"]}}})
    assert of(allowed, "no-unreserved-on-demand-large-gpus") == []
    # Reserved capacity, every line priced (its buckets have expected sizes): nothing to say.
    assert results(preview_stack("aws-p5-capacity-block"), pack="cost") == []


def test_cost_allocation_tags(full):
    untagged = mutated(full, "aws:ec2/vpc:Vpc", "vpc", lambda inputs: inputs["tags"].pop("cost-center"))
    found = of(results(untagged), "cost-allocation-tags")
    assert found[0].resource.endswith("::t-net-vpc") and "['cost-center']" in found[0].message


def test_shared_fs_budget(full):
    assert "costs $" in of(results(full, {"cost": {"shared-fs-within-budget": {"maxMonthlyUsd": 10}}}), "shared-fs-within-budget")[0].message
    tier = of(results(full, {"cost": {"shared-fs-within-budget": {"maxPerUnitThroughput": 125}}}), "shared-fs-within-budget")
    assert "above the allowed 125" in tier[0].message


# sovereignty -----------------------------------------------------------------------------------------------

def test_us_east_1_under_eu_residency_fails_naming_resources():
    graph = preview_spec({**FULL, "residency": {"allowedRegions": ["eu"]}})
    found = of(results(graph, {"sovereignty": {"allowed-regions": {"allowedRegions": ["eu"]}}}), "allowed-regions")
    assert found and all(v.enforcement == "mandatory" and "lands in us-east-1, outside the allowed ['eu']" in v.message for v in found)
    assert any(v.resource.endswith("::t-storage-datasets") for v in found)


def test_eu_stack_passes_eu_residency():
    spec = {**spec_with(region="eu-north-1", zones=["eu-north-1a"]), "residency": {"allowedRegions": ["eu"]}}
    assert results(preview_spec(spec), {"sovereignty": {"allowed-regions": {"allowedRegions": ["eu"]}}}, pack="sovereignty") == []


def test_london_is_not_eu():
    graph = preview_spec(spec_with(region="eu-west-2", zones=["eu-west-2a"]))
    assert of(results(graph, {"sovereignty": {"allowed-regions": {"allowedRegions": ["eu"]}}}), "allowed-regions")


def test_residency_not_configured_is_not_applicable(full):
    assert of(results(full), "allowed-regions") == []


def test_data_repository_link_to_a_foreign_bucket(full):
    foreign = mutated(full, "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation", "datasets",
                      lambda inputs: inputs.update(dataRepositoryPath="s3://someone-elses-bucket/"))
    assert "a bucket this stack does not own" in of(results(foreign), "no-data-copies-elsewhere")[0].message


def test_customer_managed_keys(full):
    aws_owned = mutated(full, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "datasets",
                        lambda inputs: inputs["rules"][0]["applyServerSideEncryptionByDefault"].update(sseAlgorithm="AES256", kmsMasterKeyId=None))
    assert "AWS-owned key" in of(results(aws_owned), "customer-managed-keys")[0].message
    no_key = mutated(full, "aws:fsx/lustreFileSystem:LustreFileSystem", "lustre", lambda inputs: inputs.pop("kmsKeyId"))
    assert of(results(no_key), "customer-managed-keys")[0].resource.endswith("::t-storage-lustre")
    # The access-log bucket may use S3's keys because a BucketLogging targets it (a link), not because of its name.
    assert of(results(full), "customer-managed-keys") == []
    unlinked = copy.deepcopy(full)
    for reg in unlinked.resources:
        if reg.type == "aws:s3/bucketLogging:BucketLogging":
            reg.dependencies.pop("targetBucket")
    flagged = of(results(unlinked), "customer-managed-keys")
    assert [v.resource.rsplit("::", 1)[1] for v in flagged] == ["t-storage-logs"]


def test_public_bucket_fails_naming_it(full):
    public = mutated(full, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "datasets",
                     lambda inputs: inputs.update(blockPublicPolicy=False, restrictPublicBuckets=False))
    found = results(public)
    sovereign = of(found, "no-public-endpoints")[0]
    assert sovereign.enforcement == "mandatory" and sovereign.resource.endswith("::t-storage-datasets")
    assert "['blockPublicPolicy', 'restrictPublicBuckets'] not set" in sovereign.message
    locked = of(found, "buckets-locked-down")[0]
    assert locked.resource.endswith("::t-storage-datasets") and "public access is not fully blocked" in locked.message


def test_public_subnet(full):
    public = mutated(full, "aws:ec2/subnet:Subnet", "private", lambda inputs: inputs.update(mapPublicIpOnLaunch=True))
    assert "assigns public IPs" in of(results(public), "no-public-endpoints")[0].message


# security --------------------------------------------------------------------------------------------------

LT = "aws:ec2/launchTemplate:LaunchTemplate"


@pytest.mark.parametrize(
    "change, policy, message",
    [
        (lambda i: i["metadataOptions"].update(httpTokens="optional"), "imdsv2-required", "allows IMDSv1"),
        (lambda i: i["networkInterfaces"][3].update(associatePublicIpAddress="true"), "no-public-ip-on-gpu-nodes", "network card 2 may get a public IP"),
        (lambda i: i["blockDeviceMappings"][0]["ebs"].update(encrypted="false"), "encrypted-volumes", "volume /dev/sda1 is not encrypted"),
    ],
)
def test_launch_template_rules(full, change, policy, message):
    found = of(results(mutated(full, LT, "lt", change)), policy)
    assert found and message in found[0].message and found[0].resource.endswith("::t-train-nodes-lt")


def test_bucket_without_tls_policy(full):
    graph = copy.deepcopy(full)
    graph.resources = [r for r in graph.resources if not (r.type == "aws:s3/bucketPolicy:BucketPolicy" and "checkpoints" in r.name)]
    found = of(results(graph), "buckets-locked-down")
    assert found[0].resource.endswith("::t-storage-checkpoints") and "without TLS" in found[0].message


def _rule(full, name, **inputs) -> Registration:
    efa = next(r for r in full.resources if r.type == "aws:ec2/securityGroup:SecurityGroup" and r.name == "t-net-efa")
    return Registration(f"urn:pulumi:test::gpucluster::aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::{name}",
                        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", name, efa.parent, True,
                        {"securityGroupId": "<computed>", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, **inputs},
                        dependencies={"securityGroupId": [efa.urn]})


def test_ingress_from_anywhere(full):
    found = of(results(added(full, _rule(full, "ssh", cidrIpv4="0.0.0.0/0"))), "no-ingress-from-anywhere")
    assert found[0].resource.endswith("::ssh") and "from anywhere (0.0.0.0/0)" in found[0].message


def test_efa_group_references_only_itself(full):
    found = of(results(added(full, _rule(full, "vpc-ssh", cidrIpv4="10.0.0.0/8"))), "efa-group-self-only")
    assert found[0].resource.endswith("::vpc-ssh") and "also allows 10.0.0.0/8" in found[0].message


def test_wildcard_iam_actions(full):
    def widen(inputs):
        document = json.loads(inputs["policy"])
        document["Statement"][0]["Action"] = ["s3:*"]
        inputs["policy"] = json.dumps(document)

    found = of(results(mutated(full, "aws:iam/rolePolicy:RolePolicy", "access", widen)), "no-wildcard-iam-actions")
    assert "wildcard actions ['s3:*']" in found[0].message


def test_gcp_vms_need_shielded_vm_and_os_login(full):
    def template(name, **inputs):
        return Registration(f"urn:pulumi:test::gpucluster::gcp:compute/instanceTemplate:InstanceTemplate::{name}",
                            "gcp:compute/instanceTemplate:InstanceTemplate", name, None, True, inputs)

    good = template("good", shieldedInstanceConfig={"enableSecureBoot": True, "enableVtpm": True, "enableIntegrityMonitoring": True},
                    metadata={"enable-oslogin": "TRUE"})
    bad = template("bad", shieldedInstanceConfig={"enableSecureBoot": False}, metadata={})
    found = of(results(added(added(full, good), bad)), "gcp-shielded-vm-and-os-login")
    assert {v.resource.rsplit("::", 1)[1] for v in found} == {"bad"} and len(found) == 2


# engine semantics ------------------------------------------------------------------------------------------

def test_unknown_values_give_the_engines_advisory(full):
    unknown = mutated(full, LT, "lt", lambda inputs: inputs["metadataOptions"].update(httpTokens="<computed>"))
    found = of(results(unknown), "imdsv2-required")
    assert found[0].enforcement == "advisory"
    assert "can't run policy 'imdsv2-required' from policy pack 'gpucluster-security@v0.1.0' during preview" in found[0].message


def test_config_levels_all_and_disabled():
    graph = preview_stack("aws-p5-train")
    assert of(results(graph, {"cost": {"all": "mandatory"}}), "training-pools-spot-or-scale-to-zero")[0].enforcement == "mandatory"
    assert of(results(graph, {"cost": {"training-pools-spot-or-scale-to-zero": "disabled"}}), "training-pools-spot-or-scale-to-zero") == []


def test_config_is_validated_like_the_cli():
    with pytest.raises(PolicyConfigError, match=r"validating policy config: gpucluster-cost 0.1.0  gpus-per-pool: maxGpusPerPool: 'many' is not of type 'integer'"):
        reconcile(PACKS["cost"], {"gpus-per-pool": {"maxGpusPerPool": "many"}})
    with pytest.raises(PolicyConfigError, match="no-such-policy: not a policy of this pack"):
        reconcile(PACKS["cost"], {"no-such-policy": "mandatory"})
    level, props = reconcile(PACKS["cost"], {})["gpus-per-pool"]
    assert level == EnforcementLevel.MANDATORY and props == {"maxGpusPerPool": 512}


def test_sarif(full):
    unknown = mutated(full, LT, "lt", lambda inputs: inputs["metadataOptions"].update(httpTokens="optional"))
    sarif = to_sarif([StackFindings("test", results(unknown))])
    jsonschema.Draft4Validator(json.loads((ROOT / "tests/fixtures/sarif/sarif-schema-2.1.0.json").read_text())).validate(sarif)
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "security/imdsv2-required")
    assert result["ruleId"] == "security/imdsv2-required" and result["level"] == "error"
    rule_ids = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert result["ruleId"] in rule_ids and len(rule_ids) == sum(len(p.policies) for p in PACKS.values())


def test_budget_overrun_fails_the_preview_naming_the_resource(tmp_path, capsys):
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"cost": {"stack-budget": {"maxMonthlyUsd": 1000}}}))
    assert cli.main(["preview", "aws-p5-train", "--project", str(ROOT), "--policy-config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "[mandatory] cost/stack-budget [GPC-COST-BUDGET] on p5-train-train-asg" in out and "exceeds the budget of $1,000.00" in out


def test_sarif_output_from_the_command(capsys):
    assert cli.main(["preview", "aws-p5-train", "--project", str(ROOT), "--format", "sarif"]) == 0
    sarif = json.loads(capsys.readouterr().out)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {
        "cost/no-unreserved-on-demand-large-gpus", "cost/training-pools-spot-or-scale-to-zero"}


def test_every_example_stack_passes_every_mandatory_policy_with_no_waivers():
    for stack in ("aws-p5-train", "aws-p5-spot", "aws-p5-capacity-block"):
        assert not [v for v in results(preview_stack(stack)) if v.enforcement == "mandatory"], stack


def test_spec_budget_and_residency_become_policy_config(capsys):
    assert cli.main(["policy-config", "aws-p5-train", "--pack", "cost", "--project", str(ROOT)]) == 0
    assert json.loads(capsys.readouterr().out) == {"stack-budget": {"maxMonthlyUsd": 700000}, "gpus-per-stack": {"maxGpus": 128}}
    assert cli.main(["policy-config", "aws-p5-train", "--pack", "sovereignty", "--project", str(ROOT)]) == 0
    assert json.loads(capsys.readouterr().out) == {"allowed-regions": {"allowedRegions": ["us-east-1", "us-east-2"]}}


def test_explicit_policy_config_wins_over_the_spec(tmp_path, capsys):
    extra = tmp_path / "policy.json"
    extra.write_text(json.dumps({"cost": {"stack-budget": {"maxMonthlyUsd": 5, "scale": "min"}, "all": "advisory"}}))
    assert cli.main(["policy-config", "aws-p5-train", "--pack", "cost", "--policy-config", str(extra), "--project", str(ROOT)]) == 0
    assert json.loads(capsys.readouterr().out)["stack-budget"] == {"maxMonthlyUsd": 5, "scale": "min"}


def test_the_pack_folders_serve_what_the_offline_harness_evaluates(full):
    """Start policies/security as the Pulumi CLI does (its __main__ prints a port, then serves gRPC) and ask it
    the same Analyze question the harness asks in process: the answers must match."""
    import subprocess
    import sys

    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc

    from gpucluster.policies.harness import AnalyzerRequests

    graph = mutated(full, LT, "lt", lambda inputs: inputs["metadataOptions"].update(httpTokens="optional"))
    graph = mutated(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "datasets",
                    lambda inputs: inputs.update(blockPublicAcls=False))  # and a stack policy's finding
    template = next(r for r in graph.resources if r.type == LT)
    process = subprocess.Popen([sys.executable, str(ROOT / "policies" / "security" / "__main__.py")],
                               stdout=subprocess.PIPE, text=True, env={k: v for k, v in __import__("os").environ.items()
                                                                       if not k.startswith("PULUMI_")})
    try:
        port = int(process.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(__import__("google.protobuf.empty_pb2", fromlist=["Empty"]).Empty(), timeout=30)
            requests = AnalyzerRequests(graph)
            served = stub.Analyze(next(r for r in requests.analyze if r.urn == template.urn), timeout=30)
            served_stack = stub.AnalyzeStack(requests.stack, timeout=60)
    finally:
        process.kill()
        process.wait()
    assert info.name == "gpucluster-security"
    assert {p.name for p in info.policies} == {p.name for p in PACKS["security"].policies}
    served_messages = sorted((d.policyName, d.message) for d in served.diagnostics)
    offline = sorted((v.policy, v.message) for v in results(graph, pack="security") if v.resource == template.urn)
    assert served_messages == offline and ("imdsv2-required", next(m for p, m in offline if p == "imdsv2-required")) in served_messages
    stack_policies = {p.name for p in PACKS["security"].policies if isinstance(p, StackValidationPolicy)}
    offline_stack = sorted((v.policy, v.message, v.resource) for v in results(graph, pack="security") if v.policy in stack_policies)
    assert offline_stack and sorted((d.policyName, d.message, d.urn) for d in served_stack.diagnostics) == offline_stack


def test_explicit_providers_decide_the_region(full):
    provider = Registration("urn:pulumi:test::gpucluster::pulumi:providers:aws::london", "pulumi:providers:aws", "london",
                            "urn:pulumi:test::gpucluster::pulumi:pulumi:Stack::gpucluster-test", True, {"region": "eu-west-2"})
    bucket = Registration("urn:pulumi:test::gpucluster::aws:s3/bucket:Bucket::elsewhere", "aws:s3/bucket:Bucket", "elsewhere", None,
                          True, {"bucket": "elsewhere", "tags": {"owner": "o", "cost-center": "c", "project": "p"}},
                          provider=f"{provider.urn}::provider-id")
    found = of(results(added(added(full, provider), bucket), {"sovereignty": {"allowed-regions": {"allowedRegions": ["us-east-1"]}}}), "allowed-regions")
    assert [v.resource.rsplit("::", 1)[1] for v in found] == ["elsewhere"] and "lands in eu-west-2" in found[0].message


@pytest.mark.parametrize("location, ok", [("EU", True), ("EUROPE-WEST4", True), ("US", False), ("ASIA", False), ("US-CENTRAL1", False), ("EUROPE-WEST2", False)])
def test_gcs_bucket_locations_under_eu(full, location, ok):
    bucket = Registration("urn:pulumi:test::gpucluster::gcp:storage/bucket:Bucket::b", "gcp:storage/bucket:Bucket", "b", None, True,
                          {"location": location, "encryption": {"defaultKmsKeyName": "k"}})
    found = of(results(added(full, bucket), {"sovereignty": {"allowed-regions": {"allowedRegions": ["eu"]}}}), "allowed-regions")
    assert [v for v in found if v.resource.endswith("::b")] == ([] if ok else found[-1:]), found


def test_replication_out_of_a_bucket(full):
    replication = Registration("urn:pulumi:test::gpucluster::aws:s3/bucketReplicationConfig:BucketReplicationConfig::copy",
                               "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "copy", None, True, {"bucket": "x", "rules": []})
    assert "replicates objects out of this bucket" in of(results(added(full, replication)), "no-data-copies-elsewhere")[0].message


@pytest.mark.parametrize("stack", PROJECT.stacks())
def test_shared_decoding_finds_what_per_policy_decoding_finds(stack):
    """The harness decodes each payload once for all policies; the SDK by itself decodes per policy. A strict
    budget and region make every pack report something, so the comparison is not between two empty lists."""
    graph = preview_stack(stack)
    config = {"cost": {"stack-budget": {"maxHourlyUsd": 1}, "gpus-per-pool": {"maxGpusPerPool": 1}},
              "sovereignty": {"allowed-regions": {"allowedRegions": ["ap-south-1"]}}}
    shared, alone = evaluate(graph, config), evaluate(graph, config, share_decoding=False)
    assert {"cost", "sovereignty"} <= {v.pack for v in alone}
    assert sorted(map(repr, shared)) == sorted(map(repr, alone))
