"""Offline preview cost at growing stack sizes, against the Pulumi SDK floor.

For each size, in fresh processes:
- ours:  the offline preview (`gpucluster.preview.engine.run_program`) of a program that validates
         specs and builds them with our components (AwsGpuCluster: ClusterNetwork + GpuInstanceGroups);
- floor: the same resources (same pulumi_aws classes, names, parents, inputs, and each input waiting on
         the same resources it waited on in ours) registered directly under the stock
         `pulumi.runtime.set_mocks`, with mocks that just echo inputs.
Prints the median wall time, its run's peak RSS, and the ratio. Run: .venv/bin/python bench/preview_scale.py
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {100: (1, 19), 1000: (5, 45), 4000: (20, 45)}  # target resources: (clusters, pools per cluster)
REPEATS = 3  # each figure is the median of this many runs, each in a fresh process
PROGRAM = '''
import json
import pulumi
from components.aws import AwsGpuCluster, AwsGpuClusterArgs
from gpucluster.validate import load_spec

for raw in json.loads(pulumi.Config("bench").require("specs")):
    spec, _ = load_spec(raw)
    AwsGpuCluster(spec.name, AwsGpuClusterArgs(spec))
'''


def specs(clusters: int, pools: int) -> list[dict]:
    return [
        {
            "name": f"c{c}",
            "cloud": "aws",
            "region": "us-east-1",
            "zones": ["us-east-1a", "us-east-1b"],
            "pools": [
                {"name": f"p{p}", "instanceType": "p5.48xlarge" if p % 2 else "g6.12xlarge", "size": {"min": 0, "max": 4}}
                for p in range(pools)
            ],
            "tags": {"owner": "bench", "costCenter": "cc", "project": "bench"},
        }
        for c in range(clusters)
    ]


def run_ours(workdir: Path, clusters: int, pools: int) -> dict:
    from gpucluster.preview.engine import run_program

    main = workdir / "__main__.py"
    main.write_text(PROGRAM)
    config = {"aws:region": "us-east-1", "bench:specs": json.dumps(specs(clusters, pools))}
    start = time.perf_counter()
    result = run_program(str(main), "bench", "bench", config)
    seconds = time.perf_counter() - start
    graph = [
        {"type": r.type, "name": r.name, "parent": r.parent, "custom": r.custom, "inputs": r.inputs, "urn": r.urn,
         "dependencies": r.dependencies}
        for r in result.resources
        if r.type != "pulumi:pulumi:Stack" and not r.type.startswith("pulumi:providers:")
    ]
    (workdir / "graph.json").write_text(json.dumps(graph))
    return {"seconds": seconds, "resources": len(result.resources)}


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _args(value):
    if isinstance(value, dict):
        return {_snake(k): _args(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_args(v) for v in value]
    return "unknown" if value == "<computed>" else value


def _dependency_order(graph: list[dict]) -> list[dict]:
    """Each node after its parent and after every resource its inputs came from."""
    by_urn = {node["urn"]: node for node in graph}
    ordered, done = [], set()

    def visit(node: dict) -> None:
        if node["urn"] in done:
            return
        done.add(node["urn"])
        for urn in [node["parent"], *(u for urns in node["dependencies"].values() for u in urns)]:
            if urn in by_urn:
                visit(by_urn[urn])
        ordered.append(node)

    for node in graph:
        visit(node)
    return ordered


def run_floor(workdir: Path) -> dict:
    import asyncio
    import importlib

    import pulumi

    graph = _dependency_order(json.loads((workdir / "graph.json").read_text()))

    class Echo(pulumi.runtime.Mocks):
        def new_resource(self, args):
            return (args.name + "-id" if args.custom else None), args.inputs

        def call(self, args):
            return {}

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(Echo(), project="bench", stack="bench", preview=True)
    start = time.perf_counter()
    created: dict[str, pulumi.Resource] = {}

    def program():
        for node in graph:
            opts = pulumi.ResourceOptions(parent=created.get(node["parent"]))
            if not node["custom"]:
                res = pulumi.ComponentResource(node["type"], node["name"], None, opts)
                res.register_outputs({})
            else:
                package, module, cls = node["type"].split(":")
                cls_ = getattr(importlib.import_module(f"pulumi_{package}.{module.split('/')[0]}"), cls)
                inputs = _args(node["inputs"])
                for key, urns in node["dependencies"].items():
                    # The same value, but only once the resources it came from are registered, as in ours.
                    waits = [created[urn].urn for urn in urns]
                    inputs[_snake(key)] = pulumi.Output.all(*waits).apply(lambda _, v=inputs[_snake(key)]: v)
                res = cls_(node["name"], opts=opts, **inputs)
            created[node["urn"]] = res

    program()
    loop.run_until_complete(pulumi.runtime.stack.wait_for_rpcs())
    return {"seconds": time.perf_counter() - start, "resources": len(graph)}


def child(kind: str, workdir: str, clusters: int, pools: int) -> None:
    result = run_ours(Path(workdir), clusters, pools) if kind == "ours" else run_floor(Path(workdir))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, workdir: str, clusters: int, pools: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, workdir, str(clusters), str(pools)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"{'resources':>9}  {'ours s':>7}  {'floor s':>7}  {'ratio':>5}  {'ours MB':>7}  {'floor MB':>8}  {'ours ms/res':>11}")
    for target, (clusters, pools) in SIZES.items():
        runs = {"ours": [], "floor": []}
        for _ in range(REPEATS):
            with tempfile.TemporaryDirectory() as workdir:
                runs["ours"].append(measure("ours", workdir, clusters, pools))
                runs["floor"].append(measure("floor", workdir, clusters, pools))
        ours, floor = (sorted(runs[kind], key=lambda r: r["seconds"])[REPEATS // 2] for kind in ("ours", "floor"))
        ratio = ours["seconds"] / floor["seconds"]
        print(
            f"{ours['resources']:>9}  {ours['seconds']:>7.2f}  {floor['seconds']:>7.2f}  {ratio:>5.2f}  "
            f"{ours['peak_rss_mb']:>7.0f}  {floor['peak_rss_mb']:>8.0f}  {1000 * ours['seconds'] / ours['resources']:>11.2f}",
            flush=True,
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
