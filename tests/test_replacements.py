"""The replacement rules (gpucluster/diff/data/replacements.yaml): every type our stacks emit has one, every path in
it is an input of that resource in the installed Pulumi SDK, and a few facts checked against the provider source."""

from __future__ import annotations

import importlib
import re
import sys

import pytest

from gpucluster.diff.replacements import data, forces_replacement, replacement_rule

# Every resource type the example stacks emit.
TYPES = """
aws:autoscaling/group:Group aws:cloudwatch/eventRule:EventRule aws:cloudwatch/eventTarget:EventTarget
aws:cloudwatch/logGroup:LogGroup aws:ec2/defaultSecurityGroup:DefaultSecurityGroup aws:ec2/eip:Eip aws:ec2/flowLog:FlowLog
aws:ec2/internetGateway:InternetGateway aws:ec2/launchTemplate:LaunchTemplate aws:ec2/natGateway:NatGateway
aws:ec2/placementGroup:PlacementGroup aws:ec2/route:Route aws:ec2/routeTable:RouteTable
aws:ec2/routeTableAssociation:RouteTableAssociation aws:ec2/securityGroup:SecurityGroup aws:ec2/subnet:Subnet
aws:ec2/vpc:Vpc aws:ec2/vpcEndpoint:VpcEndpoint aws:eks/addon:Addon aws:eks/cluster:Cluster aws:eks/nodeGroup:NodeGroup
aws:eks/accessEntry:AccessEntry aws:eks/accessPolicyAssociation:AccessPolicyAssociation
aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation aws:fsx/lustreFileSystem:LustreFileSystem
aws:iam/instanceProfile:InstanceProfile aws:iam/role:Role aws:iam/rolePolicy:RolePolicy
aws:iam/rolePolicyAttachment:RolePolicyAttachment aws:kms/alias:Alias aws:kms/key:Key aws:s3/bucket:Bucket
aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration aws:s3/bucketLogging:BucketLogging
aws:s3/bucketOwnershipControls:BucketOwnershipControls aws:s3/bucketPolicy:BucketPolicy
aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock
aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration
aws:s3/bucketVersioning:BucketVersioning aws:sqs/queue:Queue aws:sqs/queuePolicy:QueuePolicy
aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule
gcp:compute/firewall:Firewall gcp:compute/globalAddress:GlobalAddress gcp:compute/instanceGroupManager:InstanceGroupManager
gcp:compute/instanceTemplate:InstanceTemplate gcp:compute/regionInstanceTemplate:RegionInstanceTemplate
gcp:compute/network:Network gcp:compute/resourcePolicy:ResourcePolicy gcp:compute/router:Router
gcp:compute/routerNat:RouterNat gcp:compute/subnetwork:Subnetwork gcp:container/cluster:Cluster
gcp:container/nodePool:NodePool gcp:kms/cryptoKey:CryptoKey gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember
gcp:kms/keyRing:KeyRing gcp:lustre/instance:Instance gcp:projects/iAMMember:IAMMember gcp:serviceaccount/account:Account
gcp:servicenetworking/connection:Connection gcp:storage/bucket:Bucket gcp:storage/bucketIAMMember:BucketIAMMember
kubernetes:apps/v1:DaemonSet kubernetes:core/v1:ConfigMap kubernetes:core/v1:Namespace kubernetes:core/v1:PersistentVolume
kubernetes:core/v1:PersistentVolumeClaim kubernetes:helm.sh/v3:Release kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue
kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue kubernetes:kueue.x-k8s.io/v1beta2:ResourceFlavor
kubernetes:kueue.x-k8s.io/v1beta2:Topology kubernetes:mellanox.com/v1alpha1:NicClusterPolicy
kubernetes:networking.gke.io/v1:GKENetworkParamSet kubernetes:networking.gke.io/v1:Network
kubernetes:nv-ipam.nvidia.com/v1alpha1:IPPool kubernetes:sriovnetwork.openshift.io/v1:SriovNetwork
kubernetes:sriovnetwork.openshift.io/v1:SriovNetworkNodePolicy
""".split()

PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "kubernetes": "pulumi_kubernetes"}
SDK_MODULES = {"kubernetes:helm.sh/v3": "helm.v3"}  # a module the token does not spell


