"""GpuWorkloads: what runs inside the cluster for GPU training, applied through a provider made from the cluster's
kubeconfig: team namespaces, the Helm releases (GPU software, fabric plugin, JobSet, Kueue), the queues, and the
objects each cloud adds (storage volumes, GKE's network objects and NCCL installers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpucluster.kube.addons import Release, releases
from gpucluster.kube.kueue import queue_objects
from gpucluster.spec import ClusterSpec

# Built-in kinds by (apiVersion, kind); anything else is a custom resource whose CRD a release installs.
_BUILT_IN = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "PersistentVolume"): k8s.core.v1.PersistentVolume,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
}
# Charts with operators take a while to become ready (image pulls on fresh nodes); Helm's default is 5 minutes.
RELEASE_TIMEOUT_SECONDS = 900


@dataclass
class GpuWorkloadsArgs:
    spec: ClusterSpec
    kubeconfig: pulumi.Input[str]
    objects: list[dict[str, Any]] = field(default_factory=list)  # the cloud's own objects; values may be outputs
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # what must exist first (nodes, add-ons)


class GpuWorkloads(pulumi.ComponentResource):
    """Every Kubernetes object goes through the one explicit provider, so none can reach another cluster by the
    ambient kubeconfig."""

    def __init__(self, name: str, args: GpuWorkloadsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:kubernetes:GpuWorkloads", name, None, opts)
        spec = args.spec
        self.provider = k8s.Provider(f"{name}-cluster", kubeconfig=args.kubeconfig, enable_server_side_apply=True,
                                     opts=pulumi.ResourceOptions(parent=self))
        self._name = name
        self._opts = pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=args.depends_on)
        namespaces = [self._apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": team.name}}, self._opts)
                      for team in spec.kubernetes.teams]
        planned = releases(spec)
        installed = [self._release(release) for release in planned]
        after = pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[*namespaces, *installed])
        self.objects = [self._apply(obj, after) for obj in [*queue_objects(spec), *args.objects]]
        self.releases = {release.chart.name: resource for release, resource in zip(planned, installed)}
        self.register_outputs({"releases": {r.chart.name: r.chart.version for r in planned}})

    def _release(self, release: Release) -> k8s.helm.v3.Release:
        chart = release.chart
        return k8s.helm.v3.Release(
            f"{self._name}-{chart.name}",
            name=chart.name,
            chart=chart.chart,
            version=chart.version,
            repository_opts={"repo": chart.repo} if chart.repo else None,
            namespace=chart.namespace,
            create_namespace=True,
            values=release.values,
            atomic=True,  # a failed install or upgrade rolls back instead of leaving half a release
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=self._opts,
        )

    def _apply(self, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        metadata = obj["metadata"]
        name = "-".join([self._name, *([metadata["namespace"]] if "namespace" in metadata else []), obj["kind"].lower(), metadata["name"]])
        body = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind")}
        built_in = _BUILT_IN.get((obj["apiVersion"], obj["kind"]))
        if built_in:
            return built_in(name, **body, opts=opts)
        return k8s.apiextensions.CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"], **body, opts=opts)
