"""RDMA in pods on an existing cluster's NVIDIA NICs (InfiniBand or RoCE), through NVIDIA's Network Operator: which
ports each pool offers, the device resources pods request, and the objects that make them (NicClusterPolicy, SR-IOV
policies, fabric networks, address pools). Pure dicts, no Pulumi: the workloads component applies them, the tests
check them against the CRDs of the pinned release (`crds/network-operator-v26.4.1`).

Network Operator 26.4.1 (Mellanox/network-operator tag v26.4.1 @85afd6d): the chart installs the operator only (no
NicClusterPolicy since 24.10), so the policy is applied after it, named `nic-cluster-policy`, the one name the
operator reconciles (controllers/nicclusterpolicy_controller.go). Images come from NVIDIA's registry at the operator's
release (`spec.global`, 26.4 and later; example/crs/*_global_config.yaml).

Choices, and why:
- shared (default): the RDMA shared device plugin offers a node's ports as one resource (or one per rail) with a
  number of slots: a pod that asks for one gets every selected port of its node. Slots are not bandwidth, and pods
  see each other's devices: right for one training job per node, not for tenants that must not see each other.
- sriov: each port is split into virtual functions (SR-IOV network operator), a pod gets one VF per port, isolated;
  InfiniBand VFs need a subnet manager with virtualization (GUIDs), and applying the policy reboots the nodes.
- IP on the fabric only when needed: NCCL over InfiniBand verbs needs none; RoCE needs a netdev with an address in
  the pod (its GIDs come from it), and VFs are attached through Multus. Then NVIDIA's IPAM (nv-ipam) hands out
  addresses from a pool per network.
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass
from typing import Any

from ..catalog import InstanceType, LinkType, MetalFabric, Nic, load
from ..spec import ClusterSpec, Pool, Rdma

NETWORK_OPERATOR_VERSION = "26.4.1"
OPERATOR_NAMESPACE = "nvidia-network-operator"
IMAGE_REPOSITORY = "nvcr.io/nvidia/mellanox"
COMPONENT_VERSION = f"network-operator-v{NETWORK_OPERATOR_VERSION}"
# The DOCA driver container of the release's example policy (example/crs/mellanox.com_v1alpha1_nicclusterpolicy_cr.yaml).
DOCA_DRIVER_VERSION = "doca3.4.1-26.04-1.1.0.0-1"
POLICY_NAME = "nic-cluster-policy"
API = "mellanox.com/v1alpha1"
SRIOV_API = "sriovnetwork.openshift.io/v1"
IPAM_API = "nv-ipam.nvidia.com/v1alpha1"
SHARED_PREFIX = "rdma"  # the shared plugin's default resource prefix
SRIOV_PREFIX = "nvidia.com"  # the chart's sriov-network-operator.operator.resourcePrefix
LINK_SHORT = {"infiniband": "ib", "ethernet": "roce"}
IP_BLOCK_PER_NODE = 32  # addresses nv-ipam gives each node per network: more than the pods a node runs
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"  # Multus: the extra networks of a pod


def settings(spec: ClusterSpec) -> Rdma:
    return (spec.kubernetes.rdma if spec.kubernetes and spec.kubernetes.rdma else None) or Rdma()


@dataclass(frozen=True)
class Rail:
    """One compute port: its position among the node's compute ports (GPU order), RDMA device and interface names."""

    index: int
    hca: str | None
    netdev: str | None


@dataclass(frozen=True)
class PoolFabric:
    """A pool's RDMA fabric: its node type's compute NIC, link type and the ports offered to pods."""

    pool: Pool
    instance: InstanceType
    nic: Nic
    rails: tuple[Rail, ...]

    @property
    def link(self) -> LinkType:
        return self.nic.link_type

    @property
    def short(self) -> str:
        return LINK_SHORT[self.link]


def compute_nic(instance: InstanceType) -> Nic | None:
    fabric = instance.fabric
    return fabric.compute_nics[0] if isinstance(fabric, MetalFabric) and fabric.compute_nics else None


