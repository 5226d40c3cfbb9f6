"""The components other Pulumi languages use, through the component provider in provider/ (README, "Use from any
language"): the clusters, and the building blocks worth using alone."""

from importlib.metadata import version

from .aws_blocks import AwsGpuInstanceGroup, AwsNetwork, AwsSpotPool, AwsStorage
from .clusters import AwsCluster, GcpCluster, KubernetesCluster
from .gcp_blocks import GcpGpuInstanceGroup, GcpNetwork, GcpStorage

PACKAGE = "gpucluster"
VERSION = version("gpucluster")
PACKAGE_COMPONENTS = [AwsCluster, GcpCluster, KubernetesCluster, AwsNetwork, AwsGpuInstanceGroup, AwsSpotPool, AwsStorage,
                      GcpNetwork, GcpGpuInstanceGroup, GcpStorage]
