"""ClusterNetwork: the VPC a GPU cluster lives in, with its EFA security group and placement groups."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from gpucluster import naming
from gpucluster.plan import AddressPlan


@dataclass
class ClusterNetworkArgs:
    region: str
    addresses: AddressPlan
    nat: bool
    tags: dict[str, str]
    placement_group_pools: list[str] = field(default_factory=list)  # pools that get a cluster placement group
    flow_log_retention_days: int = 365


class ClusterNetwork(pulumi.ComponentResource):
    """VPC with one private subnet per zone, NAT egress, an S3 gateway endpoint and the EFA security group.

    The EFA security group allows all traffic in and out to itself and nothing else: EFA's OS-bypass traffic
    needs exactly that, and anything wider is exposure. Internet egress goes through the separate nodes group.
    """

    vpc_id: pulumi.Output[str]
    private_subnet_ids: dict[str, pulumi.Output[str]]
    efa_security_group_id: pulumi.Output[str]
    nodes_security_group_id: pulumi.Output[str]
    placement_groups: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ClusterNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:aws:ClusterNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def tags(suffix: str) -> dict[str, str]:
            return {**args.tags, "Name": f"{name}-{suffix}"}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.addresses.vpc,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=tags("vpc"),
            opts=child,
        )
        # The VPC's default group, adopted with no rules: nothing should use it, and nothing it admits.
        aws.ec2.DefaultSecurityGroup(f"{name}-default", vpc_id=vpc.id, tags=tags("default"), opts=child)
        self._flow_logs(name, args, vpc, tags, child)
        private_routes = aws.ec2.RouteTable(f"{name}-private", vpc_id=vpc.id, tags=tags("private"), opts=child)
        self.private_subnet_ids = {}
        for zone, cidr in args.addresses.private.items():
            subnet = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=tags(f"private-{zone}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=subnet.id, route_table_id=private_routes.id, opts=child
            )
            self.private_subnet_ids[zone] = subnet.id

        if args.nat:
            self._nat_egress(name, args, vpc, private_routes, tags, child)

        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[private_routes.id],
            tags=tags("s3"),
            opts=child,
        )

        efa = aws.ec2.SecurityGroup(
            naming.security_group(name, "efa"),
            vpc_id=vpc.id,
            description="EFA: all traffic to and from members of this group only",
            tags=tags("efa"),
            opts=child,
        )
        for direction in ("in", "out"):
            _allow_all(
                f"{name}-efa-{direction}-self", direction, efa.id, "EFA traffic within the group", args.tags, child,
                referenced_security_group_id=efa.id,
            )
        nodes = aws.ec2.SecurityGroup(
            naming.security_group(name, "nodes"),
            vpc_id=vpc.id,
            description="GPU nodes: outbound only (packages, S3, container registries); no inbound",
            tags=tags("nodes"),
            opts=child,
        )
        _allow_all(
            f"{name}-nodes-out", "out", nodes.id, "Outbound through NAT and the S3 endpoint", args.tags, child,
            cidr_ipv4="0.0.0.0/0",
        )

        self.placement_groups = {
            pool: aws.ec2.PlacementGroup(
                naming.placement_group(name, pool), strategy="cluster", tags=tags(f"{pool}-placement"), opts=child
            ).name
            for pool in args.placement_group_pools
        }
        self.vpc_id = vpc.id
        self.efa_security_group_id = efa.id
        self.nodes_security_group_id = nodes.id
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "efaSecurityGroupId": self.efa_security_group_id,
                "nodesSecurityGroupId": self.nodes_security_group_id,
                "placementGroups": self.placement_groups,
            }
        )

    def _flow_logs(self, name, args, vpc, tags, child) -> None:
        """Every flow (accepted and rejected) to a CloudWatch log group, delivered under a role that may write there only."""
        group = aws.cloudwatch.LogGroup(f"{name}-flows", retention_in_days=args.flow_log_retention_days,
                                        tags=tags("flows"), opts=child)
        role = aws.iam.Role(
            f"{name}-flows",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
            tags=tags("flows"), opts=child,
        )
        invoke = pulumi.InvokeOutputOptions(parent=self)
        # The group's ARN from parts known at preview (its name is), so the policy packs can read the document.
        arn = pulumi.Output.format("arn:{0}:logs:{1}:{2}:log-group:{3}", aws.get_partition_output(opts=invoke).partition,
                                   aws.get_region_output(opts=invoke).region,
                                   aws.get_caller_identity_output(opts=invoke).account_id, group.name)
        aws.iam.RolePolicy(
            f"{name}-flows", role=role.name,
            policy=arn.apply(lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Resource": [arn, f"{arn}:*"],
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups", "logs:DescribeLogStreams"],
            }]})),
            opts=child,
        )
        aws.ec2.FlowLog(f"{name}-flows", vpc_id=vpc.id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
                        log_destination=group.arn, iam_role_arn=role.arn, tags=tags("flows"), opts=child)

    def _nat_egress(self, name, args, vpc, private_routes, tags, child) -> None:
        """One NAT gateway in a small public subnet: GPU nodes pull images and packages, never accept inbound."""
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags("igw"), opts=child)
        nat_zone = next(iter(args.addresses.private))
        public = aws.ec2.Subnet(
            f"{name}-public-{nat_zone}",
            vpc_id=vpc.id,
            cidr_block=args.addresses.public,
            availability_zone=nat_zone,
            map_public_ip_on_launch=False,
            tags=tags(f"public-{nat_zone}"),
            opts=child,
        )
        public_routes = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, tags=tags("public"), opts=child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.id,
            opts=child,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-public-{nat_zone}", subnet_id=public.id, route_table_id=public_routes.id, opts=child
        )
        address = aws.ec2.Eip(f"{name}-nat", domain="vpc", tags=tags("nat"), opts=child)
        nat = aws.ec2.NatGateway(
            f"{name}-nat", allocation_id=address.id, subnet_id=public.id, tags=tags("nat"), opts=child
        )
        aws.ec2.Route(
            f"{name}-private-default",
            route_table_id=private_routes.id,
            destination_cidr_block="0.0.0.0/0",
            nat_gateway_id=nat.id,
            opts=child,
        )


def _allow_all(name, direction, group_id, description, tags, opts, **peer) -> None:
    """One all-protocol rule on `group_id`, to or from `peer` (a CIDR or a security group)."""
    rule = aws.vpc.SecurityGroupIngressRule if direction == "in" else aws.vpc.SecurityGroupEgressRule
    rule(
        name, security_group_id=group_id, ip_protocol="-1", description=description,
        tags={**tags, "Name": name}, opts=opts, **peer,
    )
