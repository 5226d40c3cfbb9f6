"""The offline engine records what the Pulumi engine records (options, dependencies, providers, invokes), the policy
harness sends it as the engine does, and the cost model and policies find related resources through links."""

from __future__ import annotations

import textwrap

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from gpucluster.cost import estimate
from gpucluster.graph import Graph, region_of
from gpucluster.policies import Pack
from gpucluster.policies.harness import AnalyzerRequests, evaluate
from gpucluster.preview.engine import run_program
from gpucluster.preview.render import as_json

EXPLICIT_PROVIDER = """
import pulumi
import pulumi_aws as aws
from components.aws import AwsGpuCluster, AwsGpuClusterArgs
from gpucluster.validate import load_spec

spec, _ = load_spec({
    "name": "x", "cloud": "aws", "region": "eu-north-1", "zones": ["eu-north-1c"],
    "pools": [{"name": "train", "instanceType": "p5.48xlarge", "size": {"min": 1, "max": 2}}],
    "storage": {"shared": {"throughputGbps": 2}, "buckets": {"datasetSizeTb": 1}},
    "tags": {"owner": "a", "costCenter": "b", "project": "c"},
})
eu = aws.Provider("eu", region="eu-north-1")
AwsGpuCluster("x", AwsGpuClusterArgs(spec), opts=pulumi.ResourceOptions(providers=[eu]))
"""


def run(tmp_path, source: str, config: dict | None = None):
    main = tmp_path / "__main__.py"
    main.write_text(textwrap.dedent(source))
    return run_program(str(main), "user", "dev", config or {})


@pytest.fixture(scope="module")
def explicit(tmp_path_factory):
    return run(tmp_path_factory.mktemp("explicit"), EXPLICIT_PROVIDER)


def test_explicit_provider_makes_no_default_provider(explicit):
    providers = [r for r in explicit.resources if r.type.startswith("pulumi:providers:")]
    assert [(r.type, r.name) for r in providers] == [("pulumi:providers:aws", "eu")]


def test_invokes_inside_components_use_the_components_provider(explicit):
    assert explicit.invokes, "the components call invokes"
    assert all(provider and provider.startswith("urn:pulumi:dev::user::pulumi:providers:aws::eu::") for _, provider in explicit.invokes)


def test_cost_reads_the_region_from_the_explicit_provider(explicit):
    cost = estimate(as_json(explicit)["resources"])  # used to crash looking for a price book of package "pulumi"
    reasons = " ".join(u["reason"] for u in cost["unpriced"])
    assert "eu-north-1" in reasons and "us-east-1" not in reasons
    assert cost["pools"]["train"]["gpus"]["max"] == 16


def test_sovereignty_reads_the_region_from_the_explicit_provider(explicit):
    outside = [v for v in evaluate(explicit, {"sovereignty": {"allowed-regions": {"allowedRegions": ["us-east-1"]}}})
               if v.policy == "allowed-regions"]
    assert outside and all("eu-north-1" in v.message for v in outside)
    inside = [v for v in evaluate(explicit, {"sovereignty": {"allowed-regions": {"allowedRegions": ["eu"]}}})
              if v.policy == "allowed-regions"]
    assert inside == []


OPTIONS_PROGRAM = """
import pulumi
import pulumi_aws as aws

class Storage(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("user:index:Storage", name, None, opts)
        bucket = aws.s3.Bucket("data", opts=pulumi.ResourceOptions(
            parent=self, protect=True, ignore_changes=["tags"], delete_before_replace=True,
            custom_timeouts=pulumi.CustomTimeouts(create="1h30m", delete="90s"),
            aliases=[pulumi.Alias(name="old-data")]))
        # Settings with names of their own: linked to the bucket through their `bucket` input only.
        aws.s3.BucketPublicAccessBlock("lock", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
                                       ignore_public_acls=True, restrict_public_buckets=True, opts=pulumi.ResourceOptions(parent=self))
        aws.s3.BucketServerSideEncryptionConfiguration("sse", bucket=bucket.id, rules=[
            {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": "arn:aws:kms:us-east-1:1:key/k"}}],
            opts=pulumi.ResourceOptions(parent=self))
        aws.s3.BucketPolicy("tls", bucket=bucket.id, policy=bucket.bucket.apply(lambda b: __import__("json").dumps({"Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::" + b,
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})), opts=pulumi.ResourceOptions(parent=self))
        # A second bucket named like the first's settings, but with none of its own.
        aws.s3.Bucket("lock", opts=pulumi.ResourceOptions(parent=self))

Storage("store")
"""


