"""Checks of an existing cluster's spec (cloud `kubernetes`), run before anything touches the cluster: the pools'
node types and selectors, the RDMA choices against the node types' NICs, and the charts' merged values (one driver,
one Node Feature Discovery). Each names the field, the value and what is allowed."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from pydantic.alias_generators import to_camel

from ..catalog import load
from ..problems import Problem
from ..spec import ClusterSpec
from . import rdma
from .addons import releases
from .kueue import HOSTNAME_LABEL

# A site's region: a name of the owner's choosing, as cloud regions are written.
_REGION = re.compile(r"^[a-z][a-z0-9-]{1,62}$")
# Fields that belong to clusters the toolkit creates.
_CLOUD_ONLY_KUBERNETES = {"admins": "EKS", "public_access_cidrs": "EKS and GKE", "addon_versions": "EKS",
                          "release_channel": "GKE"}
_EXISTING_ONLY_KUBERNETES = ("gpu_driver", "node_feature_discovery", "rdma", "topology", "chart_values")
_EXISTING_ONLY_POOL = ("node_selector", "cpus_per_node", "memory_gib_per_node", "interfaces", "usd_per_node_hour")


# Pool fields of the pools the toolkit creates, and why they mean nothing for an existing cluster's nodes.
_CLOUD_ONLY_POOL = {
    "capacity": "an existing cluster's nodes are there already: capacity (spot, reservations, fallbacks) applies to "
                "pools the toolkit creates",
    **dict.fromkeys(("zones", "alternate_types", "image_id", "placement", "rollout", "checkpoint"),
                    "does not apply to an existing cluster's nodes (they are placed, imaged and replaced by whoever "
                    "runs the cluster)"),
}


def check_cloud_fields(spec: ClusterSpec) -> Iterator[Problem]:
    """On aws and gcp, the fields of existing clusters are refused, so none is silently ignored."""
    if spec.cloud == "kubernetes":
        return
    if spec.kubernetes:
        for name in _EXISTING_ONLY_KUBERNETES:
            if name in spec.kubernetes.model_fields_set:
                yield Problem(f"kubernetes.{to_camel(name)}", f"applies to existing clusters (cloud kubernetes) only, not to "
                              f"the {'EKS' if spec.cloud == 'aws' else 'GKE'} cluster built here", code="GPC-EXISTING-ONLY")
    for i, pool in enumerate(spec.pools):
        for name in _EXISTING_ONLY_POOL:
            if name in pool.model_fields_set:
                yield Problem(f"pools[{i}].{to_camel(name)}", f"applies to pools of existing clusters (cloud kubernetes) "
                              f"only; {spec.cloud} pools are created from their instance type", code="GPC-EXISTING-ONLY")


def check_existing_cluster(spec: ClusterSpec) -> Iterator[Problem]:
    if spec.cloud != "kubernetes":
        return
    if not _REGION.match(spec.region):
        yield Problem("region", f"'{spec.region}': name the site's region in lowercase letters, digits and '-' (such "
                      "as eu-central-fra2); the sovereignty pack checks it and site.country", code="GPC-SITE-REGION")
    for field, label in (("network", "network"), ("storage", "storage")):
        if field in spec.model_fields_set:
            yield Problem(field, f"an existing cluster's {label} is not created here; remove `{field}`",
                          code="GPC-CLOUD-ONLY")
    if spec.kubernetes is None:
        yield Problem("kubernetes", "cloud kubernetes needs a `kubernetes:` section: what to run in the cluster "
                      "(at least its version: the objects are checked against it)", code="GPC-EXISTING-KUBERNETES")
        return
    for name, where in _CLOUD_ONLY_KUBERNETES.items():
        if name in spec.kubernetes.model_fields_set:
            yield Problem(f"kubernetes.{to_camel(name)}", f"applies to the {where} clusters built here, not to an existing one",
                          code="GPC-CLOUD-ONLY")
    pool_problems = list(_check_pools(spec))
    yield from pool_problems
    if any(p.severity == "error" for p in pool_problems):
        return  # the checks below read the pools' node types
    yield from _check_topology(spec)
    yield from _check_rdma(spec)
    yield from _check_drivers(spec)
    yield from _check_values(spec)


def _check_pools(spec: ClusterSpec) -> Iterator[Problem]:
    catalog = load("kubernetes")
    selectors: dict[tuple, int] = {}
    for i, pool in enumerate(spec.pools):
        at = f"pools[{i}]"
        if pool.instance_type not in catalog:
            close = catalog.closest(pool.instance_type)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            yield Problem(f"{at}.instanceType", f"unknown node type '{pool.instance_type}' for an existing cluster{hint}; "
                          f"known: {', '.join(catalog.names())} (`gpucluster catalog --cloud kubernetes`)", code="GPC-TYPE-UNKNOWN")
            continue
        instance = catalog[pool.instance_type]
        if not pool.node_selector:
            yield Problem(f"{at}.nodeSelector", "required on an existing cluster: the node labels that pick this pool's "
                          "nodes (such as nvidia.com/gpu.product or a label of your own)", code="GPC-SELECTOR-MISSING")
        key = tuple(sorted(pool.node_selector.items()))
        if pool.node_selector and key in selectors:
            yield Problem(f"{at}.nodeSelector", f"{dict(key)} is also pools[{selectors[key]}]'s: the same nodes would be "
                          "counted twice; give each pool labels of its own", code="GPC-SELECTOR-DUPLICATE")
        selectors.setdefault(key, i)
        for field, known, given in (("cpusPerNode", instance.vcpus, pool.cpus_per_node),
                                    ("memoryGibPerNode", instance.memory_gib, pool.memory_gib_per_node)):
            if known is None and given is None:
                yield Problem(f"{at}.{field}", f"required for {instance.name}: its server maker chooses the host, so the "
                              "catalog does not know it, and the queue's quota counts it", code="GPC-NODE-SIZE-MISSING")
            elif known is not None and given is not None:
                yield Problem(f"{at}.{field}", f"{instance.name} has {known:g}, from the catalog; remove {field}",
                              code="GPC-NODE-SIZE-KNOWN")
        for name, reason in _CLOUD_ONLY_POOL.items():
            if name in pool.model_fields_set:
                yield Problem(f"{at}.{to_camel(name)}", f"{reason}; remove it", code="GPC-CLOUD-ONLY")
        if pool.size.min != pool.size.max:
            yield Problem(f"{at}.size", f"min {pool.size.min} and max {pool.size.max}: an existing pool has a fixed "
                          "number of nodes; give it as both min and max", code="GPC-EXISTING-SIZE")


def _check_topology(spec: ClusterSpec) -> Iterator[Problem]:
    levels = spec.kubernetes.topology
    for j, label in enumerate(levels):
        if label == HOSTNAME_LABEL:
            yield Problem(f"kubernetes.topology[{j}]", f"'{HOSTNAME_LABEL}' is added as the last level by itself; remove it",
                          code="GPC-TOPOLOGY-HOSTNAME")
        elif label in levels[:j]:
            yield Problem(f"kubernetes.topology[{j}]", f"'{label}' is listed twice; Kueue needs each level once",
                          code="GPC-TOPOLOGY-DUPLICATE")


def _check_rdma(spec: ClusterSpec) -> Iterator[Problem]:
    settings = rdma.settings(spec)
    fabrics = rdma.pool_fabrics(spec)
    if "rdma" in spec.kubernetes.model_fields_set and not fabrics:
        yield Problem("kubernetes.rdma", "no pool has RDMA NICs on: every pool's node type lacks compute NICs or has fabric: off",
                      code="GPC-RDMA-NONE")
    chosen = settings.selectors
    for fabric in fabrics:
        i = spec.pools.index(fabric.pool)
        at = f"pools[{i}]"
        nic = fabric.nic
        if chosen and chosen.device_ids and nic.pci_device not in chosen.device_ids:
            yield Problem("kubernetes.rdma.selectors.deviceIds", f"{chosen.device_ids} match no compute NIC of "
                          f"{fabric.instance.name} ({at}): its {nic.model} ports are PCI device {nic.pci_device}",
                          code="GPC-RDMA-DEVICE-IDS")
        if chosen and chosen.link_types and nic.link_type not in chosen.link_types:
            yield Problem("kubernetes.rdma.selectors.linkTypes", f"{chosen.link_types}, but the compute ports of "
                          f"{fabric.instance.name} ({at}) run {nic.link_type}; the plugin would offer none of them",
                          code="GPC-RDMA-LINK-TYPES")
        if fabric.pool.interfaces and nic.netdevs:
            yield Problem(f"{at}.interfaces", f"{fabric.instance.name}'s interface names are known ({', '.join(nic.netdevs)}); "
                          "remove interfaces", code="GPC-INTERFACES-KNOWN")
        elif fabric.pool.interfaces and len(fabric.pool.interfaces) != nic.ports:
            yield Problem(f"{at}.interfaces", f"{len(fabric.pool.interfaces)} names for the {nic.ports} compute ports of "
                          f"{fabric.instance.name}; give one per port, in GPU order", code="GPC-INTERFACES-COUNT")
        if chosen and chosen.if_names and not fabric.rails:
            yield Problem("kubernetes.rdma.selectors.ifNames", f"{chosen.if_names} match no compute port of "
                          f"{fabric.instance.name} ({at}), whose ports are {', '.join(nic.netdevs)}", code="GPC-RDMA-IF-NAMES")
        if settings.devices == "shared" and settings.shared_slots < fabric.instance.gpus:
            yield Problem("kubernetes.rdma.sharedSlots", f"{settings.shared_slots} is below the {fabric.instance.gpus} "
                          f"GPUs of a {fabric.instance.name} node ({at}): pods of one GPU each could not all get the fabric",
                          code="GPC-RDMA-SLOTS")
        if settings.devices == "sriov" and settings.vfs_per_port > nic.max_vfs:
            yield Problem("kubernetes.rdma.vfsPerPort", f"{settings.vfs_per_port} is more than the {nic.max_vfs} virtual "
                          f"functions a {nic.model} port allows ({fabric.instance.name}, {at})", code="GPC-RDMA-VFS")
        unnamed = not all(rail.netdev for rail in fabric.rails)
        if settings.per_rail and settings.devices == "shared" and unnamed:
            yield Problem("kubernetes.rdma.perRail", f"needs the interface names of {fabric.instance.name}'s ports "
                          f"({at}), which its maker does not publish; list them in {at}.interfaces", code="GPC-RDMA-PER-RAIL")
        if settings.devices == "shared" and rdma.needs_ip(spec, fabric) and unnamed:
            why = "RoCE gives each port an address" if fabric.link == "ethernet" else "IPoIB hangs off the first port"
            yield Problem(f"{at}.interfaces", f"needed for {fabric.instance.name}: {why}, and the catalog does not "
                          "know its interface names; list them, in GPU order", code="GPC-INTERFACES-NEEDED")
    yield from _check_masters(spec)
    yield from _check_address_pool(spec)


# What a driver container would install a second time on nodes whose image has the drivers (DGX OS).
_DRIVERS = {
    "kubernetes.gpuDriver": ("the NVIDIA driver", ""),
    "kubernetes.rdma.networkDriver": ("DOCA-OFED", ", and the container's restart of openibd drops the node's NVIDIA "
                                      "interfaces"),
}


def _check_drivers(spec: ClusterSpec) -> Iterator[Problem]:
    catalog = load("kubernetes")
    hosts = sorted({p.instance_type for p in spec.pools if catalog[p.instance_type].fabric.host_drivers})
    choices = {"kubernetes.gpuDriver": (spec.kubernetes.gpu_driver, rdma.gpu_driver(spec))}
    if rdma.pool_fabrics(spec):
        choices["kubernetes.rdma.networkDriver"] = (rdma.settings(spec).network_driver, rdma.network_driver(spec))
    for path, (choice, resolved) in choices.items():
        what, consequence = _DRIVERS[path]
        if choice == "auto" and rdma.vendor_drivers(spec) == "some":
            yield Problem(path, "'auto', but the pools mix node types whose image installs the drivers (DGX OS) with "
                          "ones whose does not, and one setting serves the whole cluster: install the drivers on the "
                          "other servers too and set 'host'", code="GPC-DRIVER-MIXED")
        elif resolved == "container" and hosts:
            yield Problem(path, f"'container', but {', '.join(hosts)} nodes run DGX OS, which installs {what} on the "
                          f"host: it would be installed twice{consequence}; use 'host' or 'auto'", code="GPC-DRIVER-TWICE")


def _check_masters(spec: ClusterSpec) -> Iterator[Problem]:
    """IPoIB and macvlan networks are cluster-wide: every pool must name the same port for them."""
    if rdma.settings(spec).devices != "shared":
        return
    seen: dict[tuple[str, int], str] = {}
    for fabric in rdma.pool_fabrics(spec):
        if not rdma.needs_ip(spec, fabric):
            continue
        rails = fabric.rails if fabric.link == "ethernet" else fabric.rails[:1]
        for rail in rails:
            if rail.netdev is None:
                continue
            other = seen.setdefault((fabric.link, rail.index), rail.netdev)
            if other != rail.netdev:
                yield Problem(f"pools[{spec.pools.index(fabric.pool)}].interfaces", f"port {rail.index} is {other} on one node type and "
                              f"{rail.netdev} on {fabric.instance.name}: the fabric networks hang off one interface name "
                              "cluster-wide; rename the interfaces alike or split the pools across clusters",
                              code="GPC-INTERFACES-MISMATCH")


def _check_address_pool(spec: ClusterSpec) -> Iterator[Problem]:
    networks = rdma.attachments(spec)
    if not networks:
        return
    pools = rdma.address_pools(spec)
    nodes = sum(pool.size.max for pool in spec.pools)
    needed = nodes * rdma.IP_BLOCK_PER_NODE
    smallest = min((ipaddress.IPv4Network(s).num_addresses for s in pools.values()), default=0)
    if len(pools) < len(networks) or smallest < needed:
        yield Problem("kubernetes.rdma.ipPool", f"{rdma.settings(spec).ip_pool} split over {len(networks)} fabric "
                      f"network(s) leaves {smallest} addresses each; {nodes} nodes need {needed} "
                      f"({rdma.IP_BLOCK_PER_NODE} per node); give a larger range", code="GPC-RDMA-IP-POOL")


def _check_values(spec: ClusterSpec) -> Iterator[Problem]:
    """The merged chart values: Node Feature Discovery once, and no driver container where the host has the driver."""
    values = {release.chart.name: release.values for release in releases(spec)}
    running = [name for name in ("gpu-operator", "network-operator")
               if name in values and values[name].get("nfd", {}).get("enabled", True)]
    if spec.kubernetes.node_feature_discovery == "cluster":
        running.append("the cluster (nodeFeatureDiscovery: cluster)")
    if len(running) > 1:
        yield Problem("kubernetes.chartValues", f"Node Feature Discovery would run {len(running)} times ({', '.join(running)}): "
                      "two instances fight over the same node labels; keep one (kubernetes.nodeFeatureDiscovery says which)",
                      code="GPC-NFD-TWICE")
    if not running:
        yield Problem("kubernetes.nodeFeatureDiscovery", "no chart runs Node Feature Discovery, which labels the nodes both "
                      "operators select: enable it in one chart or say it runs already ('cluster')", code="GPC-NFD-NONE")
    gpu = values.get("gpu-operator", {})
    if rdma.gpu_driver(spec) == "host" and gpu.get("driver", {}).get("enabled"):
        yield Problem("kubernetes.chartValues.gpu-operator.driver.enabled", "true, but the NVIDIA driver is the host's "
                      "(kubernetes.gpuDriver): it would be installed twice; remove the override or set gpuDriver: container",
                      code="GPC-DRIVER-OVERRIDE")
