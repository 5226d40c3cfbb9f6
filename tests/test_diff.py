"""The preview diff's engine semantics on small graphs: matching by URN and alias, replacement and its cascade
through property dependencies, resource options, provider changes, and when node groups roll."""

from __future__ import annotations

import copy

from gpucluster.diff.changes import changed_paths, diff_previews

STACK = "urn:pulumi:dev::proj::"
SUBNET, VPC = "aws:ec2/subnet:Subnet", "aws:ec2/vpc:Vpc"
LT, ASG, EKS = "aws:ec2/launchTemplate:LaunchTemplate", "aws:autoscaling/group:Group", "aws:eks/nodeGroup:NodeGroup"
MIG, TEMPLATE = "gcp:compute/instanceGroupManager:InstanceGroupManager", "gcp:compute/instanceTemplate:InstanceTemplate"
GKE_POOL, BUCKET = "gcp:container/nodePool:NodePool", "aws:s3/bucket:Bucket"


def res(type_, name, inputs, dependencies=None, options=None, provider=None):
    return {"urn": f"{STACK}{type_}::{name}", "type": type_, "name": name, "custom": True, "parent": None,
            "provider": provider, "inputs": inputs, "dependencies": dependencies or {}, "options": options or {}}


def provider(region):
    return {"urn": f"{STACK}pulumi:providers:aws::default_7_0_0", "type": "pulumi:providers:aws", "name": "default_7_0_0",
            "custom": True, "parent": None, "provider": None, "inputs": {"region": region}, "dependencies": {}, "options": {}}


def doc(*resources, region="us-east-1"):
    return {"stack": "dev", "resources": [provider(region), *resources]}


def change(diff, name):
    return next(c for c in diff["changes"] if c["name"] == name)


def network(cidr="10.0.0.0/16", subnet_cidr="10.0.0.0/20"):
    vpc = res(VPC, "vpc", {"cidrBlock": cidr})
    subnet = res(SUBNET, "subnet", {"cidrBlock": subnet_cidr, "vpcId": "<computed>"}, {"vpcId": [vpc["urn"]]})
    return vpc, subnet


def test_changed_paths_are_leaves_with_both_values():
    assert changed_paths({"a": {"b": [1, {"c": 2}]}, "t": {"x": 1}}, {"a": {"b": [1, {"c": 3}]}, "t": {"x": 1}}) == {
        "a.b[1].c": (2, 3)}
    assert changed_paths({"l": [1]}, {"l": [1, 2]}) == {"l": ([1], [1, 2])}  # a list that grows changes as a whole


def test_nothing_changes_between_equal_previews():
    diff = diff_previews(doc(*network()), doc(*network()))
    assert diff["summary"] == {"create": 0, "replace": 0, "update": 0, "delete": 0, "same": 3} and diff["changes"] == []


def test_replacement_cascades_through_property_dependencies():
    base, head = doc(*network()), doc(*network(cidr="10.1.0.0/16", subnet_cidr="10.0.0.0/20"))
    diff = diff_previews(base, head)
    assert change(diff, "vpc")["op"] == "replace"
    subnet = change(diff, "subnet")
    # Its own CIDR is unchanged, but its VPC is new, and vpcId forces replacement.
    assert subnet["op"] == "replace" and [r["path"] for r in subnet["replaceBecause"]] == ["vpcId"]
    assert subnet["changed"] == {"vpcId": {"before": "<computed>", "after": "<computed: vpc is replaced>"}}


def test_an_input_that_depends_on_other_resources_changes():
    vpc, subnet = network()
    other = res(VPC, "other", {"cidrBlock": "10.9.0.0/16"})
    moved = copy.deepcopy(subnet)
    moved["dependencies"] = {"vpcId": [other["urn"]]}
    diff = diff_previews(doc(vpc, other, subnet), doc(vpc, other, moved))
    assert change(diff, "subnet")["op"] == "replace"