def pool_fabric(spec: ClusterSpec, pool: Pool) -> PoolFabric | None:
    """None for a pool whose node type has no compute NICs, or with `fabric: off`."""
    instance = load("kubernetes")[pool.instance_type]
    nic = compute_nic(instance)
    if nic is None or pool.fabric == "off":
        return None
    # Interface names: the catalog's, else the pool's own (makers of HGX servers name them differently).
    netdevs = nic.netdevs or (tuple(pool.interfaces) if len(pool.interfaces) == nic.ports else ())
    rails = tuple(Rail(i, nic.hcas[i] if nic.hcas else None, netdevs[i] if netdevs else None) for i in range(nic.ports))
    chosen = settings(spec).selectors
    if chosen and chosen.if_names and netdevs:
        rails = tuple(rail for rail in rails if rail.netdev in chosen.if_names)
    return PoolFabric(pool, instance, nic, rails)


def pool_fabrics(spec: ClusterSpec) -> list[PoolFabric]:
    if spec.cloud != "kubernetes":
        return []
    return [fabric for pool in spec.pools if (fabric := pool_fabric(spec, pool))]


def needs_ip(spec: ClusterSpec, fabric: PoolFabric) -> bool:
    """Pods get an interface with an address on the fabric: asked for, or needed (RoCE GIDs, SR-IOV attachments)."""
    return settings(spec).devices == "sriov" or settings(spec).ip_over_fabric or fabric.link == "ethernet"


def _resource_name(spec: ClusterSpec, short: str, rail: int | None = None) -> str:
    if settings(spec).devices == "sriov":
        return f"{short}_vf"
    return f"{short}_rail{rail}" if rail is not None else f"{short}_shared"


def node_resources(spec: ClusterSpec, fabric: PoolFabric) -> dict[str, int]:
    """What one node offers, by extended resource name: the queue's quota counts these."""
    rdma = settings(spec)
    if rdma.devices == "sriov":
        return {f"{SRIOV_PREFIX}/{_resource_name(spec, fabric.short)}": len(fabric.rails) * rdma.vfs_per_port}
    if rdma.per_rail:
        return {f"{SHARED_PREFIX}/{_resource_name(spec, fabric.short, r.index)}": rdma.shared_slots for r in fabric.rails}
    return {f"{SHARED_PREFIX}/{_resource_name(spec, fabric.short)}": rdma.shared_slots}


def pod_requests(spec: ClusterSpec, fabric: PoolFabric) -> dict[str, int]:
    """What a pod that fills a node asks for: a slot of each shared resource (which gives it every port the resource
    selects), or a virtual function per port."""
    if settings(spec).devices == "sriov":
        return {name: len(fabric.rails) for name in node_resources(spec, fabric)}
    return {name: 1 for name in node_resources(spec, fabric)}


def network_driver(spec: ClusterSpec) -> str:
    """The network driver, host or container (see _driver)."""
    return _driver(spec, settings(spec).network_driver)


def gpu_driver(spec: ClusterSpec) -> str:
    return _driver(spec, spec.kubernetes.gpu_driver)


def _driver(spec: ClusterSpec, choice: str) -> str:
    """auto: host where the node types' image has the drivers, else container. One setting serves the whole cluster
    (one NicClusterPolicy, one GPU Operator ClusterPolicy), so node types that differ need an explicit choice
    (kube.checks refuses auto there); host is the one both can take, once the other servers have the drivers too."""
    if choice != "auto":
        return choice
    return "container" if vendor_drivers(spec) == "none" else "host"


def vendor_drivers(spec: ClusterSpec) -> str:
    """Whether the pools' node types come with the drivers on the host: "all", "none" or "some"."""
    catalog = load("kubernetes")
    with_drivers = [catalog[pool.instance_type].fabric.host_drivers for pool in spec.pools]
    return "all" if all(with_drivers) else "none" if not any(with_drivers) else "some"


# --- the NicClusterPolicy -------------------------------------------------------------------------------------------

def _selector_entry(spec: ClusterSpec, resource: str, fabrics: list[PoolFabric], rails: list[Rail]) -> dict[str, Any]:
    """One entry of the shared plugin's configList: vendor, device ids and link type of the pools' compute NICs, the
    interface names where every rail's is known (device ids alone would also take a DGX's storage ConnectX-7s
    where those run the same link type)."""
    chosen = settings(spec).selectors
    selectors: dict[str, Any] = {
        "vendors": sorted({f.nic.pci_vendor for f in fabrics}),
        "deviceIDs": sorted(set(chosen.device_ids) if chosen and chosen.device_ids else {f.nic.pci_device for f in fabrics}),
        "linkTypes": [fabrics[0].link],
    }
    if rails and all(rail.netdev for rail in rails):
        selectors["ifNames"] = sorted({rail.netdev for rail in rails})
    return {"resourceName": resource, "rdmaHcaMax": settings(spec).shared_slots, "selectors": selectors}


