"""Cloud limits checked before anything runs (gpucluster.limits): each at its edge, against its source, and against
what the preview emits, which proves the check and the components build the same names and scripts."""

from __future__ import annotations

import base64
import copy
import json
import re

import pytest

from gpucluster import limits, naming, userdata
from gpucluster.catalog import load
from gpucluster.plan import node_setup
from gpucluster.preview.mocks import AUTONAMED, autoname
from gpucluster.problems import SpecError
from gpucluster.spec import ClusterSpec, Pool
from gpucluster.validate import load_spec

from .helpers import BASE_SPEC, pool, preview_spec, spec_with
from .test_botocore_enums import model
from .test_gcp import DOCS, preview_gcp

LIMITS = [value for value in vars(naming).values() if isinstance(value, naming.Limit)]
SPOT = {"capacity": {"type": "spot"}, "size": {"min": 0, "max": 2}}


def errors(spec: dict) -> dict[str, str]:
    """path -> message of every error, or {} when the spec loads."""
    try:
        load_spec(spec)
    except SpecError as exc:
        return {p.path: p.message for p in exc.problems}
    return {}


def gcp_spec(**changes) -> dict:
    spec = {"name": "g", "cloud": "gcp", "region": "us-central1", "zones": ["us-central1-b"],
            "pools": [{"name": "train", "instanceType": "g2-standard-24", "size": {"max": 2}}],
            "tags": {"owner": "team", "costCenter": "cc-1", "project": "proj"}}
    return {**spec, **copy.deepcopy(changes)}


# Names -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cloud, options, label", [
    ("aws", {"spot": True}, "EventBridge rule"),
    ("gcp", {}, "managed instance group"),
    ("gcp", {"compact": True}, "resource policy"),
])
def test_names_at_the_budget_pass_and_one_character_more_fails(cloud, options, label):
    budget, limit = naming.pool_budget(cloud, **options)
    assert limit.label == label
    for extra in (0, 1):
        cluster, pool_name = "c" * (budget - 30), "p" * (30 + extra)
        if cloud == "aws":
            spec = spec_with(name=cluster, pools=[pool(name=pool_name, **SPOT)])
        else:
            kind = "a3-ultragpu-8g" if options else "g2-standard-24"  # compact placement for the fabric type only
            capacity = {"capacity": {"type": "spot"}} if options else {}  # A3 Ultra: not sold on demand
            spec = gcp_spec(name=cluster, pools=[{"name": pool_name, "instanceType": kind, "size": {"max": 2}, **capacity}])
        found = errors(spec)
        if extra:
            assert f"makes the {label} name" in found["pools[0].name"], found
            assert "Shorten pools[0].name to at most 30 characters" in found["pools[0].name"]
        else:
            assert found == {}


def test_the_schema_states_the_budgets():
    for field in (Pool.model_fields["name"], ClusterSpec.model_fields["name"]):
        for cloud, options in (("aws", {"spot": True}), ("gcp", {}), ("gcp", {"compact": True})):
            assert f"{naming.pool_budget(cloud, **options)[0]} characters" in field.description
    assert naming.pool_budget("aws")[0] >= 64  # "other AWS pools, 64": two names of 32 always fit


@pytest.mark.parametrize("cloud, name, label", [
    ("aws", "sg-prod", "security group"), ("aws", "xn--ml", "S3 bucket"), ("gcp", "google-ml", "Cloud Storage bucket"),
])
def test_cluster_names_the_cloud_refuses(cloud, name, label):
    spec = spec_with(name=name) if cloud == "aws" else gcp_spec(name=name)
    assert f"makes the {label} name" in errors(spec)["name"]


def test_every_limit_is_autonamed_exactly_when_the_preview_autonames_it():
    for limit in LIMITS:
        assert limit.autonamed == (AUTONAMED.get(limit.type) == limit.prop), limit.label


