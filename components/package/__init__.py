"""The components other Pulumi languages use, through the component provider in provider/ (README, "Use from any
language")."""

from importlib.metadata import version

from .clusters import AwsCluster, GcpCluster, KubernetesCluster

PACKAGE = "gpucluster"
VERSION = version("gpucluster")
PACKAGE_COMPONENTS = [AwsCluster, GcpCluster, KubernetesCluster]