def shared_plugin_config(spec: ClusterSpec) -> dict[str, Any]:
    """The shared plugin's `config` (its JSON schema: webhook-schemas/rdma_shared_device_plugin.json at v26.4.1)."""
    entries: dict[str, tuple[list[PoolFabric], list[Rail]]] = {}
    for fabric in pool_fabrics(spec):
        if settings(spec).per_rail:
            for rail in fabric.rails:
                group = entries.setdefault(_resource_name(spec, fabric.short, rail.index), ([], []))
                group[0].append(fabric)
                group[1].append(rail)
        else:
            group = entries.setdefault(_resource_name(spec, fabric.short), ([], []))
            group[0].append(fabric)
            group[1].extend(fabric.rails)
    # By resource name, so the pools' order in the spec does not change the policy.
    return {"configList": [_selector_entry(spec, name, *entries[name]) for name in sorted(entries)]}


def nic_cluster_policy(spec: ClusterSpec) -> dict[str, Any]:
    fabrics = pool_fabrics(spec)
    rdma = settings(spec)
    policy: dict[str, Any] = {"global": {"repository": IMAGE_REPOSITORY, "version": COMPONENT_VERSION}}
    if network_driver(spec) == "container":
        policy["ofedDriver"] = {
            "image": "doca-driver", "version": DOCA_DRIVER_VERSION,
            # A driver update drains one node at a time; never by itself: a new driver restarts openibd, which drops
            # the node's NVIDIA interfaces for a while.
            "upgradePolicy": {"autoUpgrade": False, "maxParallelUpgrades": 1,
                              "drain": {"enable": True, "force": True, "deleteEmptyDir": True, "timeoutSeconds": 300}},
        }
    if rdma.devices == "shared":
        policy["rdmaSharedDevicePlugin"] = {"image": "k8s-rdma-shared-dev-plugin",
                                            "config": json.dumps(shared_plugin_config(spec), sort_keys=True)}
    if any(needs_ip(spec, f) for f in fabrics):
        secondary: dict[str, Any] = {"multus": {"image": "multus-cni"}, "cniPlugins": {"image": "plugins"}}
        if rdma.devices == "shared" and any(f.link == "infiniband" and needs_ip(spec, f) for f in fabrics):
            secondary["ipoib"] = {"image": "ipoib-cni"}
        policy["secondaryNetwork"] = secondary
        policy["nvIpam"] = {"image": "nvidia-k8s-ipam", "enableWebhook": False}
    return {"apiVersion": API, "kind": "NicClusterPolicy", "metadata": {"name": POLICY_NAME}, "spec": policy}


# --- SR-IOV --------------------------------------------------------------------------------------------------------

def sriov_policies(spec: ClusterSpec) -> list[dict[str, Any]]:
    """One SriovNetworkNodePolicy per pool: its nodes' compute ports split into VFs with RDMA, one resource per link
    type (policies of pools of the same link type feed the same resource)."""
    rdma = settings(spec)
    if rdma.devices != "sriov":
        return []
    policies = []
    for fabric in pool_fabrics(spec):
        nic_selector: dict[str, Any] = {"vendor": fabric.nic.pci_vendor, "deviceID": fabric.nic.pci_device}
        if all(rail.netdev for rail in fabric.rails):
            nic_selector["pfNames"] = [rail.netdev for rail in fabric.rails]
        policies.append({
            "apiVersion": SRIOV_API, "kind": "SriovNetworkNodePolicy",
            "metadata": {"name": f"{fabric.pool.name}-{fabric.short}", "namespace": OPERATOR_NAMESPACE},
            "spec": {
                "resourceName": _resource_name(spec, fabric.short),
                "nodeSelector": dict(fabric.pool.node_selector),
                "nicSelector": nic_selector,
                "numVfs": rdma.vfs_per_port,
                "linkType": "IB" if fabric.link == "infiniband" else "ETH",
                "isRdma": True,
                "priority": 90,
            },
        })
    return policies


# --- fabric networks and their addresses ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    """A network pods of a link type attach to: its kind, the port it hangs off (IPoIB, macvlan) and its pool."""

    name: str  # the network's name, also its address pool's
    kind: str
    short: str
    master: str | None = None


