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


# Pod Security Admission (Kubernetes docs, "Pod Security Standards"): the operators' pods are privileged (drivers,
# device plugins); training pods add IPC_LOCK (RDMA memory registration), which the baseline level refuses, so the
# team namespaces enforce privileged too and audit against baseline, which logs anything beyond it.
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
OPERATOR_NAMESPACE_LABELS = {PSA_ENFORCE: "privileged"}
TEAM_NAMESPACE_LABELS = {PSA_ENFORCE: "privileged", "pod-security.kubernetes.io/audit": "baseline"}


@dataclass
class GpuWorkloadsArgs:
    spec: ClusterSpec
    kubeconfig: pulumi.Input[str] | None  # None: the kubeconfig of the machine running Pulumi, at `context`
    objects: list[dict[str, Any]] = field(default_factory=list)  # the cloud's own objects; values may be outputs
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # what must exist first (nodes, add-ons)
    context: str | None = None  # the kubeconfig context to use


class GpuWorkloads(pulumi.ComponentResource):
    """Every Kubernetes object goes through the one explicit provider, so none can reach another cluster by the
    ambient kubeconfig."""

    def __init__(self, name: str, args: GpuWorkloadsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:kubernetes:GpuWorkloads", name, None, opts)
        spec = args.spec
        self.provider = k8s.Provider(f"{name}-cluster", kubeconfig=args.kubeconfig, context=args.context,
                                     enable_server_side_apply=True, opts=pulumi.ResourceOptions(parent=self))
        self._name = name
        self._opts = pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=args.depends_on)
        namespaces = [self._namespace(team.name, TEAM_NAMESPACE_LABELS) for team in spec.kubernetes.teams]
        planned = releases(spec)
        operator_namespaces = {release.chart.namespace: self._namespace(release.chart.namespace, OPERATOR_NAMESPACE_LABELS)
                               for release in planned if release.chart.privileged}
        installed = [self._release(release, operator_namespaces.get(release.chart.namespace)) for release in planned]
        after = pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[*namespaces, *installed])
        self.objects = [self._apply(obj, after) for obj in [*queue_objects(spec), *args.objects]]
        self.releases = {release.chart.name: resource for release, resource in zip(planned, installed)}
        self.register_outputs({"releases": {r.chart.name: r.chart.version for r in planned}})

    def _namespace(self, name: str, labels: dict[str, str]) -> pulumi.CustomResource:
        return self._apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}, self._opts)

    def _release(self, release: Release, namespace: pulumi.Resource | None) -> k8s.helm.v3.Release:
        chart = release.chart
        opts = self._opts if namespace is None else pulumi.ResourceOptions.merge(
            self._opts, pulumi.ResourceOptions(depends_on=[namespace]))
        return k8s.helm.v3.Release(
            f"{self._name}-{chart.name}",
            name=chart.name,
            chart=chart.chart,
            version=chart.version,
            repository_opts={"repo": chart.repo} if chart.repo else None,
            namespace=chart.namespace,
            create_namespace=namespace is None,  # operators' namespaces are made above, with their Pod Security label
            values=release.values,
            atomic=True,  # a failed install or upgrade rolls back instead of leaving half a release
            timeout=RELEASE_TIMEOUT_SECONDS,
            opts=opts,
        )

    def _apply(self, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        metadata = obj["metadata"]
        name = "-".join([self._name, *([metadata["namespace"]] if "namespace" in metadata else []), obj["kind"].lower(), metadata["name"]])
        body = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind")}
        built_in = _BUILT_IN.get((obj["apiVersion"], obj["kind"]))
        if built_in:
            return built_in(name, **body, opts=opts)
        return k8s.apiextensions.CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"], **body, opts=opts)
