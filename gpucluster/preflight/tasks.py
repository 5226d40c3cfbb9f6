"""A preflight question and how the questions are run: one that raises becomes an "error" check and the rest
still run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..refresh_io import Progress
from .model import Check
from .retry import unanswered


@dataclass(frozen=True)
class Task:
    check: str  # the check's name when the task cannot be answered
    service: str
    permission: str  # what the caller must be allowed to do, named in the action of an access-denied error
    run: Callable[[], list[Check]]


def run_tasks(tasks: Sequence[Task], region: str, progress: Progress | None = None) -> list[Check]:
    checks: list[Check] = []
    for done, task in enumerate(tasks, 1):
        try:
            checks.extend(task.run())
        except Exception as exc:  # credentials, permissions, network: reported on the check, the others still run
            checks.append(unanswered(task.check, exc, task.permission, task.service, region))
        if progress:
            progress(done, len(tasks), task.check)
    return checks