def args_class(token: str) -> type:
    """The input class of a resource in the installed SDK (CustomResourceArgs for a custom resource of a CRD)."""
    pkg, module, name = token.split(":")
    modpath = SDK_MODULES.get(f"{pkg}:{module}") or (module.replace("/", ".") if pkg == "kubernetes" else module.split("/")[0])
    try:
        resource = getattr(importlib.import_module(f"{PACKAGES[pkg]}.{modpath}"), name)
    except (ImportError, AttributeError):
        if pkg != "kubernetes":
            raise
        resource = importlib.import_module("pulumi_kubernetes.apiextensions.CustomResource").CustomResource
        name = "CustomResource"
    namespace = sys.modules[resource.__module__].__dict__
    source = open(sys.modules[resource.__module__].__file__, encoding="utf-8").read()
    assert name == "CustomResource" or f"'{token}'" in source or f'"{token}"' in source, f"{token}: not this SDK class"
    return namespace.get(f"{name}InitArgs") or namespace[f"{name}Args"]


def inputs(cls: type) -> dict[str, type | None]:
    """Pulumi input name -> nested input class (None for a scalar, list of scalars or map)."""
    namespace = sys.modules[cls.__module__].__dict__
    found: dict[str, type | None] = {}
    for attr in vars(cls).values():
        if isinstance(attr, property) and hasattr(attr.fget, "_pulumi_name"):
            refs = re.findall(r"ForwardRef\('([\w.]+Args)'\)", repr(attr.fget.__annotations__.get("return")))
            nested = None
            if refs:
                head, *rest = refs[0].split(".")
                nested = namespace.get(head)
                for part in rest:
                    nested = getattr(nested, part, None)
            found[attr.fget._pulumi_name] = nested
    return found


def resolve(token: str, path: str) -> type | None:
    """The input class at a Pulumi path (None for a leaf); KeyError when the path is not an input."""
    cls: type | None = args_class(token)
    for part in path.split("."):
        if cls is None:
            raise KeyError(f"{token}: {path}: {part} is under a scalar input")
        fields = inputs(cls)
        if part not in fields:
            raise KeyError(f"{token}: {path}: no input {part} (has {sorted(fields)})")
        cls = fields[part]
    return cls


def test_every_type_of_our_stacks_has_a_rule_with_its_source():
    assert len(TYPES) == 80
    for token in TYPES:
        assert token in data()["types"], token
        rule = replacement_rule(token)
        assert rule is not None and rule.paths, token
        repository = data()["sources"][data()["types"][token]["source"]]["repository"]
        assert repository in rule.source and data()["types"][token]["file"] in rule.source, token


def test_sources_name_a_repository_release_and_commit():
    for key, source in data()["sources"].items():
        assert "/" in source["repository"] and source["release"], key
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), key
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(source["read"])), key


@pytest.mark.parametrize("token", TYPES)
def test_every_listed_path_is_an_input_of_the_resource_in_the_sdk(token):
    entry = data()["types"][token]
    for path in entry["replace"] + [p for p, _ in replacement_rule(token).conditional]:
        resolve(token, path)
    for path in entry.get("blocks", []):
        assert resolve(token, path) is not None, f"{token}: {path} is listed as a block but is not an object input"


