"""The README's two commands timed in fresh clones: `make preview`, then `make test`, each clone new.

A shared machine's speed varies from one hour to the next (seen here: the same commit took 99 s and 149 s an hour
apart), so take several runs and give their spread. Each run prints the CPU seconds make test used too.
Run: python3 bench/fresh_clone.py [--runs N] [--ref REF]   (REF: a commit of this checkout, HEAD by default)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (of the command and what it started), exit code and last line of output."""
    start, cpu = time.monotonic(), os.times()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    used = os.times()
    lines = done.stdout.strip().splitlines()
    return (time.monotonic() - start, used.children_user + used.children_system - cpu.children_user - cpu.children_system,
            done.returncode, lines[-1] if lines else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--ref", default="HEAD")
    args = parser.parse_args()
    # Beside this checkout, as CI's clean clone is, so that ../shared is where the tests look for it.
    clone = ROOT.parent / f"gpucluster-bench-{os.getpid()}"
    print("run  make preview s  make test s  make test CPU s  exit")
    for run in range(1, args.runs + 1):
        shutil.rmtree(clone, ignore_errors=True)
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "checkout", "--quiet", args.ref], cwd=clone, check=True)
        try:
            preview, _, preview_code, _ = timed(["make", "preview"], clone)
            test, test_cpu, test_code, last = timed(["make", "test"], clone)
        finally:
            shutil.rmtree(clone, ignore_errors=True)
        code = preview_code or test_code
        print(f"{run:>3}  {preview:>14.1f}  {test:>11.1f}  {test_cpu:>15.1f}  {code:>4}")
        if code:
            print(f"     failed: {last}")


if __name__ == "__main__":
    main()