def test_alias_continues_the_old_resource():
    vpc, subnet = network()
    renamed = copy.deepcopy(vpc)
    renamed["urn"], renamed["name"] = f"{STACK}{VPC}::main-vpc", "main-vpc"
    renamed["options"] = {"aliases": [vpc["urn"]]}
    moved = copy.deepcopy(subnet)
    moved["dependencies"] = {"vpcId": [renamed["urn"]]}
    diff = diff_previews(doc(vpc, subnet), doc(renamed, moved))
    assert diff["summary"]["create"] == diff["summary"]["delete"] == 0
    assert diff["summary"]["same"] == 3  # the subnet's link follows the alias: no change


def test_without_the_alias_a_rename_deletes_and_creates():
    vpc, _ = network()
    renamed = copy.deepcopy(vpc)
    renamed["urn"], renamed["name"] = f"{STACK}{VPC}::main-vpc", "main-vpc"
    diff = diff_previews(doc(vpc), doc(renamed))
    assert (diff["summary"]["create"], diff["summary"]["delete"]) == (1, 1)


def test_provider_region_change_replaces_everything_of_it():
    diff = diff_previews(doc(*network()), doc(*network(), region="us-west-2"))
    vpc = change(diff, "vpc")
    assert vpc["op"] == "replace" and vpc["replaceBecause"][0]["path"] == "provider region"


def test_replace_on_changes_option_and_delete_before_replace():
    base = res("custom:index:Thing", "thing", {"size": 1})
    head = res("custom:index:Thing", "thing", {"size": 2}, options={"replaceOnChanges": ["size"], "deleteBeforeReplace": True})
    diff = diff_previews(doc(base), doc(head))
    thing = change(diff, "thing")
    assert thing["op"] == "replace" and thing["replaceBecause"][0]["source"] == "resource option replaceOnChanges"
    assert "deleted before its replacement is created" in thing["flags"][0]["message"]
    # A type with no documented list is updated, not guessed to be replaced.
    plain = res("custom:index:Thing", "thing", {"size": 2})
    assert change(diff_previews(doc(base), doc(plain)), "thing")["op"] == "update"


def test_tags_update_in_place():
    vpc, subnet = network()
    tagged = copy.deepcopy(subnet)
    tagged["inputs"]["tags"] = {"team": "a"}
    diff = diff_previews(doc(vpc, subnet), doc(vpc, tagged))
    assert change(diff, "subnet")["op"] == "update" and change(diff, "subnet")["flags"] == []


def test_deleted_bucket_options():
    bucket = res(BUCKET, "data", {"forceDestroy": True})
    diff = diff_previews(doc(bucket), doc())
    assert [f["kind"] for f in change(diff, "data")["flags"]] == ["data-loss"]
    assert "forceDestroy deletes" in change(diff, "data")["flags"][0]["message"]
    retained = res(BUCKET, "data", {}, options={"retainOnDelete": True})
    assert [f["kind"] for f in change(diff_previews(doc(retained), doc()), "data")["flags"]] == ["orphan"]
    protected = res(BUCKET, "data", {}, options={"protect": True})
    assert [f["kind"] for f in change(diff_previews(doc(protected), doc()), "data")["flags"]] == ["blocked", "data-loss"]


def group_with_template(group_type, group_inputs, template_inputs, dependency="launchTemplate"):
    template = res(LT, "lt", template_inputs)
    group = res(group_type, "group", group_inputs, {dependency: [template["urn"]]})
    return template, group


def test_launch_template_update_rolls_an_asg_later_without_instance_refresh():
    asg = {"minSize": 4, "maxSize": 8, "launchTemplate": {"id": "<computed>", "version": "$Latest"}}
    base = doc(*group_with_template(ASG, asg, {"instanceType": "p5.48xlarge"}))
    head = doc(*group_with_template(ASG, asg, {"instanceType": "p5en.48xlarge"}))
    group = change(diff_previews(base, head), "group")
    assert group["op"] == "same"  # "$Latest": the group's own inputs do not change
    assert group["flags"][0]["when"] == "later" and "4 to 8 node(s), 4 always running" in group["flags"][0]["message"]
    refreshed = {**asg, "instanceRefresh": {"strategy": "Rolling", "preferences": {"minHealthyPercentage": 75}}}
    base = doc(*group_with_template(ASG, refreshed, {"instanceType": "p5.48xlarge"}))
    head = doc(*group_with_template(ASG, refreshed, {"instanceType": "p5en.48xlarge"}))
    flag = change(diff_previews(base, head), "group")["flags"][0]
    assert flag["when"] == "now" and "at least 75% kept healthy" in flag["message"]


