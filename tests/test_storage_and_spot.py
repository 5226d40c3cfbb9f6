"""TieredStorage, SpotTrainingPool, NodeIdentity and the reservation check, read from the previewed graph."""

from __future__ import annotations

import base64
import json

import pulumi
import pytest

from gpucluster.sizing import plan_lustre

from .helpers import of_type, one, pool, preview_spec, spec_with

ASG = "aws:autoscaling/group:Group"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
FSX = "aws:fsx/lustreFileSystem:LustreFileSystem"
BUCKET = "aws:s3/bucket:Bucket"

SPOT = spec_with(
    pools=[pool(size={"max": 4}, capacity={"type": "spot"}, checkpoint={"command": "pkill -USR1 trainer"})],
    storage={"scratch": {}, "shared": {"throughputGbpsPerGpu": 0.5}, "buckets": {}},
)


@pytest.fixture(scope="module")
def spot():
    return preview_spec(SPOT, preview=False)


def test_spot_pool_is_one_unit(spot):
    pool_component = one(spot, "gpucluster:aws:SpotTrainingPool")
    children = {r.type for r in spot.resources if r.parent == pool_component.urn}
    assert children == {"gpucluster:aws:GpuInstanceGroup", "aws:sqs/queue:Queue", "aws:sqs/queuePolicy:QueuePolicy",
                        "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget"}


def test_spot_group_distribution_and_hook(spot):
    asg = one(spot, ASG).inputs
    assert asg["minSize"] == 0, "spot pools scale to zero by default"
    assert asg["capacityRebalance"] is True
    distribution = asg["mixedInstancesPolicy"]["instancesDistribution"]
    assert distribution["spotAllocationStrategy"] == "price-capacity-optimized"
    assert (distribution["onDemandBaseCapacity"], distribution["onDemandPercentageAboveBaseCapacity"]) == (0, 0)
    assert asg["initialLifecycleHooks"] == [{"name": "checkpoint-before-termination", "heartbeatTimeout": 600,
                                             "lifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
                                             "defaultResult": "CONTINUE"}]
    assert "instanceMarketOptions" not in one(spot, LT).inputs


def test_on_demand_base_with_spot_above():
    spec = spec_with(pools=[pool(size={"max": 8}, capacity={"type": "on-demand", "fallback": ["spot"], "onDemandBase": 2})])
    distribution = one(preview_spec(spec), ASG).inputs["mixedInstancesPolicy"]["instancesDistribution"]
    assert (distribution["onDemandBaseCapacity"], distribution["onDemandPercentageAboveBaseCapacity"]) == (2, 0)


def test_interruption_signals_reach_an_encrypted_queue(spot):
    patterns = sorted(json.loads(r.inputs["eventPattern"])["detail-type"][0] for r in of_type(spot, "aws:cloudwatch/eventRule:EventRule"))
    assert patterns == ["EC2 Instance Rebalance Recommendation", "EC2 Spot Instance Interruption Warning"]
    queue = one(spot, "aws:sqs/queue:Queue")
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert {t.inputs["arn"] for t in of_type(spot, "aws:cloudwatch/eventTarget:EventTarget")} == {queue_arn(spot)}
    policy = json.loads(one(spot, "aws:sqs/queuePolicy:QueuePolicy").inputs["policy"])["Statement"][0]
    assert policy["Principal"] == {"Service": "events.amazonaws.com"} and policy["Action"] == "sqs:SendMessage"
    assert len(policy["Condition"]["ArnEquals"]["aws:SourceArn"]) == 2


def queue_arn(result):
    url = one(result, "aws:sqs/queuePolicy:QueuePolicy").inputs["queueUrl"]
    return f"arn:aws:sqs:us-east-1:123456789012:{url.rsplit('/', 1)[1]}"