@pytest.fixture(scope="module")
def options_program(tmp_path_factory):
    return run(tmp_path_factory.mktemp("options"), OPTIONS_PROGRAM, {"aws:region": "us-east-1"})


def test_options_are_recorded_as_the_engine_keeps_them(options_program):
    bucket = next(r for r in options_program.resources if r.type == "aws:s3/bucket:Bucket" and r.name == "data")
    assert bucket.options["protect"] is True
    assert bucket.options["ignoreChanges"] == ["tags"]
    assert bucket.options["deleteBeforeReplace"] is True
    assert bucket.options["customTimeouts"] == {"create": "1h30m", "delete": "90s"}
    # Ours, resolved from its spec to a URN, beside the aliases pulumi-aws adds for its own renames.
    assert "urn:pulumi:dev::user::user:index:Storage$aws:s3/bucket:Bucket::old-data" in bucket.options["aliases"]


def test_requests_carry_every_resource_with_options_and_links(options_program):
    requests = AnalyzerRequests(options_program)
    assert all(a.HasField("options") for a in requests.analyze), "the Node policy SDK refuses Analyze without options"
    stack = requests.stack
    kinds = {r.type for r in stack.resources}
    assert {"pulumi:pulumi:Stack", "user:index:Storage", "pulumi:providers:aws", "aws:s3/bucket:Bucket"} <= kinds
    data = next(r for r in stack.resources if r.name == "data")
    assert data.parent.endswith("user:index:Storage::store") and data.options.parent == data.parent
    assert data.options.protect and list(data.options.ignoreChanges) == ["tags"] and data.options.deleteBeforeReplace
    assert data.options.customTimeouts.create == 5400 and data.options.customTimeouts.delete == 90
    lock = next(r for r in stack.resources if r.name == "lock" and r.type.endswith("BucketPublicAccessBlock"))
    assert list(lock.propertyDependencies["bucket"].urns) == [data.urn] and data.urn in lock.dependencies
    assert data.provider.type == "pulumi:providers:aws"


def test_policies_see_options_parents_and_dependencies(options_program):
    seen = {}

    def on_resource(args, report):
        if args.resource_type == "aws:s3/bucket:Bucket":
            seen[args.urn] = (args.opts.protect, list(args.opts.ignore_changes), args.opts.parent)

    def on_stack(args, report):
        for r in args.resources:
            if r.resource_type.endswith("BucketPublicAccessBlock"):
                seen["lock"] = ([d.name for d in r.property_dependencies["bucket"]], r.parent.resource_type)

    pack = Pack("probe", "probe", "records what policies see", [
        ResourceValidationPolicy(name="r", description="r", validate=on_resource),
        StackValidationPolicy(name="s", description="s", validate=on_stack)], EnforcementLevel.ADVISORY)
    evaluate(options_program, {}, packs=[pack])
    data = next(r for r in options_program.resources if r.name == "data")
    assert seen[data.urn] == (True, ["tags"], data.parent)
    assert seen["lock"] == (["data"], "user:index:Storage")


def test_bucket_settings_are_found_through_links_not_names(options_program):
    found = [v for v in evaluate(options_program, {}) if v.policy == "buckets-locked-down"]
    data = next(r for r in options_program.resources if r.name == "data")
    other = next(r for r in options_program.resources if r.name == "lock" and r.type == "aws:s3/bucket:Bucket")
    assert {v.resource for v in found} == {other.urn}  # "data" has its settings; "lock" has none, whatever its name
    assert data.urn not in {v.resource for v in found}


def test_preview_json_records_links(options_program):
    doc = as_json(options_program)
    lock = next(r for r in doc["resources"] if r["name"] == "lock" and r["type"].endswith("BucketPublicAccessBlock"))
    data = next(r for r in doc["resources"] if r["name"] == "data")
    assert lock["dependencies"] == {"bucket": [data["urn"]]}
    assert data["options"]["protect"] is True and data["provider"] is None and data["custom"] is True


# the one reader of links -------------------------------------------------------------------------------------

