"""The shipped AWS catalog, as `gpucluster catalog refresh --cloud aws` builds it from EC2's data as moto serves it:
moto in server mode on loopback (a real HTTP endpoint, boto3 clients against it), every region moto lists.

    .venv/bin/python -m tests.moto_catalog            # rewrite gpucluster/catalog/data/aws.yaml
    .venv/bin/python -m tests.moto_catalog --check    # exit 1 when the shipped file differs

tests/test_catalog_refresh.py runs the same build and compares, so the shipped file cannot drift from moto's data.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import boto3
import moto
import yaml
from moto.server import ThreadedMotoServer

from gpucluster.catalog.refresh import EC2_TYPES, catalog_file, refresh_aws

ORIGIN = (f"as moto {moto.__version__} serves it (moto/ec2/resources/instance_types.json.gz, "
          "instance_type_offerings/availability-zone), over HTTP from moto's server on loopback")


@contextmanager
def moto_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def clients(endpoint: str):
    def ec2_for(region: str):
        return boto3.client("ec2", region_name=region, endpoint_url=endpoint, aws_access_key_id="testing",
                            aws_secret_access_key="testing")
    return ec2_for


def shipped_date(path: Path | None = None) -> date:
    raw = yaml.safe_load((path or catalog_file()).read_text())
    return date.fromisoformat(raw["sources"][EC2_TYPES]["date"])


def build(path: Path, endpoint: str, today: date):
    return refresh_aws(None, clients(endpoint), path=path, progress=lambda *a: None, today=today, origin=ORIGIN)


def main(argv: list[str]) -> int:
    target = catalog_file()
    with moto_endpoint() as endpoint:
        if "--check" in argv:
            scratch = target.with_name(".aws-check.yaml")
            try:
                build(scratch, endpoint, shipped_date())
                same = scratch.read_bytes() == target.read_bytes()
            finally:
                scratch.unlink(missing_ok=True)
            print("the shipped AWS catalog is what the refresh builds" if same else f"{target} differs from the refresh",
                  file=sys.stderr)
            return 0 if same else 1
        scratch = target.with_name(".aws-new.yaml")  # a full refresh: nothing of the old file is kept
        try:
            types = build(scratch, endpoint, date.today())
            os.replace(scratch, target)
        finally:
            scratch.unlink(missing_ok=True)
    print(f"wrote {target}: {len(types)} types", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
