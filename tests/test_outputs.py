"""The cluster components' outputs have one shape on every cloud where the concept is the same (README, "Outputs"):
the same keys for pools, GPUs, network and storage, whichever cloud built them, and the stack exports them."""

from __future__ import annotations

import pytest

from gpucluster.preview.stackfile import find_project, read_stack
from gpucluster.preview.engine import run_program

from .helpers import ROOT

CLUSTERS = {"aws-p5-spot": "gpucluster:aws:GpuCluster", "eks-p5-kueue": "gpucluster:aws:GpuCluster",
            "gcp-a3-mega-spot": "gpucluster:gcp:GpuCluster", "gke-a3-ultra-kueue": "gpucluster:gcp:GpuCluster",
            "onprem-dgx-h100-ib": "gpucluster:kubernetes:ExistingCluster"}
TOP = {"cluster", "cloud", "region", "pools", "gpus"}  # and network and storage where the cluster has them
POOL = {"instanceType", "zones", "min", "max", "gpusPerNode", "capacity"}


@pytest.fixture(scope="module")
def outputs():
    project = find_project(ROOT)
    found = {}
    for stack, component in CLUSTERS.items():
        result = run_program(str(project.main), project.name, stack, read_stack(project, stack).values)
        (urn,) = [u for u in result.component_outputs if u.split("::")[-2].endswith(component)]
        found[stack] = (result.component_outputs[urn], result.outputs)
    return found


def test_every_cluster_component_outputs_the_same_keys(outputs):
    for stack, (registered, exported) in outputs.items():
        assert TOP <= set(registered), stack
        for name, pool in registered["pools"].items():
            assert POOL <= set(pool), (stack, name)
        assert set(registered["gpus"]) == {"min", "max"}
        assert set(registered) - {"releases", "site"} <= set(exported), stack  # the stack exports them


def test_network_and_storage_have_one_shape_on_both_clouds(outputs):
    for stack in ("aws-p5-spot", "gcp-a3-mega-spot", "eks-p5-kueue", "gke-a3-ultra-kueue"):
        registered = outputs[stack][0]
        assert set(registered["network"]) == {"id", "subnets"}, stack
        assert {"datasetBucket", "checkpointBucket", "kmsKey"} <= set(registered["storage"]), stack
    assert "sharedFileSystem" not in outputs["gcp-a3-mega-spot"][0]["storage"]  # none asked for
    spot_fs = outputs["aws-p5-spot"][0]["storage"]["sharedFileSystem"]
    assert set(spot_fs) == {"id", "mount", "capacityGiB", "throughputMBps"}


def test_pool_figures_follow_the_spec(outputs):
    aws = outputs["aws-p5-spot"][0]["pools"]["train"]
    assert (aws["instanceType"], aws["gpusPerNode"], aws["capacity"]) == ("p5.48xlarge", 8, ["spot"])
    gcp = outputs["gcp-a3-mega-spot"][0]["pools"]
    assert all(p["instanceType"].startswith("a3-megagpu") and p["zones"] for p in gcp.values())
    owned = outputs["onprem-dgx-h100-ib"][0]
    assert all(p["capacity"] == ["owned"] and "rollout" not in p for p in owned["pools"].values())
    assert "network" not in owned and "storage" not in owned
    assert owned["gpus"]["max"] == sum(p["max"] * p["gpusPerNode"] for p in owned["pools"].values())
