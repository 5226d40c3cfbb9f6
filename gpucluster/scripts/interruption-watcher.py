#!/usr/bin/env python3
"""Node-side interruption watcher for spot training pools. Standard library only.

AWS (CLOUD=aws): polls the instance metadata service (IMDSv2: a session token first, then every read with it)
for a spot interruption notice (`spot/instance-action`) or a termination by the auto scaling group
(`autoscaling/target-lifecycle-state` = Terminated). GCP (CLOUD=gcp): polls the metadata server (every read
with `Metadata-Flavor: Google`) for `instance/preempted` = TRUE; GCE gives a preempted VM 30 seconds.
On a notice, once:
  1. runs the pool's checkpoint command (if any), bounded by the time left,
  2. copies the checkpoint directory to the pool's checkpoint location (s3://... with `aws s3 sync`,
     gs://... with `gcloud storage rsync`, or a path on the shared file system),
  3. on AWS, completes the group's termination lifecycle action, so the node goes without waiting out the
     heartbeat.
A missing token, an unreachable endpoint or a failing step is logged and never stops the watcher.

Configuration comes from the environment (see `Config`); it is written by the node's user data.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone

TOKEN_TTL_SECONDS = 21600
SPOT_NOTICE_SECONDS = 120  # AWS gives two minutes between the notice and the interruption
GCE_NOTICE_SECONDS = 30  # GCE stops a preempted VM 30 seconds after telling it
SAFETY_MARGIN_SECONDS = 15  # left for the copy and the lifecycle call after the checkpoint command


def log(message: str) -> None:
    print(f"gpucluster-watcher: {message}", flush=True)


@dataclass(frozen=True)
class Config:
    cloud: str
    endpoint: str
    poll_seconds: float
    checkpoint_command: str
    checkpoint_dir: str
    destination: str
    lifecycle_hook: str
    heartbeat_seconds: int

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        cloud = env.get("CLOUD", "aws")
        default = "http://169.254.169.254" if cloud == "aws" else "http://metadata.google.internal/computeMetadata/v1"
        return cls(
            cloud=cloud,
            endpoint=env.get("IMDS_ENDPOINT", default).rstrip("/"),
            poll_seconds=float(env.get("POLL_SECONDS", "5")),
            checkpoint_command=env.get("CHECKPOINT_COMMAND", ""),
            checkpoint_dir=env.get("CHECKPOINT_DIR", "/scratch/checkpoints"),
            destination=env["CHECKPOINT_DESTINATION"],
            lifecycle_hook=env.get("LIFECYCLE_HOOK", ""),
            heartbeat_seconds=int(env.get("HEARTBEAT_SECONDS", "600")),
        )


def read(url: str, headers: dict[str, str]) -> str | None:
    """A metadata value, or None when there is none (404). Other HTTP errors and network failures raise."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


class Imds:
    """IMDSv2 client: every read carries a session token, refreshed when it expires or is refused."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.token: str | None = None

    def _refresh_token(self) -> None:
        request = urllib.request.Request(
            f"{self.endpoint}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)},
        )
        with urllib.request.urlopen(request, timeout=2) as response:
            self.token = response.read().decode()

    def get(self, path: str) -> str | None:
        """The value at `path`, or None when it does not exist (404). Raises OSError when IMDS is unusable."""
        for attempt in (1, 2):
            if self.token is None:
                self._refresh_token()
            try:
                return read(f"{self.endpoint}/latest/{path}", {"X-aws-ec2-metadata-token": self.token or ""})
            except urllib.error.HTTPError as error:
                if error.code == 401 and attempt == 1:
                    self.token = None  # expired or never valid: get a new one and ask again
                    continue
                raise
        return None


class GceMetadata:
    """The GCE metadata server: every read carries `Metadata-Flavor: Google` (it refuses reads without)."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    def get(self, path: str) -> str | None:
        return read(f"{self.endpoint}/{path}", {"Metadata-Flavor": "Google"})


@dataclass(frozen=True)
class Notice:
    reason: str
    deadline: float  # epoch seconds by which the node is gone


def check_gce(metadata: GceMetadata) -> Notice | None:
    if (metadata.get("instance/preempted") or "").strip().upper() == "TRUE":
        return Notice("GCE preemption notice", time.time() + GCE_NOTICE_SECONDS)
    return None