def attachments(spec: ClusterSpec) -> list[Attachment]:
    """The networks pods need, per link type: an SR-IOV network (VFs), else IPoIB on the first port (InfiniBand,
    when asked), else a macvlan per port (RoCE: every port's GIDs need an address)."""
    rdma = settings(spec)
    out: dict[str, Attachment] = {}
    for fabric in (f for f in pool_fabrics(spec) if needs_ip(spec, f)):
        if rdma.devices == "sriov":
            kind = "SriovIBNetwork" if fabric.link == "infiniband" else "SriovNetwork"
            out.setdefault(f"{fabric.short}-vf", Attachment(f"{fabric.short}-vf", kind, fabric.short))
        elif fabric.link == "infiniband":
            out.setdefault("ipoib", Attachment("ipoib", "IPoIBNetwork", fabric.short, fabric.rails[0].netdev))
        else:
            for rail in fabric.rails:
                name = f"roce-rail{rail.index}"
                out.setdefault(name, Attachment(name, "MacvlanNetwork", fabric.short, rail.netdev))
    return [out[name] for name in sorted(out)]  # by name: each takes its address slice whatever the pools' order


def address_pools(spec: ClusterSpec) -> dict[str, str]:
    """Attachment name -> its subnet: `ipPool` split into equal power-of-two slices, one per attachment."""
    networks = attachments(spec)
    if not networks:
        return {}
    whole = ipaddress.IPv4Network(settings(spec).ip_pool)
    bits = math.ceil(math.log2(len(networks))) if len(networks) > 1 else 0
    slices = list(whole.subnets(prefixlen_diff=bits)) if whole.prefixlen + bits <= 32 else []
    return {network.name: str(subnet) for network, subnet in zip(networks, slices)}


def pod_networks(spec: ClusterSpec, fabric: PoolFabric) -> list[str]:
    """The networks a pod of the pool attaches to, repeated once per VF it takes (Multus attaches each entry)."""
    if not needs_ip(spec, fabric):
        return []
    names = [a.name for a in attachments(spec) if a.short == fabric.short]
    if settings(spec).devices == "sriov":
        return names * len(fabric.rails)
    if fabric.link == "ethernet":
        return [f"roce-rail{rail.index}" for rail in fabric.rails]
    return names


def _ipam(name: str) -> str:
    return json.dumps({"type": "nv-ipam", "poolName": name})


def network_objects(spec: ClusterSpec) -> list[dict[str, Any]]:
    """Address pools, then a network per attachment per team namespace (each renders the team's
    NetworkAttachmentDefinition of the same name)."""
    pools = address_pools(spec)
    objects: list[dict[str, Any]] = [{
        "apiVersion": IPAM_API, "kind": "IPPool", "metadata": {"name": name, "namespace": OPERATOR_NAMESPACE},
        "spec": {"subnet": subnet, "perNodeBlockSize": IP_BLOCK_PER_NODE},
    } for name, subnet in pools.items()]
    teams = [team.name for team in spec.kubernetes.teams]
    for network in attachments(spec):
        for team in teams:
            if network.kind in ("SriovIBNetwork", "SriovNetwork"):
                # SR-IOV networks live in the operator's namespace and render into the team's.
                metadata = {"name": team_network_name(team, network.name), "namespace": OPERATOR_NAMESPACE}
                body = {"resourceName": _resource_name(spec, network.short), "networkNamespace": team,
                        "ipam": _ipam(network.name)}
                if network.kind == "SriovIBNetwork":
                    body["linkState"] = "enable"
            else:
                metadata = {"name": team_network_name(team, network.name)}  # cluster-scoped
                body = {"networkNamespace": team, "master": network.master, "ipam": _ipam(network.name)}
                if network.kind == "MacvlanNetwork":
                    body |= {"mode": "bridge", "mtu": 0}  # 0: the port's own MTU (the fabric's jumbo frames)
            api = SRIOV_API if network.kind.startswith("Sriov") else API
            objects.append({"apiVersion": api, "kind": network.kind, "metadata": metadata, "spec": body})
    return objects


def team_network_name(team: str, network: str) -> str:
    """The NetworkAttachmentDefinition a network object renders in the team's namespace."""
    return f"{team}-{network}"


def fabric_objects(spec: ClusterSpec) -> list[dict[str, Any]]:
    """Everything the Network Operator reconciles, in the order it can be applied."""
    if not pool_fabrics(spec):
        return []
    return [nic_cluster_policy(spec), *sriov_policies(spec), *network_objects(spec)]
