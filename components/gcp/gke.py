"""GkeCluster: a private GKE Standard cluster on the cluster's networks, and a GPU node pool per pool.

Built on `pulumi_gcp.container` resources directly, so the offline preview, the cost model and the policy packs see
every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from gpucluster.kube import gke
from gpucluster.kube.nodes import NodePoolPlan, node_pool_plans
from gpucluster.spec import ClusterSpec

from .network import ClusterNetwork

_TAINT_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}


@dataclass
class GkeClusterArgs:
    spec: ClusterSpec
    project: str
    network: ClusterNetwork
    node_service_account: pulumi.Input[str]  # email
    secrets_key: pulumi.Input[str]  # the storage key (a CryptoKey id) also encrypts the cluster's secrets
    labels: dict[str, str]


class GkeCluster(pulumi.ComponentResource):
    """Regional control plane with a private endpoint (public only to listed networks) and private nodes, Dataplane V2
    (with multi-networking when a pool has GPU NICs), Workload Identity, the release channel, secrets encrypted with the
    cluster's key, the GCS FUSE and Lustre CSI drivers when the storage needs them, managed DCGM metrics, two system
    nodes, and a node pool per pool with GKE's managed driver, its GPU networks, spot, compact placement,
    reservations, flex-start through queued provisioning, and local SSD as ephemeral storage."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    node_pools: dict[str, gcp.container.NodePool]

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:gcp:GkeCluster", name, None, opts)
        spec, kube = args.spec, args.spec.kubernetes
        self._args, self._name = args, name
        child = self._child = pulumi.ResourceOptions(parent=self)
        plans = node_pool_plans(spec)
        project = gcp.organizations.get_project_output(opts=pulumi.InvokeOutputOptions(parent=self))
        # The GKE service agent encrypts and decrypts the secrets with the key.
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-key", crypto_key_id=args.secrets_key, role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=project.number.apply(lambda n: f"serviceAccount:service-{n}@container-engine-robot.iam.gserviceaccount.com"),
            opts=child,
        )
        storage = spec.storage
        self.cluster = gcp.container.Cluster(
            name,
            location=spec.region,
            network=args.network.networks["host"],
            subnetwork=args.network.subnets["host"],
            remove_default_node_pool=True,
            initial_node_count=1,
            datapath_provider="ADVANCED_DATAPATH",
            enable_multi_networking=any(gke.transport(p) != "none" for p in plans) or None,
            ip_allocation_policy={"cluster_ipv4_cidr_block": gke.POD_RANGE, "services_ipv4_cidr_block": gke.SERVICE_RANGE},
            private_cluster_config={"enable_private_nodes": True, "enable_private_endpoint": not kube.public_access_cidrs},
            master_authorized_networks_config={"cidr_blocks": [{"cidr_block": c} for c in kube.public_access_cidrs]},
            workload_identity_config={"workload_pool": f"{args.project}.svc.id.goog"},
            release_channel={"channel": kube.release_channel},
            min_master_version=kube.version,
            database_encryption={"state": "ENCRYPTED", "key_name": args.secrets_key},
            addons_config={
                "gcs_fuse_csi_driver_config": {"enabled": bool(storage.buckets)},
                # The legacy Lustre port (6988) keeps clear of the GKE metadata server's (XPK recipe, CT gke-cluster).
                "lustre_csi_driver_config": {"enabled": bool(storage.shared), "enable_legacy_lustre_port": bool(storage.shared)},
            },
            monitoring_config={"enable_components": ["SYSTEM_COMPONENTS", "DCGM"], "managed_prometheus": {"enabled": True}},
            enable_shielded_nodes=True,
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},  # tokens only, no client certs
            # The project's Binary Authorization policy decides which images run (its default admits all).
            binary_authorization={"evaluation_mode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
            resource_labels=args.labels,
            deletion_protection=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )
        self.cluster_name = self.cluster.name
        self._system_nodes()
        self.node_pools = {plan.name: self._gpu_nodes(plan) for plan in plans}
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, self.cluster.master_auth.cluster_ca_certificate,
        ).apply(lambda values: gke.kubeconfig(*values)))
        self.register_outputs({"clusterName": self.cluster_name, "kubeconfig": self.kubeconfig,
                               "nodePools": {pool: p.name for pool, p in self.node_pools.items()}})

    def _node_config(self, machine_type: str, labels: dict[str, str]) -> dict:
        return {
            "machine_type": machine_type,
            "image_type": "COS_CONTAINERD",
            "service_account": self._args.node_service_account,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],  # IAM decides, not scopes
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "gvnic": {"enabled": True},
            "labels": labels,
            "resource_labels": self._args.labels,
        }

    def _system_nodes(self) -> gcp.container.NodePool:
        spec = self._args.spec
        return gcp.container.NodePool(
            f"{self._name}-system", cluster=self.cluster.id, location=spec.region, node_locations=[spec.zones[0]],
            node_count=gke.SYSTEM_NODES, node_config=self._node_config(gke.SYSTEM_MACHINE_TYPE, {"gpucluster.dev/role": "system"}),
            management={"auto_repair": True, "auto_upgrade": True}, opts=self._child,
        )

    def _gpu_nodes(self, node_pool: NodePoolPlan) -> gcp.container.NodePool:
        args, plan = self._args, node_pool.plan
        pool, pool_capacity = plan.pool, plan.pool.capacity
        flex = node_pool.source == "flex-start"
        config = {
            **self._node_config(plan.instance.name, node_pool.labels),
            "guest_accelerators": [{"type": gke.accelerator_type(node_pool), "count": plan.gpus_per_node,
                                    # GKE installs and upgrades the driver that matches the node's version.
                                    "gpu_driver_installation_config": {"gpu_driver_version": "LATEST"}}],
            "taints": [{"key": t.key, "value": t.value, "effect": _TAINT_EFFECT[t.effect]} for t in node_pool.taints],
            "spot": node_pool.source == "spot" or None,
            "flex_start": flex or None,
            "max_run_duration": f"{int(pool_capacity.max_run_hours * 3600)}s" if flex and pool_capacity.max_run_hours else None,
            "reservation_affinity": gke.reservation_affinity(node_pool.source, pool_capacity.reservation_name),
            "resource_labels": {**args.labels, "gpucluster-pool": pool.name},
        }
        if plan.instance.local_disks.count:  # NVMe local SSD under kubelet: pods' ephemeral storage and emptyDir
            config["ephemeral_storage_local_ssd_config"] = {"local_ssd_count": plan.instance.local_disks.count}
        if gke.transport(node_pool) == "gpudirect-rdma":
            config["gpudirect_strategy"] = "RDMA"
        # Every NIC after the first (the primary, on the host network) joins its own network.
        roles = [f"rdma-{nic.subnet}" if nic.network == "rdma" else nic.network for nic in plan.nics[1:]]
        return gcp.container.NodePool(
            f"{self._name}-{pool.name}",
            cluster=self.cluster.id,
            location=args.spec.region,
            node_locations=list(plan.zones),
            autoscaling={"total_min_node_count": 0 if flex else pool.size.min, "total_max_node_count": pool.size.max,
                         "location_policy": "ANY" if flex else "BALANCED"},
            initial_node_count=None if flex else pool.size.desired_or_min,
            placement_policy={"type": "COMPACT"} if plan.placement_group else None,
            queued_provisioning={"enabled": True} if flex else None,
            network_config={
                "enable_private_nodes": True,
                "additional_node_network_configs": [
                    {"network": args.network.network_names["rdma" if r.startswith("rdma-") else r], "subnetwork": args.network.subnet_names[r]}
                    for r in roles
                ] or None,
            },
            node_config={k: v for k, v in config.items() if v is not None},
            # Flex-start nodes are not repaired (GKE refuses it); others are. Upgrades take one node at a time without
            # a surge node, which a GPU pool rarely has room for.
            management={"auto_repair": not flex, "auto_upgrade": True},
            upgrade_settings={"strategy": "SURGE", "max_surge": 0, "max_unavailable": 1},
            opts=self._child,
        )