def test_node_user_data_wires_scratch_fsx_and_watcher(spot):
    text = base64.b64decode(one(spot, LT).inputs["userData"]).decode()
    fsx = one(spot, FSX)
    assert 'EXPECTED_DISKS="8"' in text and 'SCRATCH_MOUNT="/scratch"' in text
    assert f'FSX_DNS="{fsx_dns(spot)}"' in text
    bucket = next(b for b in of_type(spot, BUCKET) if "checkpoints" in b.name)
    assert 'CHECKPOINT_COMMAND="pkill -USR1 trainer"' in text
    assert f'CHECKPOINT_DESTINATION="s3://{bucket_name(spot, bucket)}/t/train"' in text
    assert fsx.inputs["storageCapacity"] > 0


def fsx_dns(result):
    outputs = next(o for urn, o in result.component_outputs.items() if "TieredStorage" in urn)
    return outputs["fileSystemDnsName"]


def bucket_name(result, bucket):
    outputs = next(o for urn, o in result.component_outputs.items() if "TieredStorage" in urn)
    return outputs["checkpointBucket"] if "checkpoints" in bucket.name else outputs["datasetBucket"]


def test_fsx_is_sized_for_every_gpu_at_max(spot):
    fsx = one(spot, FSX).inputs
    expected = plan_lustre(0.5 * 1000 * 8 * 4)  # 4 nodes x 8 GPUs x 0.5 GB/s
    assert (fsx["storageCapacity"], fsx["perUnitStorageThroughput"]) == (expected.capacity_gib, expected.per_unit_mbps)
    assert fsx["deploymentType"] == "PERSISTENT_2" and fsx["dataCompressionType"] == "LZ4"
    assert fsx["kmsKeyId"].startswith("arn:aws:kms:")
    dra = one(spot, "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation").inputs
    assert dra["s3"]["autoImportPolicy"]["events"] == ["NEW", "CHANGED", "DELETED"]
    assert dra["dataRepositoryPath"].startswith("s3://t-storage-datasets-")


