"""EKS decisions that are pure: the node image, the nodeadm settings, the add-ons, the system nodes, the kubeconfig."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..spec import ClusterSpec

# AL2023 with the NVIDIA driver, container toolkit and EFA software (amazon-eks-ami v20260714, CHANGELOG.md).
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
ROOT_DEVICE = "/dev/xvda"  # AL2023 AMIs
# Controllers (CoreDNS, Kueue, JobSet, the operators) need a home that is not a GPU node: two general-purpose nodes in
# different zones where the cluster has them. 4 vCPU and 16 GiB leave room for all of them.
SYSTEM_INSTANCE_TYPE = "m7i.xlarge"
SYSTEM_NODES = 2

CLUSTER_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
NODE_POLICIES = [  # what an EKS node role needs ("Amazon EKS node IAM role")
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
]
CLUSTER_POLICY = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AmazonEKSClusterAdminPolicy"


@dataclass(frozen=True)
class Addon:
    name: str
    before_nodes: bool  # nodes need it to become Ready (networking), so it exists before the node groups; the others
    # wait for the system nodes their controllers run on
    service_account: str | None = None  # given an IAM role through Pod Identity


def addons(spec: ClusterSpec) -> list[Addon]:
    """EKS add-ons, by the names EKS gives them ("Amazon EKS add-ons", workloads-add-ons-available-eks)."""
    wanted = [Addon("vpc-cni", True), Addon("kube-proxy", True), Addon("eks-pod-identity-agent", True),
              Addon("coredns", False)]
    if spec.storage.shared:
        # Static volumes only: the controller creates no file systems, so it needs no AWS permissions.
        wanted.append(Addon("aws-fsx-csi-driver", False))
    if spec.storage.buckets:
        wanted.append(Addon("aws-mountpoint-s3-csi-driver", False, service_account="s3-csi-driver-sa"))
    return wanted


ADDON_NAMES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-fsx-csi-driver", "aws-mountpoint-s3-csi-driver")


def nodeadm_user_data(raid_local_disks: bool) -> str | None:
    """A NodeConfig part for nodeadm, which EKS merges with its own (the AMI is EKS's, so only the difference is given):
    the instance-store NVMe disks as one RAID0 array under kubelet, containerd and pod logs, so pods' ephemeral storage
    and emptyDir volumes are local NVMe (amazon-eks-ami nodeadm/doc/api.md, `spec.instance.localStorage`)."""
    if not raid_local_disks:
        return None
    node_config = {"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig",
                   "spec": {"instance": {"localStorage": {"strategy": "RAID0"}}}}
    boundary = "GPUCLUSTER"
    return "\n".join([
        "MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"', "",
        f"--{boundary}", "Content-Type: application/node.eks.aws", "", json.dumps(node_config, indent=2), "",
        f"--{boundary}--", "",
    ])


def kubeconfig(cluster: str, endpoint: str, certificate_authority: str, region: str) -> str:
    """A kubeconfig that gets its token from the AWS CLI, as `aws eks update-kubeconfig` writes it."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": cluster,
        "clusters": [{"name": cluster, "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "users": [{"name": cluster, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster, "--region", region, "--output", "json"],
        }}}],
    })