AWS_SOURCES = [  # limit, service, shape or request.member: its max, or "up to N" in its documentation
    (naming.EVENT_RULE, "events", "PutRuleRequest.Name"),
    (naming.SQS_QUEUE, "sqs", "CreateQueueRequest.QueueName"),
    (naming.IAM_ROLE, "iam", "CreateRoleRequest.RoleName"),
    (naming.INSTANCE_PROFILE, "iam", "CreateInstanceProfileRequest.InstanceProfileName"),
    (naming.LAUNCH_TEMPLATE, "ec2", "LaunchTemplateName"),
    (naming.AUTO_SCALING_GROUP, "autoscaling", "CreateAutoScalingGroupType.AutoScalingGroupName"),
    (naming.SECURITY_GROUP, "ec2", "CreateSecurityGroupRequest.GroupName"),
    (naming.PLACEMENT_GROUP, "ec2", "CreatePlacementGroupRequest.GroupName"),
]


@pytest.mark.parametrize("limit, service, where", AWS_SOURCES, ids=lambda v: getattr(v, "label", None))
def test_aws_name_limits_are_botocores(limit, service, where):
    structure, _, member = where.partition(".")
    shape = model(service).shape_for(structure)
    shape = shape.members[member] if member else shape
    documented = shape.metadata.get("max") or int(re.search(r"[Uu]p to (\d+)", shape.documentation).group(1))
    assert limit.max_length == documented


def test_capacity_block_limit_is_botocores():
    doc = model("ec2").shape_for("DescribeCapacityBlockOfferingsRequest").members["InstanceCount"].documentation
    assert f"Each Capacity Block can have up to {limits.CAPACITY_BLOCK_MAX} instances" in doc


def test_gcp_name_limits_are_the_discovery_documents():
    compute = json.loads((DOCS / "compute.v1.json").read_text())["schemas"]
    base = compute["InstanceGroupManager"]["properties"]["baseInstanceName"]["description"]
    assert f"maximum character length is {naming.GCE_BASE_INSTANCE_NAME.max_length}" in base
    assert naming.GCE_RESOURCE_POLICY.pattern == compute["ResourcePolicy"]["properties"]["name"]["pattern"]
    account = json.loads((DOCS / "iam.v1.json").read_text())["schemas"]["CreateServiceAccountRequest"]
    assert f"6-{naming.SERVICE_ACCOUNT.max_length} characters" in account["properties"]["accountId"]["description"]
    kms = json.loads((DOCS / "cloudkms.v1.json").read_text())["resources"]["projects"]["resources"]["locations"]["resources"]
    assert f"{naming.KMS_KEY_RING.pattern[:-1]}{{1,{naming.KMS_KEY_RING.max_length}}}" in (
        kms["keyRings"]["methods"]["create"]["parameters"]["keyRingId"]["description"])


def test_template_prefix_limit_is_the_providers():
    import pulumi_gcp

    doc = pulumi_gcp.compute.InstanceTemplateArgs.name_prefix.__doc__
    assert f"Max length is {naming.GCE_TEMPLATE_PREFIX.max_length} characters" in doc


# What validation computes is what the preview emits ------------------------------------------------------------

AWS_FULL = spec_with(
    name="a" * 20,
    pools=[pool(name="s" * 22, **SPOT, checkpoint={"command": "/opt/train/save"}), pool(name="o" * 30)],
    storage={"scratch": {}, "shared": {"throughputGbps": 10}, "buckets": {}},
    tags={**BASE_SPEC["tags"], "extra": {f"k{i}": "v" for i in range(naming.extra_tags_allowed("aws"))}},
)
GCP_FULL = gcp_spec(
    name="g" * 20,
    pools=[{"name": "u" * 26, "instanceType": "a3-ultragpu-8g", "size": {"max": 2}, "capacity": {"type": "spot"}},  # compact; host-2 and RDMA networks
           {"name": "m" * 26, "instanceType": "a3-megagpu-8g", "size": {"max": 2}, "capacity": {"type": "spot"}},  # GPU VPCs
           {"name": "g" * 30, "instanceType": "g2-standard-24", "size": {"max": 2}}],
    storage={"scratch": {}, "shared": {"throughputGbps": 10}},
    tags={"owner": "team", "costCenter": "cc-1", "project": "proj",
          "extra": {f"k{i}": "v" for i in range(naming.extra_tags_allowed("gcp"))}},
)


@pytest.fixture(scope="module", params=["aws", "gcp"])
def full(request):
    """A spec with every resource kind, its longest names at their limits, run through the preview in update mode
    (so the node scripts are rendered with the values the deploy fills in)."""
    if request.param == "aws":
        return AWS_FULL, preview_spec(AWS_FULL, preview=False)
    return GCP_FULL, preview_gcp(GCP_FULL, preview=False)


