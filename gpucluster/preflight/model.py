"""What a preflight check reports, and the exit code a set of reports makes. Pure data: no cloud clients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["pass", "warn", "fail", "error"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "error")

EXIT_OK, EXIT_FAILED = 0, 1  # as the rest of the CLI (gpucluster.stackrun)
# A check could not ask the cloud (credentials, permissions, network) and none failed: the stack was not shown to fit,
# and not shown not to. 2 stays the CLI's usage error.
EXIT_UNCHECKED = 3


@dataclass(frozen=True)
class Check:
    """One answer: `check` names what was asked (and of which pool or zone), `found` what the cloud says, `needed`
    what the stack needs, `action` what to do when it is short."""

    check: str
    status: Status
    found: str = ""
    needed: str = ""
    action: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Clients are made by the caller: boto3's in the CLI, moto's or a Stubber's in the tests.
ClientFor = Callable[[str, str], Any]


def exit_code(checks: Iterable[Check]) -> int:
    statuses = {c.status for c in checks}
    if "fail" in statuses:
        return EXIT_FAILED
    return EXIT_UNCHECKED if "error" in statuses else EXIT_OK
