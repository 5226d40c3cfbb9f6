"""AWS components: network, storage tiers, node identity, GPU groups and spot pools, and the cluster."""

from .cluster import AwsGpuCluster, AwsGpuClusterArgs
from .instance_group import GpuInstanceGroup, GpuInstanceGroupArgs
from .identity import NodeIdentity, NodeIdentityArgs
from .network import ClusterNetwork, ClusterNetworkArgs
from .spot_pool import SpotTrainingPool, SpotTrainingPoolArgs
from .storage import TieredStorage, TieredStorageArgs

__all__ = [
    "AwsGpuCluster",
    "AwsGpuClusterArgs",
    "ClusterNetwork",
    "ClusterNetworkArgs",
    "GpuInstanceGroup",
    "GpuInstanceGroupArgs",
    "NodeIdentity",
    "NodeIdentityArgs",
    "SpotTrainingPool",
    "SpotTrainingPoolArgs",
    "TieredStorage",
    "TieredStorageArgs",
]
