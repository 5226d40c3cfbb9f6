"""ClusterNetwork (GCP): the host VPC with Private Google Access and Cloud NAT, and the GPU NIC networks."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from gpucluster import naming

GPU_RANGE = ipaddress.IPv4Network("172.16.0.0/12")  # GPU networks: /20 slices, apart from the host range
# VPC Flow Logs on every gVNIC subnet: 5-second aggregation, half the flows sampled, all metadata. Not on the RoCE
# subnets: VPC Flow Logs do not record RDMA traffic (Google Cloud, "VPC Flow Logs overview", limitations), and the
# RoCE network profile accepts no such setting.
FLOW_LOGS = {"aggregation_interval": "INTERVAL_5_SEC", "flow_sampling": 0.5, "metadata": "INCLUDE_ALL_METADATA"}


@dataclass
class ClusterNetworkArgs:
    project: str
    region: str
    zone: str  # the RoCE network profile is zonal
    host_cidr: str
    labels: dict[str, str]
    host_networks: int = 1  # A3 Ultra and A4 have a second gVNIC
    gpu_vpcs: int = 0  # A3 High 4, A3 Mega 8: one VPC per GPU NIC
    rdma_subnets: int = 0  # A3 Ultra and A4: one RoCE VPC with a subnet per GPU NIC
    mtu: int = 8244


class ClusterNetwork(pulumi.ComponentResource):
    """Networks are global and subnets regional on GCP. Every gVNIC subnet reaches Google APIs privately. Firewalls admit traffic from the cluster's own ranges
    only; the RoCE VPC takes no firewall rules (GCP refuses them there)."""

    subnets: dict[str, pulumi.Output[str]]  # "host", "host-2", "gpu-<i>", "rdma-<i>" -> subnetwork self link
    networks: dict[str, pulumi.Output[str]]
    subnet_names: dict[str, pulumi.Output[str]]  # the same roles -> names, as GKE's node and pod networks name them
    network_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ClusterNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:gcp:ClusterNetwork", name, None, opts)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self.subnets, self.networks, self.subnet_names, self.network_names = {}, {}, {}, {}
        gpu_slices = iter(GPU_RANGE.subnets(new_prefix=20))

        host = self._vpc("host", args.host_cidr, mtu=args.mtu)
        router = gcp.compute.Router(naming.router(name), network=host.id, region=args.region, opts=self._child)
        gcp.compute.RouterNat(
            naming.router_nat(name), router=router.name, region=args.region, nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"}, opts=self._child,
        )
        for i in range(2, args.host_networks + 1):
            self._vpc(f"host-{i}", str(next(gpu_slices)), mtu=args.mtu)
        for i in range(args.gpu_vpcs):
            self._vpc(f"gpu-{i}", str(next(gpu_slices)), mtu=args.mtu)
        if args.rdma_subnets:
            profile = f"projects/{args.project}/global/networkProfiles/{args.zone}-vpc-roce"
            rdma = gcp.compute.Network(naming.vpc(name, "rdma"), auto_create_subnetworks=False, mtu=args.mtu,
                                       network_profile=profile, opts=self._child)
            self.networks["rdma"], self.network_names["rdma"] = rdma.self_link, rdma.name
            for i in range(args.rdma_subnets):
                subnet = gcp.compute.Subnetwork(naming.vpc(name, f"rdma-{i}"), network=rdma.id, region=args.region,
                                                ip_cidr_range=str(next(gpu_slices)), opts=self._child)
                self.subnets[f"rdma-{i}"], self.subnet_names[f"rdma-{i}"] = subnet.self_link, subnet.name
        self.register_outputs({"networks": self.networks, "subnets": self.subnets})

    def _vpc(self, role: str, cidr: str, mtu: int) -> gcp.compute.Network:
        name, args = naming.vpc(self._name, role), self._args
        network = gcp.compute.Network(name, auto_create_subnetworks=False, mtu=mtu, routing_mode="REGIONAL", opts=self._child)
        subnet = gcp.compute.Subnetwork(name, network=network.id, region=args.region, ip_cidr_range=cidr,
                                        private_ip_google_access=True, log_config=FLOW_LOGS, opts=self._child)
        gcp.compute.Firewall(
            naming.vpc_firewall(name), network=network.id, direction="INGRESS", source_ranges=[cidr],
            allows=[{"protocol": "all"}], description=f"{role}: traffic from the cluster's own range only",
            opts=self._child,
        )
        self.networks[role], self.subnets[role] = network.self_link, subnet.self_link
        self.network_names[role], self.subnet_names[role] = network.name, subnet.name
        return network