def test_names_validation_computes_are_those_the_preview_emits(full):
    raw, result = full
    spec, _ = load_spec(raw)
    predicted: dict[naming.Limit, list[str]] = {}
    for _, _, names in limits.spec_names(spec):
        for limit, name in names:
            predicted.setdefault(limit, []).append(name)
    kinds = {limit for limit in LIMITS if limit.type.startswith(spec.cloud)}
    assert set(predicted) == kinds  # every kind of the cloud is checked, and the spec creates each
    for limit, names in predicted.items():
        emitted = [r.inputs[limit.prop] for r in result.resources if r.type == limit.type]
        for name in names:
            if limit in (naming.SERVICE_ACCOUNT, naming.LUSTRE_INSTANCE):  # end in a digest of the project and stack, which a spec does not hold
                assert [(len(e), e.rsplit("-", 1)[0]) for e in emitted] == [(len(name), name.rsplit("-", 1)[0])]
                continue
            assert (autoname(limit.type, name) if limit.autonamed else name) in emitted, (limit.label, name, emitted)
        assert max(map(len, emitted)) == max(len(limit.physical(name)) for name in names), limit.label
    binding = naming.pool_budget(spec.cloud, spot=spec.cloud == "aws")[1]
    assert max(len(r.inputs[binding.prop]) for r in result.resources if r.type == binding.type) == binding.max_length


def test_the_most_tagged_resource_has_the_most_tags_allowed(full):
    raw, result = full
    key = "tags" if raw["cloud"] == "aws" else "labels"
    assert max(len(r.inputs.get(key) or ()) for r in result.resources) == naming.TAGS_PER_RESOURCE[raw["cloud"]][0]
    more = copy.deepcopy(raw)
    more["tags"]["extra"]["one-more"] = "v"
    assert f"Keep at most {naming.extra_tags_allowed(raw['cloud'])} extra tags" in errors(more)["tags.extra"]


def _scripts(spec: ClusterSpec, result) -> dict[int, str]:
    """pools[i] -> its rendered user data (AWS, base64 in the launch template) or startup script (GCP)."""
    out = {}
    for i, p in enumerate(spec.pools):
        group = naming.pool_group(spec.name, p.name)
        for r in result.resources:
            if spec.cloud == "aws" and r.type == naming.LAUNCH_TEMPLATE.type and r.inputs["name"].startswith(group + "-"):
                out[i] = base64.b64decode(r.inputs.get("userData", "")).decode()
            elif r.type == naming.GCE_TEMPLATE_PREFIX.type and r.inputs["namePrefix"] == naming.template_prefix(group):
                out[i] = r.inputs["metadata"].get("startup-script", "")
    return out


def test_the_checked_script_is_the_deployed_one_with_unknowns_at_their_longest(full):
    raw, result = full
    spec, _ = load_spec(raw)
    scripts = _scripts(spec, result)
    assert set(scripts) == set(range(len(spec.pools)))  # every pool of these specs has a script
    for i, script in scripts.items():
        setup = node_setup(spec, spec.pools[i], load(spec.cloud)[spec.pools[i].instance_type])
        dns = mount = None
        if setup.shared_mount:  # what the deploy filled in, in place of the longest values
            dns, mount = (re.search(rf'{key}="([^"]*)"', script).group(1) for key in ("FSX_DNS", "FSX_MOUNT_NAME"))
            longest_dns, longest_mount = limits.SHARED_UNKNOWNS[spec.cloud]
            assert len(dns) <= len(longest_dns) and len(mount) <= len(longest_mount)
        bucket = naming.bucket(naming.storage(spec.name), "checkpoints")
        deployed = script.replace(autoname(naming.S3_BUCKET.type if spec.cloud == "aws" else naming.GCS_BUCKET.type, bucket),
                                  bucket + naming.AUTONAME_SUFFIX)
        assert userdata.node_script(setup, dns, mount, bucket + naming.AUTONAME_SUFFIX) == deployed, f"pools[{i}]"
        assert len(limits.longest_node_script(spec, setup)) >= len(deployed)


