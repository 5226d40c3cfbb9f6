"""Provider-shaped answers for resources and invokes, as the AWS provider would give them.

In preview mode a resource's computed outputs stay unknown, as in `pulumi preview`, except the
names the engine assigns during its check step (autonaming). In update mode ids and ARNs are shaped
like the real ones, deterministic so that two runs of one program agree.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi

from ..catalog import load

ACCOUNT_ID = "123456789012"
PROJECT_NUMBER = "123456789012"  # GCP

# Resources whose name the AWS provider derives from the logical name when none is given: type -> property.
AUTONAMED = {
    "aws:autoscaling/group:Group": "name",
    "aws:cloudwatch/eventRule:EventRule": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:ec2/launchTemplate:LaunchTemplate": "name",
    "aws:eks/cluster:Cluster": "name",
    "aws:eks/nodeGroup:NodeGroup": "nodeGroupName",
    "aws:ec2/placementGroup:PlacementGroup": "name",
    "aws:ec2/securityGroup:SecurityGroup": "name",
    "aws:iam/instanceProfile:InstanceProfile": "name",
    "aws:iam/role:Role": "name",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:sqs/queue:Queue": "name",
    "gcp:compute/firewall:Firewall": "name",
    "gcp:compute/globalAddress:GlobalAddress": "name",
    "gcp:compute/instanceGroupManager:InstanceGroupManager": "name",
    "gcp:compute/network:Network": "name",
    "gcp:compute/resourcePolicy:ResourcePolicy": "name",
    "gcp:compute/router:Router": "name",
    "gcp:compute/routerNat:RouterNat": "name",
    "gcp:compute/subnetwork:Subnetwork": "name",
    "gcp:kms/cryptoKey:CryptoKey": "name",
    "gcp:kms/keyRing:KeyRing": "name",
    "gcp:storage/bucket:Bucket": "name",
}

# EC2 id prefixes, and the ARN resource kind where the type has an ARN.
_EC2_IDS: dict[str, tuple[str, str | None]] = {
    "aws:ec2/vpc:Vpc": ("vpc", "vpc"),
    "aws:ec2/subnet:Subnet": ("subnet", "subnet"),
    "aws:ec2/routeTable:RouteTable": ("rtb", "route-table"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("rtbassoc", None),
    "aws:ec2/route:Route": ("r", None),
    "aws:ec2/internetGateway:InternetGateway": ("igw", "internet-gateway"),
    "aws:ec2/natGateway:NatGateway": ("nat", "natgateway"),
    "aws:ec2/eip:Eip": ("eipalloc", "elastic-ip"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("vpce", "vpc-endpoint"),
    "aws:ec2/securityGroup:SecurityGroup": ("sg", "security-group"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("sgr", "security-group-rule"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("sgr", "security-group-rule"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("lt", "launch-template"),
}


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def autoname(type_: str, name: str) -> str:
    return f"{name}-{_digest(type_, name, length=7)}"


class PreviewMocks(pulumi.runtime.Mocks):
    def __init__(self, region: str, preview: bool, existing: dict[str, dict[str, Any]] | None = None, project: str = ""):
        self.region = region
        self.project = project  # GCP
        self.preview = preview
        self.existing = existing or {}
        self.invokes: list[tuple[str, str | None]] = []  # (token, explicit provider reference) of every invoke

    def read(self, type_: str, resource_id: str) -> dict[str, Any]:
        """State of an existing resource the program reads; empty (so unknown) unless the caller supplied it."""
        return self.existing.get(resource_id, {})

    def check(self, type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """What the provider's check step adds to the inputs: the autonamed name."""
        name_property = AUTONAMED.get(type_)
        if name_property and not inputs.get(name_property):
            return {name_property: autoname(type_, name)}
        return {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        """Returns the id and the computed outputs that add to the resource's inputs."""
        computed = self.check(args.typ, args.name, args.inputs)
        name_property = AUTONAMED.get(args.typ)
        name = computed.get(name_property) or args.inputs.get(name_property or "name")
        if self.preview:
            return "", computed
        if args.typ.startswith("gcp:"):
            return self._gcp(args.typ, name or args.name, {**args.inputs, **computed}, computed)
        resource_id = self._resource_id(args.typ, args.name, name)
        computed.update(self._computed(args.typ, resource_id, name))
        return resource_id, computed

    def _gcp(self, type_: str, name: str, inputs: dict[str, Any], computed: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Ids, self links and emails shaped as the Google provider returns them."""
        project, region = self.project, inputs.get("region") or self.region
        kind = type_.split(":")[-1]
        if type_ == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
            return f"projects/{project}/serviceAccounts/{email}", {**computed, "email": email, "member": f"serviceAccount:{email}"}
        if type_ == "gcp:kms/keyRing:KeyRing":
            ring = f"projects/{project}/locations/{inputs.get('location')}/keyRings/{name}"
            return ring, computed
        if type_ == "gcp:kms/cryptoKey:CryptoKey":
            return f"{inputs.get('keyRing')}/cryptoKeys/{name}", computed
        if type_ == "gcp:lustre/instance:Instance":
            return name, {**computed, "mountPoint": f"10.251.0.2@tcp:/{inputs.get('filesystem')}"}
        if type_ == "gcp:compute/globalAddress:GlobalAddress":
            return name, {**computed, "address": "10.251.0.0"}
        if type_.startswith("gcp:compute/"):
            scope = {"Network": "global/networks", "Firewall": "global/firewalls", "InstanceTemplate": "global/instanceTemplates",
                     "InstanceGroupManager": f"zones/{inputs.get('zone')}/instanceGroupManagers"}.get(kind, f"regions/{region}/{kind[0].lower() + kind[1:]}s")
            link = f"https://www.googleapis.com/compute/v1/projects/{project}/{scope}/{name}"
            extra = {"selfLink": link}
            if kind == "InstanceTemplate":
                extra["selfLinkUnique"] = f"{link}?uniqueId={_digest(link, length=12)}"
            return f"projects/{project}/{scope}/{name}", {**computed, **extra}
        return name, computed

    def _resource_id(self, type_: str, name: str, physical_name: str | None) -> str:
        if type_ in _EC2_IDS:
            return f"{_EC2_IDS[type_][0]}-{_digest(type_, name)}"
        if type_ == "aws:fsx/lustreFileSystem:LustreFileSystem":
            return f"fs-{_digest(type_, name)}"
        return physical_name or f"{name}-{_digest(type_, name, length=8)}"

    def _computed(self, type_: str, resource_id: str, name: str | None) -> dict[str, Any]:
        arn_kind = _EC2_IDS.get(type_, (None, None))[1]
        if arn_kind:
            return {"arn": f"arn:aws:ec2:{self.region}:{ACCOUNT_ID}:{arn_kind}/{resource_id}", "ownerId": ACCOUNT_ID}
        if type_ == "aws:autoscaling/group:Group":
            return {
                "arn": f"arn:aws:autoscaling:{self.region}:{ACCOUNT_ID}:autoScalingGroup:"
                f"{_digest(resource_id, length=8)}:autoScalingGroupName/{name}"
            }
        if type_ == "aws:s3/bucket:Bucket":
            return {"arn": f"arn:aws:s3:::{name}"}
        if type_ == "aws:kms/key:Key":
            key_id = f"{_digest(resource_id, length=8)}-{_digest(resource_id, 'k', length=4)}-preview"
            return {"arn": f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{key_id}", "keyId": key_id}
        if type_ in ("aws:iam/role:Role", "aws:iam/instanceProfile:InstanceProfile"):
            kind = "role" if type_.endswith("Role") else "instance-profile"
            return {"arn": f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{name}"}
        if type_ == "aws:cloudwatch/eventRule:EventRule":
            return {"arn": f"arn:aws:events:{self.region}:{ACCOUNT_ID}:rule/{name}"}
        if type_ == "aws:sqs/queue:Queue":
            return {"arn": f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{name}", "url": f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT_ID}/{name}"}
        if type_ == "aws:fsx/lustreFileSystem:LustreFileSystem":
            return {"dnsName": f"{resource_id}.fsx.{self.region}.amazonaws.com", "mountName": _digest(resource_id, length=8)}
        if type_ == "aws:eks/cluster:Cluster":
            # The shapes DescribeCluster returns: an API endpoint per cluster, the CA bundle, the security group EKS makes.
            return {"arn": f"arn:aws:eks:{self.region}:{ACCOUNT_ID}:cluster/{name}",
                    "endpoint": f"https://{_digest(resource_id, length=32).upper()}.gr7.{self.region}.eks.amazonaws.com",
                    "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
                    "vpcConfig": {"clusterSecurityGroupId": f"sg-{_digest(resource_id, 'cluster')}"}}
        if type_ == "aws:ec2/placementGroup:PlacementGroup":
            return {"arn": f"arn:aws:ec2:{self.region}:{ACCOUNT_ID}:placement-group/{name}", "placementGroupId": f"pg-{_digest(resource_id)}"}
        return {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.invokes.append((args.token, args.provider or None))
        region = args.args.get("region") or self.region
        if args.token == "aws:index/getRegion:getRegion":
            return {"id": region, "name": region, "region": region, "endpoint": f"ec2.{region}.amazonaws.com"}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "id": ACCOUNT_ID,
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/preview/offline",
                "userId": "AROAPREVIEWOFFLINE:offline",
            }
        if args.token == "aws:index/getPartition:getPartition":
            return {"id": "aws", "partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            # Zone names where the catalog records any accelerated type; zone ids are account-independent
            # facts the catalog does not carry, so none are made up.
            zones = sorted({z for t in load("aws") for z in t.zones.get(region, ())})
            return {"id": region, "names": zones}
        if args.token == "gcp:organizations/getProject:getProject":
            return {"id": f"projects/{self.project}", "projectId": self.project, "name": self.project, "number": PROJECT_NUMBER}
        if args.token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
            email = f"service-{PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
            return {"id": email, "emailAddress": email, "member": f"serviceAccount:{email}"}
        raise NotImplementedError(
            f"the offline preview has no answer for the invoke {args.token}; "
            "add one to gpucluster/preview/mocks.py or run the Pulumi CLI"
        )
