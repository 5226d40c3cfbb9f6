"""AWS components: network, GPU instance groups, and the cluster that ties them together."""

from .cluster import AwsGpuCluster, AwsGpuClusterArgs
from .instance_group import GpuInstanceGroup, GpuInstanceGroupArgs
from .network import ClusterNetwork, ClusterNetworkArgs

__all__ = [
    "AwsGpuCluster",
    "AwsGpuClusterArgs",
    "ClusterNetwork",
    "ClusterNetworkArgs",
    "GpuInstanceGroup",
    "GpuInstanceGroupArgs",
]
