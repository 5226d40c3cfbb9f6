"""Policy evaluation time at 1,000 and 10,000 resources, per resource.

Builds previewed graphs of that size with the AWS components (the same synthetic program as
bench/preview_scale.py), then times `gpucluster.policies.harness.evaluate` (all three packs, every policy,
Analyze per resource plus AnalyzeStack) on each. Run: .venv/bin/python bench/policy_scale.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from preview_scale import PROGRAM, specs  # noqa: E402

from gpucluster.policies.harness import evaluate  # noqa: E402
from gpucluster.preview.engine import run_program  # noqa: E402

SIZES = {1000: (5, 45), 10000: (48, 50)}  # target resources: (clusters, pools per cluster)


def main() -> None:
    print(f"{'resources':>9}  {'preview s':>9}  {'policies s':>10}  {'ms/resource':>11}  {'findings':>8}")
    for clusters, pools in SIZES.values():
        with tempfile.TemporaryDirectory() as workdir:
            main_py = Path(workdir) / "__main__.py"
            main_py.write_text(PROGRAM)
            config = {"aws:region": "us-east-1", "bench:specs": json.dumps(specs(clusters, pools))}
            start = time.perf_counter()
            result = run_program(str(main_py), "bench", "bench", config)
            previewed = time.perf_counter() - start
            start = time.perf_counter()
            findings = evaluate(result, {})
            seconds = time.perf_counter() - start
        count = len(result.resources)
        print(f"{count:>9}  {previewed:>9.1f}  {seconds:>10.2f}  {1000 * seconds / count:>11.3f}  {len(findings):>8}", flush=True)


if __name__ == "__main__":
    main()