def test_rule_sources_and_facts_from_the_terraform_aws_provider():
    vpc = replacement_rule("aws:ec2/vpc:Vpc")
    assert "terraform-provider-aws" in vpc.source and "internal/service/ec2/vpc_.go" in vpc.source
    assert forces_replacement(vpc, "cidrBlock")  # cidr_block: ForceNew
    assert not forces_replacement(vpc, "enableDnsHostnames") and not forces_replacement(vpc, "tags.Name")
    subnet = replacement_rule("aws:ec2/subnet:Subnet")
    assert forces_replacement(subnet, "vpcId") and forces_replacement(subnet, "cidrBlock")
    assert not forces_replacement(subnet, "tags.Name") and not forces_replacement(subnet, "mapPublicIpOnLaunch")
    group = replacement_rule("aws:ec2/securityGroup:SecurityGroup")
    assert forces_replacement(group, "vpcId") and forces_replacement(group, "name")
    assert not forces_replacement(group, "ingress.fromPort")  # rules are updated in place
    template = replacement_rule("aws:ec2/launchTemplate:LaunchTemplate")  # a change is a new version, not a new template
    assert not forces_replacement(template, "instanceType") and not forces_replacement(template, "placement.groupName")
    assert forces_replacement(template, "name")
    bucket = replacement_rule("aws:s3/bucket:Bucket")
    assert forces_replacement(bucket, "bucket") and not forces_replacement(bucket, "tags.team")
    assert forces_replacement(replacement_rule("aws:eks/cluster:Cluster"), "name")
    assert not forces_replacement(replacement_rule("aws:eks/cluster:Cluster"), "version")  # an upgrade
    nodes = replacement_rule("aws:eks/nodeGroup:NodeGroup")
    assert forces_replacement(nodes, "instanceTypes") and not forces_replacement(nodes, "scalingConfig.desiredSize")
    assert not forces_replacement(nodes, "launchTemplate.version") and forces_replacement(nodes, "launchTemplate.id")
    assert "region" in replacement_rule("aws:ec2/vpc:Vpc").paths  # v6's injected region argument
    assert "region" not in replacement_rule("aws:iam/role:Role").paths  # global


def test_facts_from_the_terraform_google_provider():
    subnetwork = replacement_rule("gcp:compute/subnetwork:Subnetwork")
    assert "terraform-provider-google" in subnetwork.source
    # ip_cidr_range is not ForceNew: an expansion is an update, only a shrinkage replaces (CustomizeDiff).
    assert not forces_replacement(subnetwork, "ipCidrRange")
    assert "ipCidrRange" in dict(subnetwork.conditional)
    assert forces_replacement(subnetwork, "network") and forces_replacement(subnetwork, "name")
    template = replacement_rule("gcp:compute/instanceTemplate:InstanceTemplate")  # immutable
    assert forces_replacement(template, "machineType") and forces_replacement(template, "disks.diskSizeGb")
    assert forces_replacement(template, "metadata.startup-script") and forces_replacement(template, "labels.team")
    assert forces_replacement(replacement_rule("gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"), "machineType")
    pool = replacement_rule("gcp:container/nodePool:NodePool")
    assert forces_replacement(pool, "nodeConfig")  # the block added or removed
    assert not forces_replacement(pool, "nodeConfig.labels") and not forces_replacement(pool, "nodeConfig.machineType")
    assert forces_replacement(pool, "nodeConfig.guestAccelerators.type") and not forces_replacement(pool, "nodeCount")


def test_facts_from_pulumi_kubernetes():
    for token in ("kubernetes:apps/v1:DaemonSet", "kubernetes:core/v1:Namespace", "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue"):
        rule = replacement_rule(token)
        assert "pulumi-kubernetes" in rule.source and "diff.go" in rule.source
        assert forces_replacement(rule, "metadata.name") and forces_replacement(rule, "metadata.namespace")
        assert not forces_replacement(rule, "metadata.labels.app")
    daemonset = replacement_rule("kubernetes:apps/v1:DaemonSet")
    assert forces_replacement(daemonset, "spec.selector.matchLabels.app")
    assert not forces_replacement(daemonset, "spec.template.spec.containers.image")
    claim = replacement_rule("kubernetes:core/v1:PersistentVolumeClaim")
    assert forces_replacement(claim, "spec.storageClassName") and not forces_replacement(claim, "spec.resources.requests.storage")
    assert forces_replacement(replacement_rule("kubernetes:core/v1:PersistentVolume"), "spec.csi.volumeHandle")
    release = replacement_rule("kubernetes:helm.sh/v3:Release")
    assert "helm_release.go" in release.source and forces_replacement(release, "name")
    assert not forces_replacement(release, "values.replicas") and not forces_replacement(release, "version")
    # A kind not listed gets pulumi-kubernetes' generic rule.
    other = replacement_rule("kubernetes:example.com/v1:Widget")
    assert other.paths == ("metadata.name", "metadata.namespace")


def test_a_type_without_a_rule_and_path_matching():
    assert replacement_rule("custom:index:Thing") is None
    rule = replacement_rule("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert forces_replacement(rule, "accessScope") and forces_replacement(rule, "accessScope.namespaces")
    assert not forces_replacement(rule, "accessScopeX")  # a prefix of a name is not a parent path
