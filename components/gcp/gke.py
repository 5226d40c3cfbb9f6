"""GkeCluster: a private GKE Standard cluster on the cluster's networks, and a GPU node pool per pool.

Built on `pulumi_gcp.container` resources directly, so the offline preview, the cost model and the policy packs see
every one of them. The pure decisions (ranges, accelerator names, taints, the in-cluster objects) live in
`gpucluster/kube/gke.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from gpucluster import naming
from gpucluster.kube import gke
from gpucluster.kube.nodes import SYSTEM_POOL, NodePoolPlan, node_pool_plans
from gpucluster.spec import ClusterSpec

from .instance_group import HYPERDISK_SERIES
from .network import ClusterNetwork
from .storage import TieredStorage

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]  # IAM decides what the nodes may do, not scopes
# Maintenance (cluster and node upgrades) happens only on weekends, 00:00-08:00 UTC on Saturday and Sunday: GKE asks for
# at least 48 hours of window in any 32 days (Maintenance windows; not re-read here), and this gives 64 or more.
MAINTENANCE_WINDOW = {"start_time": "2026-01-03T00:00:00Z", "end_time": "2026-01-03T08:00:00Z",
                      "recurrence": "FREQ=WEEKLY;BYDAY=SA,SU"}


@dataclass
class GkeClusterArgs:
    """What the GCP cluster component has built already: the networks, the node service account (email) and the storage,
    whose key also encrypts the cluster's secrets and the nodes' boot disks."""

    spec: ClusterSpec
    project: str
    network: ClusterNetwork
    node_service_account: pulumi.Input[str]
    storage: TieredStorage
    labels: dict[str, str]


class GkeCluster(pulumi.ComponentResource):
    """Regional control plane with private nodes and a private endpoint (public only to the listed networks), VPC-native
    ranges apart from the spec's network, Dataplane V2 (with multi-networking when a pool has NICs beyond the first),
    Workload Identity, the release channel, secrets encrypted with the cluster's key (the GKE service agent granted on
    it), the GCS FUSE and Lustre CSI drivers when the storage needs them, managed DCGM metrics, shielded nodes,
    weekend maintenance, deletion protection; untainted system nodes; and a node pool per spec pool with GKE's managed
    driver, gVNIC, its GPU NIC networks (GPUDirect RDMA on A3 Ultra and A4), spot, compact placement, a specific
    reservation, flex-start through queued provisioning, and local SSD as ephemeral storage.

    Outputs: `kubeconfig` (secret; gke-gcloud-auth-plugin), `cluster_name`, `node_pools` (pool name -> NodePool),
    `system_pool`, `network`, `storage`, `node_service_account`, and
    `kubernetes_objects`: the GKE networking objects and NCCL installers (`gke.gke_objects`) with the networks'
    physical names filled in, for the caller to apply through its Kubernetes provider."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    node_pools: dict[str, gcp.container.NodePool]

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:gcp:GkeCluster", name, None, opts)
        spec, kube = args.spec, args.spec.kubernetes
        if spec.cloud != "gcp" or kube is None:
            raise ValueError("GkeCluster needs a `cloud: gcp` spec with a `kubernetes:` section")
        self._spec, self._name = spec, name
        child = pulumi.ResourceOptions(parent=self)
        self._labels = labels = args.labels
        stack_key = naming.stack_key(pulumi.get_project(), pulumi.get_stack(), spec.name)
        plans = node_pool_plans(spec)
        self.network, self.storage = args.network, args.storage
        self.node_service_account = email = args.node_service_account
        self._key = key = self.storage.kms_key
        project = gcp.organizations.get_project_output(opts=pulumi.InvokeOutputOptions(parent=self))
        member = pulumi.Output.concat("serviceAccount:", email)
        # The least role GKE's nodes need (logs, metrics, image pulls); workloads reach Google APIs as themselves.
        node_role = gcp.projects.IAMMember(f"{name}-node-role", project=args.project, member=member,
                                           role="roles/container.defaultNodeServiceAccount", opts=child)
        # The GKE service agent encrypts and decrypts the cluster's secrets with the key.
        secrets_grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-key", crypto_key_id=key, role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=project.number.apply(lambda n: f"serviceAccount:service-{n}@container-engine-robot.iam.gserviceaccount.com"),
            opts=child,
        )
        if spec.storage.buckets:
            self._bucket_access(project.number, args.project)

        pods, services = gke.ip_ranges(spec)
        cidrs = kube.public_access_cidrs
        self.cluster = gcp.container.Cluster(
            name,
            name=naming.gke_cluster_name(spec.name, stack_key),
            location=spec.region,  # regional: the control plane is replicated across the region's zones
            network=self.network.networks["host"],
            subnetwork=self.network.subnets["host"],
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={"cluster_ipv4_cidr_block": pods, "services_ipv4_cidr_block": services},
            remove_default_node_pool=True,
            initial_node_count=1,
            # The default pool lives only until GKE removes it; it runs as the nodes' account, not Compute's default one.
            node_config={k: v for k, v in self._base_node_config(gke.SYSTEM_MACHINE_TYPE).items() if k != "boot_disk_kms_key"},
            datapath_provider="ADVANCED_DATAPATH",
            enable_multi_networking=any(len(p.plan.nics) > 1 for p in plans),
            private_cluster_config={"enable_private_nodes": True, "enable_private_endpoint": not cidrs},
            # Authorised networks on, with only the listed networks (none: the private endpoint answers the cluster's own
            # nodes and pods only) and not Google Cloud's public addresses.
            master_authorized_networks_config={"cidr_blocks": [{"cidr_block": c, "display_name": f"listed-{i}"}
                                                               for i, c in enumerate(cidrs)],
                                               "gcp_public_cidrs_access_enabled": False},
            workload_identity_config={"workload_pool": f"{args.project}.svc.id.goog"},
            release_channel={"channel": kube.release_channel},
            min_master_version=kube.version,
            database_encryption={"state": "ENCRYPTED", "key_name": key},
            addons_config={
                "gcs_fuse_csi_driver_config": {"enabled": bool(spec.storage.buckets)},
                # The legacy Lustre port (6988) keeps clear of the GKE metadata server's (XPK recipe, CT gke-cluster).
                "lustre_csi_driver_config": {"enabled": bool(spec.storage.shared),
                                             "enable_legacy_lustre_port": bool(spec.storage.shared)},
            },
            monitoring_config={"enable_components": ["SYSTEM_COMPONENTS", "DCGM"], "managed_prometheus": {"enabled": True}},
            enable_shielded_nodes=True,
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},  # tokens only
            # The project's Binary Authorization policy decides which images run (its default admits all).
            binary_authorization={"evaluation_mode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
            maintenance_policy={"recurring_window": MAINTENANCE_WINDOW},
            resource_labels=labels,
            deletion_protection=True,
            # nodeConfig and initialNodeCount describe the removed default pool: a later change must not replace the
            # cluster.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secrets_grant],
                                        ignore_changes=["nodeConfig", "initialNodeCount"]),
        )
        self.cluster_name = self.cluster.name
        # Nodes wait for their account's role and the storage (whose grants let Compute Engine use the key on their boot
        # disks).
        after_role = pulumi.ResourceOptions(parent=self, depends_on=[node_role, self.storage],
                                            ignore_changes=["initialNodeCount"])
        self.system_pool = self._system_nodes(after_role)
        self.node_pools = {plan.name: self._gpu_nodes(plan, after_role) for plan in plans}
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, self.cluster.master_auth.cluster_ca_certificate,
        ).apply(lambda values: gke.kubeconfig(*values)))
        vpc_names, subnet_names = _physical_names(self.network)
        self.kubernetes_objects = gke.gke_objects(spec, vpc_names, subnet_names)
        self.register_outputs({
            "clusterName": self.cluster_name, "kubeconfig": self.kubeconfig,
            "nodePools": {pool: p.name for pool, p in self.node_pools.items()}, "systemPool": self.system_pool.name,
            "nodeServiceAccount": email, "networks": self.network.networks,
        })

    def _bucket_access(self, project_number: pulumi.Output[str], project: str) -> None:
        """With Workload Identity, pods reach Cloud Storage as their namespace's identity, not the node's account: each
        team's namespace reads the datasets and writes the checkpoints (the GCS FUSE volumes in its pods)."""
        child = pulumi.ResourceOptions(parent=self)
        for team in self._spec.kubernetes.teams:
            member = project_number.apply(lambda n, ns=team.name: (
                f"principalSet://iam.googleapis.com/projects/{n}/locations/global/workloadIdentityPools/"
                f"{project}.svc.id.goog/namespace/{ns}"))
            gcp.storage.BucketIAMMember(f"{self._name}-{team.name}-datasets-read", bucket=self.storage.dataset_bucket,
                                        role="roles/storage.objectViewer", member=member, opts=child)
            gcp.storage.BucketIAMMember(f"{self._name}-{team.name}-checkpoints-write", bucket=self.storage.checkpoint_bucket,
                                        role="roles/storage.objectUser", member=member, opts=child)

    def _base_node_config(self, machine_type: str) -> dict[str, Any]:
        return {
            "machine_type": machine_type,
            "image_type": "COS_CONTAINERD",  # Managed Lustre mounts on COS only; GKE's driver installer targets it
            "service_account": self.node_service_account,
            "oauth_scopes": SCOPES,
            "workload_metadata_config": {"mode": "GKE_METADATA"},  # pods get their own identity, not the node's
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "boot_disk_kms_key": self._key,
        }

    def _system_nodes(self, opts: pulumi.ResourceOptions) -> gcp.container.NodePool:
        spec = self._spec
        return gcp.container.NodePool(
            f"{self._name}-{SYSTEM_POOL}",
            name=SYSTEM_POOL,
            cluster=self.cluster.id,
            location=spec.region,
            node_locations=gke.system_node_locations(spec),
            node_count=gke.system_nodes_per_zone(spec),
            node_config={**self._base_node_config(gke.SYSTEM_MACHINE_TYPE), "labels": gke.SYSTEM_LABELS,
                         "resource_labels": {**self._labels, "gpucluster-pool": SYSTEM_POOL}},
            network_config={"enable_private_nodes": True},
            management={"auto_repair": True, "auto_upgrade": True},
            upgrade_settings={"strategy": "SURGE", "max_surge": 1, "max_unavailable": 0},  # general-purpose capacity can surge
            opts=opts,
        )

    def _gpu_nodes(self, node_pool: NodePoolPlan, opts: pulumi.ResourceOptions) -> gcp.container.NodePool:
        spec, plan = self._spec, node_pool.plan
        pool, capacity = plan.pool, plan.pool.capacity
        flex, spot = node_pool.source == "flex-start", node_pool.source == "spot"
        series = plan.instance.name.rsplit("-", 1)[0]
        config = {
            **self._base_node_config(plan.instance.name),
            "disk_type": "hyperdisk-balanced" if series in HYPERDISK_SERIES else "pd-balanced",  # A3 Ultra, A4: Hyperdisk only
            "disk_size_gb": pool.root_volume_gb,
            "gvnic": {"enabled": True},
            "guest_accelerators": [{"type": gke.accelerator_type(node_pool), "count": plan.gpus_per_node,
                                    "gpu_driver_installation_config": {"gpu_driver_version": gke.GPU_DRIVER_VERSION}}],
            "labels": gke.node_labels(node_pool),
            "taints": gke.node_taints(node_pool),
            "reservation_affinity": gke.reservation_affinity(node_pool.source, capacity.reservation_name),
            "resource_labels": {**self._labels, "gpucluster-pool": pool.name, "gpucluster-purpose": pool.purpose},
        }
        if spot:
            config["spot"] = True
        if flex:
            config["flex_start"] = True
            if capacity.max_run_hours:  # else GKE's limit for flex-start VMs, 7 days
                config["max_run_duration"] = f"{round(capacity.max_run_hours * 3600)}s"
        if plan.instance.local_disks.count:  # every local SSD under kubelet: pods' ephemeral storage and emptyDir
            config["ephemeral_storage_local_ssd_config"] = {"local_ssd_count": plan.instance.local_disks.count}
        if gke.transport(node_pool) == "gpudirect-rdma":
            config["gpudirect_strategy"] = "RDMA"
        vpc_names, subnet_names = _physical_names(self.network)
        networks = [{"network": vpc_names[vpc], "subnetwork": subnet_names[subnet]}
                    for vpc, subnet in gke.additional_node_networks(node_pool)]
        return gcp.container.NodePool(
            f"{self._name}-{pool.name}",
            name=pool.name,
            cluster=self.cluster.id,
            location=spec.region,
            node_locations=list(plan.zones),
            autoscaling={"total_min_node_count": 0 if flex else pool.size.min, "total_max_node_count": pool.size.max,
                         # ANY: spot and flex-start take whichever zone has the capacity (XPK's flex pools do the same)
                         "location_policy": "ANY" if flex or spot else "BALANCED"},
            initial_node_count=gke.initial_nodes_per_zone(node_pool),
            # Compact placement for fabric pools (never under a reservation, which decides placement itself); not with
            # queued provisioning, which GKE refuses it with on GPU pools (CT's preconditions).
            placement_policy={"type": "COMPACT"} if plan.placement_group and not flex else None,
            queued_provisioning={"enabled": True} if flex else None,
            network_config={"enable_private_nodes": True, "additional_node_network_configs": networks or None},
            node_config=config,
            # Flex-start nodes may not be auto-repaired (CT's preconditions); the others are. Upgrades (only in the
            # maintenance window; a release channel requires auto-upgrade) take one node at a time without a surge
            # node, which a GPU pool on a reservation has no room for; a training job loses at most that node and
            # restarts from its checkpoint. The initial size is ignored after creation (changing it would replace the
            # pool); the autoscaler owns the size between min and max.
            management={"auto_repair": not flex, "auto_upgrade": True},
            upgrade_settings={"strategy": "SURGE", "max_surge": 0, "max_unavailable": 1},
            opts=opts,
        )


def _physical_names(network: ClusterNetwork) -> tuple[dict[str, Any], dict[str, Any]]:
    """The networks' and subnetworks' names by role (GKE names them, not self links): ClusterNetwork's own maps, or
    the last part of each self link where an older ClusterNetwork has no such maps."""
    vpcs = getattr(network, "network_names", None) or {r: _last(link) for r, link in network.networks.items()}
    subnets = getattr(network, "subnet_names", None) or {r: _last(link) for r, link in network.subnets.items()}
    return vpcs, subnets


def _last(link: pulumi.Output[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(link).apply(lambda value: value.rsplit("/", 1)[-1])