def test_lustre_ports_open_to_the_cluster_only(spot):
    rules = [r for r in of_type(spot, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if "-lustre-" in r.name]
    assert sorted({(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules}) == [(988, 988), (1018, 1023)]
    nodes_group = next(r for r in spot.resources if r.name == "t-net-nodes")
    lustre_group_ids = {r.inputs["securityGroupId"] for r in rules}
    sources = {r.inputs["referencedSecurityGroupId"] for r in rules}
    assert all("cidrIpv4" not in r.inputs for r in rules)
    assert len(sources) == 2 and lustre_group_ids < sources, "from the nodes group and from the file system itself"
    assert nodes_group.type == "aws:ec2/securityGroup:SecurityGroup"


def test_buckets_are_locked_down(spot):
    for access in of_type(spot, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        assert all(access.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    logs = next(b for b in of_type(spot, BUCKET) if b.name.endswith("-logs"))
    for encryption in of_type(spot, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"):
        rule = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
        # S3 delivers access logs only under its own keys; the data buckets use the cluster's key.
        assert rule["sseAlgorithm"] == ("AES256" if encryption.dependencies["bucket"] == [logs.urn] else "aws:kms")
    for policy in of_type(spot, "aws:s3/bucketPolicy:BucketPolicy"):
        statement = json.loads(policy.inputs["policy"])["Statement"][0]
        assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Every bucket is versioned, each through a versioning resource linked to it (not merely named like it).
    buckets = {b.urn: b.inputs["bucket"] for b in of_type(spot, BUCKET)}
    versioned = of_type(spot, "aws:s3/bucketVersioning:BucketVersioning")
    assert {buckets[v.dependencies["bucket"][0]] for v in versioned} == set(buckets.values())
    assert all(v.inputs["versioningConfiguration"]["status"] == "Enabled" for v in versioned)
    classes = {
        r.name: [t["storageClass"] for rule in r.inputs["rules"] for t in rule.get("transitions", [])]
        for r in of_type(spot, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    }
    assert classes == {"t-storage-datasets": ["INTELLIGENT_TIERING"], "t-storage-checkpoints": ["GLACIER_IR"], "t-storage-logs": []}
    assert one(spot, "aws:kms/key:Key").inputs["enableKeyRotation"] is True


def test_node_role_has_no_wildcard_actions(spot):
    policies = [json.loads(p.inputs["policy"]) for p in of_type(spot, "aws:iam/rolePolicy:RolePolicy")]
    actions = [a for policy in policies for s in policy["Statement"] for a in s["Action"]]
    assert actions and not [a for a in actions if "*" in a]
    assert one(spot, LT).inputs["iamInstanceProfile"]["arn"].startswith("arn:aws:iam::123456789012:instance-profile/")


def test_nodes_may_finish_lifecycle_actions_of_their_own_groups_only(spot):
    """By the groups' ARNs: a tag condition would also admit another stack's groups of a cluster with the same name."""
    (lifecycle,) = [p for p in of_type(spot, "aws:iam/rolePolicy:RolePolicy") if "lifecycle" in p.name]
    (statement,) = json.loads(lifecycle.inputs["policy"])["Statement"]
    group = one(spot, ASG).inputs["name"]
    assert statement["Resource"] == [f"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/{group}"]
    assert "Condition" not in statement


def test_fixed_physical_names_are_unique_per_stack():
    """Two stacks (or projects) with one cluster name must not share a KMS alias or a GCP service account id."""
    from gpucluster.preview.engine import run_program

    from .helpers import PROJECT

    config = {"aws:region": "us-east-1", "gpucluster:cluster": json.dumps(SPOT)}
    aliases = {stack: one(run_program(str(PROJECT.main), PROJECT.name, stack, config), "aws:kms/alias:Alias").inputs["name"]
               for stack in ("dev", "prod")}
    assert aliases == {"dev": "alias/gpucluster/gpucluster/dev/t", "prod": "alias/gpucluster/gpucluster/prod/t"}


def test_plain_cluster_creates_no_storage():
    result = preview_spec(spec_with())
    assert of_type(result, BUCKET) == [] and of_type(result, FSX) == []
    assert "userData" not in one(result, LT).inputs


def test_checkpoint_to_shared_file_system():
    spec = {**SPOT, "pools": [pool(size={"max": 4}, capacity={"type": "spot"}, checkpoint={"to": "shared"})]}
    text = base64.b64decode(one(preview_spec(spec, preview=False), LT).inputs["userData"]).decode()
    assert 'CHECKPOINT_DESTINATION="/fsx/checkpoints/train"' in text


RESERVED = spec_with(pools=[pool(capacity={"type": "reservation", "reservationId": "cr-0123456789abcdef0"})])


def test_reservation_is_read_and_matching_passes():
    result = preview_spec(RESERVED, preview=False, existing={
        "cr-0123456789abcdef0": {"instanceType": "p5.48xlarge", "availabilityZone": "us-east-1a"}})
    assert [r.type for r in result.reads] == ["aws:ec2/capacityReservation:CapacityReservation"]


@pytest.mark.parametrize(
    "reservation, message",
    [({"instanceType": "p4d.24xlarge", "availabilityZone": "us-east-1a"}, "has instance type p4d.24xlarge, the pool p5.48xlarge"),
     ({"instanceType": "p5.48xlarge", "availabilityZone": "us-east-1c"}, "has zone us-east-1c, the pool ['us-east-1a']")],
)
def test_reservation_of_another_type_or_zone_is_refused(reservation, message):
    with pytest.raises(pulumi.RunError, match=message.replace("[", r"\[").replace("]", r"\]")):
        preview_spec(RESERVED, preview=False, existing={"cr-0123456789abcdef0": reservation})


def test_offline_reservation_details_stay_unknown_and_unchecked():
    result = preview_spec(RESERVED)
    assert len(result.reads) == 1 and result.reads[0].inputs == {"id": "cr-0123456789abcdef0"}


def test_datasets_are_imported_not_exported_by_default(spot):
    """A node must not be able to delete the dataset: the file system only imports unless asked to export, and
    deleted dataset objects stay restorable as noncurrent versions for a week."""
    link = one(spot, "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation")
    assert set(link.inputs["s3"]) == {"autoImportPolicy"}
    datasets = next(b for b in of_type(spot, BUCKET) if "datasets" in b.name)
    lifecycle = next(r for r in of_type(spot, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
                     if r.dependencies["bucket"] == [datasets.urn])
    assert lifecycle.inputs["rules"][0]["noncurrentVersionExpiration"] == {"noncurrentDays": 7}


def test_dataset_export_is_opt_in():
    spec = spec_with(pools=SPOT["pools"], storage={"shared": {"throughputGbpsPerGpu": 0.5, "exportDatasets": True}})
    link = one(preview_spec(spec), "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation")
    assert link.inputs["s3"]["autoExportPolicy"]["events"] == ["NEW", "CHANGED", "DELETED"]


def test_gcp_fixed_ids_are_unique_per_stack():
    """The node service account and the Managed Lustre instance have ids of their own choosing: per stack."""
    from gpucluster.preview.engine import run_program

    from .helpers import PROJECT
    from .test_combinations import GCP_POOLS, GCP_SPEC

    spec = {**GCP_SPEC, "pools": [{**GCP_POOLS[0], "name": "small"}]}
    config = {"gcp:region": "us-central1", "gcp:project": "p", "gpucluster:cluster": json.dumps(spec)}
    graphs = {stack: run_program(str(PROJECT.main), PROJECT.name, stack, config) for stack in ("dev", "prod")}
    accounts = {s: one(g, "gcp:serviceaccount/account:Account").inputs["accountId"] for s, g in graphs.items()}
    lustre = {s: one(g, "gcp:lustre/instance:Instance").inputs["instanceId"] for s, g in graphs.items()}
    assert accounts["dev"] != accounts["prod"] and all(i.startswith("t-") and 6 <= len(i) <= 30 for i in accounts.values())
    assert lustre["dev"] != lustre["prod"] and all(i.startswith("t-storage-lustre-") and len(i) <= 63 for i in lustre.values())


def test_storage_key_has_an_explicit_policy(spot):
    """Known at preview (built from names), so scanners and the packs can read it; the node role uses the key only
    through S3 and FSx, and administrators manage it without using it."""
    policy = json.loads(one(spot, "aws:kms/key:Key").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["Administer"]["Principal"] == {"AWS": ["arn:aws:iam::123456789012:root"]}
    assert not {"kms:Decrypt", "kms:Encrypt"} & set(by_sid["Administer"]["Action"])
    role = next(r for r in of_type(spot, "aws:iam/role:Role") if r.name.endswith("nodes-role"))
    assert by_sid["NodesUseThroughStorage"]["Principal"] == {"AWS": [f"arn:aws:iam::123456789012:role/{role.inputs['name']}"]}
    assert by_sid["NodesUseThroughStorage"]["Condition"]["StringEquals"]["kms:ViaService"] == [
        "s3.us-east-1.amazonaws.com", "fsx.us-east-1.amazonaws.com"]


def test_named_key_administrators_replace_the_account_root():
    admin = "arn:aws:iam::123456789012:role/platform-admins"
    spec = spec_with(pools=SPOT["pools"], storage={"buckets": {}, "keyAdministrators": [admin]})
    policy = json.loads(one(preview_spec(spec), "aws:kms/key:Key").inputs["policy"])
    assert next(s for s in policy["Statement"] if s["Sid"] == "Administer")["Principal"] == {"AWS": [admin]}


def test_data_buckets_log_access_to_a_bucket_only_s3_logging_may_write(spot):
    logs = next(b for b in of_type(spot, BUCKET) if b.name.endswith("-logs"))
    data = [b for b in of_type(spot, BUCKET) if b is not logs]
    logging = of_type(spot, "aws:s3/bucketLogging:BucketLogging")
    assert sorted(l.dependencies["bucket"][0] for l in logging) == sorted(b.urn for b in data)
    assert all(l.dependencies["targetBucket"] == [logs.urn] for l in logging)
    policy = next(p for p in of_type(spot, "aws:s3/bucketPolicy:BucketPolicy") if p.dependencies["bucket"] == [logs.urn])
    grant = json.loads(policy.inputs["policy"])["Statement"][1]
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"} and grant["Action"] == "s3:PutObject"
    assert sorted(grant["Condition"]["ArnLike"]["aws:SourceArn"]) == sorted(f"arn:aws:s3:::{b.inputs['bucket']}" for b in data)