def test_launch_template_update_rolls_an_eks_node_group_now():
    group = {"scalingConfig": {"minSize": 2, "desiredSize": 2, "maxSize": 2}, "updateConfig": {"maxUnavailable": 1},
             "launchTemplate": {"id": "<computed>", "version": "<computed>"}}
    base = doc(*group_with_template(EKS, group, {"userData": "a"}))
    head = doc(*group_with_template(EKS, group, {"userData": "b"}))
    change_ = change(diff_previews(base, head), "group")
    assert change_["op"] == "update" and change_["changed"]["launchTemplate"]["after"] == "<computed: new version of lt>"
    assert change_["flags"][0]["when"] == "now" and "1 at a time" in change_["flags"][0]["message"]


def mig(update_type):
    template = res(TEMPLATE, "tpl", {"machineType": "a3-megagpu-8g"})
    group = res(MIG, "group", {"targetSize": 4, "updatePolicy": {"type": update_type, "minimalAction": "REPLACE"},
                               "versions": [{"instanceTemplate": "<computed>"}]}, {"versions": [template["urn"]]})
    return template, group


def test_instance_template_change_rolls_a_mig_by_its_update_policy():
    for update_type, when in (("OPPORTUNISTIC", "later"), ("PROACTIVE", "now")):
        base = doc(*mig(update_type))
        template, group = mig(update_type)
        template["inputs"]["machineType"] = "a3-ultragpu-8g"
        diff = diff_previews(base, doc(template, group))
        assert change(diff, "tpl")["op"] == "replace"  # instance templates are immutable
        flag = next(f for f in change(diff, "group")["flags"] if f["kind"] == "rollout")
        assert flag["when"] == when, update_type


def test_gke_node_config_change_recreates_nodes_now():
    pool = {"nodeCount": 2, "upgradeSettings": {"maxSurge": 0, "maxUnavailable": 1, "strategy": "SURGE"},
            "nodeConfig": {"labels": {"a": "1"}, "machineType": "a3-ultragpu-8g"}}
    head_pool = copy.deepcopy(pool)
    head_pool["nodeConfig"]["labels"] = {"a": "2"}
    diff = diff_previews(doc(res(GKE_POOL, "pool", pool)), doc(res(GKE_POOL, "pool", head_pool)))
    flag = change(diff, "pool")["flags"][0]
    assert change(diff, "pool")["op"] == "update" and flag["when"] == "now" and "max unavailable 1" in flag["message"]


def test_disruptive_changes_sort_first_data_loss_before_rollouts():
    asg = {"minSize": 1, "maxSize": 1, "launchTemplate": {"id": "<computed>", "version": "$Latest"}}
    bucket = res(BUCKET, "data", {})
    base = doc(*group_with_template(ASG, asg, {"instanceType": "p5.48xlarge"}), bucket, res("custom:index:T", "t", {"a": 1}))
    head = doc(*group_with_template(ASG, asg, {"instanceType": "p5en.48xlarge"}), res("custom:index:T", "t", {"a": 2}))
    names = [c["name"] for c in diff_previews(base, head)["changes"]]
    assert names.index("data") < names.index("group") < names.index("t")


def test_a_change_the_provider_replaces_only_sometimes_is_flagged_as_possible():
    fsx = "aws:fsx/lustreFileSystem:LustreFileSystem"
    base = res(fsx, "shared", {"storageCapacity": 4800, "deploymentType": "PERSISTENT_2"})
    head = res(fsx, "shared", {"storageCapacity": 2400, "deploymentType": "PERSISTENT_2"})
    shared = change(diff_previews(doc(base), doc(head)), "shared")
    assert shared["op"] == "update"  # planned as an update, flagged: the provider replaces it when it shrinks
    flag = shared["flags"][0]
    assert flag["kind"] == "replace" and flag["message"].startswith("may be replaced: storageCapacity changed (")
    assert "shrinks" in flag["message"] and "terraform-provider-aws" in flag["source"]
