"""The base of a change: its previews, from a folder of preview JSON files or by previewing a git ref.

A git ref is checked out into a temporary work tree and each stack previewed there by its own program, in a
separate process (`python -m gpucluster.cli preview STACK --json`), so the base's code and modules never mix with
the head's. A stack that does not exist at the base is new: every resource of it is created.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..preview.stackfile import StackFileError, load_project

BASE_TIMEOUT_SECONDS = 900


class BaseError(Exception):
    """The base cannot be read or checked out (not a stack's failure to preview, which is reported per stack)."""


def from_folder(folder: Path, stack: str) -> dict[str, Any] | None:
    """`<folder>/<stack>.json`, as `gpucluster preview STACK --json` writes it; None when the stack has none."""
    path = folder / f"{stack}.json"
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BaseError(f"{path}: not a preview JSON file: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
        raise BaseError(f"{path}: not a preview JSON file (no 'resources' list); write it with "
                        f"`gpucluster preview {stack} --json`")
    return document


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise BaseError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def from_ref(project_root: Path, ref: str, stacks: list[str], log: Callable[[str], None]) -> dict[str, dict | str | None]:
    """Each stack's preview at `ref`: its JSON, None when the stack does not exist there, or why it failed."""
    top = Path(_git("rev-parse", "--show-toplevel", cwd=project_root))
    commit = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=top)
    inside = project_root.resolve().relative_to(top.resolve())
    results: dict[str, dict | str | None] = {}
    with tempfile.TemporaryDirectory(prefix="gpucluster-base-") as scratch:
        tree = Path(scratch) / "base"
        _git("worktree", "add", "--detach", "--quiet", str(tree), commit, cwd=top)
        try:
            project = tree / inside
            for i, stack in enumerate(stacks, 1):
                log(f"[base {i}/{len(stacks)}] previewing {stack} at {ref} ({commit[:12]})")
                results[stack] = _preview(project, stack, tree)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=top, capture_output=True, timeout=300)
    return results


def _preview(project: Path, stack: str, tree: Path) -> dict | str | None:
    try:
        if not load_project(project).stack_file(stack).is_file():
            return None
    except StackFileError as exc:
        return str(exc)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run([sys.executable, "-m", "gpucluster.cli", "preview", stack, "--project", str(project), "--json"],
                              cwd=project, env=env, capture_output=True, text=True, timeout=BASE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return f"the base preview took longer than {BASE_TIMEOUT_SECONDS} s"
    if done.returncode not in (0, 1):  # 1: it previewed, and a mandatory policy failed there
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit code {done.returncode}"
    try:
        return json.loads(done.stdout)
    except ValueError:
        return "the base preview printed no JSON"