def check(imds: Imds, heartbeat_seconds: int) -> Notice | None:
    action = imds.get("meta-data/spot/instance-action")
    if action:
        when = json.loads(action).get("time")
        deadline = (
            datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
            if when
            else time.time() + SPOT_NOTICE_SECONDS
        )
        return Notice(f"spot interruption notice ({action.strip()})", deadline)
    if imds.get("meta-data/autoscaling/target-lifecycle-state") == "Terminated":
        return Notice("the auto scaling group is terminating this node", time.time() + heartbeat_seconds)
    return None


def run_checkpoint(config: Config, notice: Notice) -> None:
    if not config.checkpoint_command:
        log("no checkpoint command configured; copying what is in the checkpoint directory")
        return
    budget = max(1.0, notice.deadline - time.time() - SAFETY_MARGIN_SECONDS)
    log(f"running checkpoint command with {budget:.0f} s left: {config.checkpoint_command}")
    try:
        done = subprocess.run(config.checkpoint_command, shell=True, timeout=budget)
        log(f"checkpoint command exited {done.returncode}")
    except subprocess.TimeoutExpired:
        log("checkpoint command ran out of time; copying what it wrote so far")


def copy_checkpoints(config: Config, instance_id: str) -> None:
    source = config.checkpoint_dir
    target = f"{config.destination.rstrip('/')}/{instance_id}"
    if not os.path.isdir(source):
        log(f"nothing to copy: {source} does not exist")
        return
    if target.startswith("s3://") or target.startswith("gs://"):
        command = (["aws", "s3", "sync", "--only-show-errors", source, target] if target.startswith("s3://")
                   else ["gcloud", "storage", "rsync", "--recursive", source, target])
        done = subprocess.run(command)
        log(f"{' '.join(command)} exited {done.returncode}")
    else:
        shutil.copytree(source, target, dirs_exist_ok=True)
        log(f"copied {source} to {target}")


def complete_lifecycle(config: Config, imds: Imds, instance_id: str) -> None:
    group = imds.get("meta-data/tags/instance/aws:autoscaling:groupName")
    region = imds.get("meta-data/placement/region")
    if not group:
        log("no auto scaling group tag in instance metadata; nothing to complete")
        return
    command = [
        "aws", "autoscaling", "complete-lifecycle-action",
        "--lifecycle-hook-name", config.lifecycle_hook,
        "--auto-scaling-group-name", group,
        "--instance-id", instance_id,
        "--lifecycle-action-result", "CONTINUE",
    ] + (["--region", region] if region else [])
    done = subprocess.run(command)
    log(f"complete-lifecycle-action exited {done.returncode}")


def handle(config: Config, imds, notice: Notice) -> None:
    log(f"{notice.reason}; {notice.deadline - time.time():.0f} s left")
    instance_id = imds.get("meta-data/instance-id" if config.cloud == "aws" else "instance/name") or "unknown-instance"
    steps = [lambda: run_checkpoint(config, notice), lambda: copy_checkpoints(config, instance_id)]
    if config.cloud == "aws":
        steps.append(lambda: complete_lifecycle(config, imds, instance_id))
    for step in steps:
        try:
            step()
        except Exception as error:  # each step is worth trying even if the one before failed
            log(f"step failed: {type(error).__name__}: {error}")
    log("done")


def main() -> int:
    config = Config.from_env()
    imds = Imds(config.endpoint) if config.cloud == "aws" else GceMetadata(config.endpoint)
    log(f"watching {config.endpoint} every {config.poll_seconds:g} s")
    failures = 0
    while True:
        try:
            notice = check(imds, config.heartbeat_seconds) if config.cloud == "aws" else check_gce(imds)
            failures = 0
        except (OSError, ValueError) as error:  # unreachable, refused, timed out, or garbage
            failures += 1
            if failures in (1, 10) or failures % 100 == 0:
                log(f"instance metadata unavailable ({error}); retrying (failure {failures})")
            notice = None
        if notice:
            handle(config, imds, notice)
            return 0
        time.sleep(config.poll_seconds)


if __name__ == "__main__":
    sys.exit(main())