# User data -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [
    spec_with(pools=[pool(**SPOT, checkpoint={"command": "x" * 20_000})]),
    gcp_spec(pools=[{"name": "train", "instanceType": "g2-standard-24", "size": {"max": 2}, "capacity": {"type": "spot"},
                     "checkpoint": {"command": "x" * 20_000}}]),
], ids=["aws", "gcp"])
def test_a_huge_checkpoint_command_is_refused(spec):
    assert "too large (user data is" in errors(spec)["pools[0].checkpoint.command"]


def test_a_command_the_node_never_runs_is_not_counted():
    assert errors(spec_with(pools=[pool(checkpoint={"command": "x" * 20_000})])) == {}  # on demand: no watcher


def test_the_limit_counts_the_file_system_at_its_longest(monkeypatch):
    spec = spec_with(pools=[pool(**SPOT)], storage={"scratch": {}, "shared": {"throughputGbps": 10}})
    instance = load("aws")["p5.48xlarge"]
    loaded = load_spec(spec)[0]
    size = len(limits.longest_node_script(loaded, node_setup(loaded, loaded.pools[0], instance)).encode())
    monkeypatch.setattr(userdata, "EC2_USER_DATA_LIMIT", size)
    assert errors(spec) == {}
    monkeypatch.setattr(userdata, "EC2_USER_DATA_LIMIT", size - 1)
    assert f"user data is {size} bytes" in errors(spec)["pools[0].checkpoint.directory"]  # the longest free text in it


# Tags ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("owner, bad", [("team (ml)", "("), ("team#1", "#"), ("Zoë @ ml: a/b=c+d_e.f", None)])
def test_aws_tag_characters(owner, bad):
    found = errors(spec_with(tags={**BASE_SPEC["tags"], "owner": owner}))
    assert (f"'{bad}' in tag owner" in found["tags.owner"]) if bad else found == {}


def test_aws_tag_keys_are_checked_too():
    assert "'#' in tag team#=" in errors(spec_with(tags={**BASE_SPEC["tags"], "extra": {"team#": "a"}}))["tags.extra.team#"]


@pytest.mark.parametrize("tags, path, reason", [
    ({"owner": "Team"}, "tags.owner", "'T' in label owner"),
    ({"extra": {"9lives": "a"}}, "tags.extra.9lives", "does not start with a letter"),
    ({"extra": {"k": "v" * 64}}, "tags.extra.k", "longer than 63 characters"),
    ({"extra": {"team_a": "x-1"}}, None, None),
])
def test_gcp_labels(tags, path, reason):
    found = errors(gcp_spec(tags={"owner": "team", "costCenter": "cc-1", "project": "proj", **tags}))
    assert (reason in found[path]) if path else found == {}


# Images, capacity blocks, zones ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cloud, image, ok", [
    ("aws", "ami-0123abcd", True), ("aws", "ami-0123456789abcdef0", True), ("aws", "resolve:ssm:/my/ami:3", True),
    ("aws", "ami-0123", False), ("aws", "ami-0123456789ABCDEF0", False), ("aws", "projects/p/global/images/i", False),
    ("gcp", "projects/p-1/global/images/family/ubuntu", True), ("gcp", "global/images/img-1", True),
    ("gcp", "https://www.googleapis.com/compute/v1/projects/p-1/global/images/img", True),
    ("gcp", "ami-0123456789abcdef0", False), ("gcp", "projects/p-1/images/img", False),
])
def test_image_ids(cloud, image, ok):
    spec = spec_with(pools=[pool(imageId=image)]) if cloud == "aws" else gcp_spec(
        pools=[{"name": "train", "instanceType": "g2-standard-24", "size": {"max": 2}, "imageId": image}])
    assert ("pools[0].imageId" not in errors(spec)) == ok


@pytest.mark.parametrize("size, ok", [(64, True), (65, False)])
def test_a_capacity_block_holds_64_instances(size, ok):
    block = {"type": "capacity-block", "reservationId": "cr-0123456789abcdef0"}
    found = errors(spec_with(pools=[pool(capacity=block, size={"min": size, "max": size})]))
    assert ("holds at most 64" in found["pools[0].size.max"]) if not ok else found == {}


def test_a_pool_zone_listed_twice():
    found = errors(spec_with(pools=[pool(instanceType="g5.xlarge", zones=["us-east-1a", "us-east-1a"])]))
    assert found == {"pools[0].zones[1]": "'us-east-1a' is already pools[0].zones[0]; list each zone once"}