def _res(urn, type_, inputs=None, dependencies=None, provider=None, name="n"):
    return {"urn": urn, "type": type_, "name": name, "inputs": inputs or {}, "dependencies": dependencies or {}, "provider": provider}


def test_region_of_follows_own_argument_then_provider():
    assert region_of("aws:s3/bucket:Bucket", {}, {"region": "eu-west-1"}) == "eu-west-1"
    assert region_of("aws:s3/bucket:Bucket", {"region": "us-west-2"}, {"region": "eu-west-1"}) == "us-west-2"
    assert region_of("aws:s3/bucket:Bucket", {"region": "<computed>"}, {"region": "eu-west-1"}) == "eu-west-1"
    assert region_of("gcp:storage/bucket:Bucket", {"location": "eu"}, {"region": "us-central1"}) == "EU"
    assert region_of("gcp:storage/bucket:Bucket", {"location": "EUROPE-WEST4"}, None) == "europe-west4"
    assert region_of("gcp:compute/instanceGroupManager:InstanceGroupManager", {"zone": "us-central1-b"}, {"region": "x"}) == "us-central1"
    assert region_of("aws:s3/bucket:Bucket", {}, None) is None


def test_graph_finds_providers_links_and_referrers():
    default = _res("urn:p:default", "pulumi:providers:aws", {"region": "us-east-1"}, name="default_7_0_0")
    eu = _res("urn:p:eu", "pulumi:providers:aws", {"region": "eu-north-1"}, name="eu")
    template = _res("urn:lt", "aws:ec2/launchTemplate:LaunchTemplate")
    decoy = _res("urn:lt2", "aws:ec2/launchTemplate:LaunchTemplate")
    group = _res("urn:asg", "aws:autoscaling/group:Group", dependencies={"mixedInstancesPolicy": ["urn:lt"]}, provider="urn:p:eu")
    graph = Graph([default, eu, decoy, template, group])
    assert graph.template_of(group) is template
    assert graph.referrers(template, "aws:autoscaling/group:Group", "mixedInstancesPolicy") == [group]
    assert graph.referrers(decoy, "aws:autoscaling/group:Group", "mixedInstancesPolicy") == []
    assert graph.region(group) == "eu-north-1" and graph.region(template) == "us-east-1"
    # An explicit provider whose name merely starts with "default" is not the package's default provider.
    for order in (1, -1):
        named = _res("urn:p:named", "pulumi:providers:aws", {"region": "eu-west-3"}, name="default-eu")
        assert Graph([named, default, template][::order]).region(template) == "us-east-1"


EXPLICIT_EKS = """
import pulumi
import pulumi_aws as aws
from components.aws import AwsGpuCluster, AwsGpuClusterArgs
from gpucluster.validate import load_spec

spec, _ = load_spec({
    "name": "x", "cloud": "aws", "region": "eu-north-1", "zones": ["eu-north-1c", "eu-north-1a"], "kubernetes": {},
    "pools": [{"name": "train", "instanceType": "p5.48xlarge", "size": {"min": 1, "max": 2}, "zones": ["eu-north-1c"]}],
    "storage": {"shared": {"throughputGbps": 2}, "buckets": {"datasetSizeTb": 1}},
    "tags": {"owner": "a", "costCenter": "b", "project": "c"},
})
eu = aws.Provider("eu", region="eu-north-1")
AwsGpuCluster("x", AwsGpuClusterArgs(spec), opts=pulumi.ResourceOptions(providers=[eu]))
"""


def test_an_eks_cluster_under_an_explicit_provider_uses_it_and_its_own_cluster_provider(tmp_path):
    result = run(tmp_path, EXPLICIT_EKS)
    providers = sorted((r.type, r.name) for r in result.resources if r.type.startswith("pulumi:providers:"))
    assert providers == [("pulumi:providers:aws", "eu"), ("pulumi:providers:kubernetes", "x-workloads-cluster")]
    assert result.invokes and all(p and "::pulumi:providers:aws::eu::" in p for _, p in result.invokes)
    aws_resources = [r for r in result.resources if r.type.startswith("aws:")]
    assert all(r.provider and "::pulumi:providers:aws::eu::" in r.provider for r in aws_resources)
    cost = estimate(as_json(result)["resources"])
    assert cost["pools"]["train"]["gpus"]["max"] == 16 and "us-east-1" not in " ".join(u["reason"] for u in cost["unpriced"])
