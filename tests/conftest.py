"""Fixtures shared by the tests."""

import gc
import os

import pytest

from gpucluster.preview.engine import PreviewResult

from .helpers import BASE_SPEC, preview_spec
from .moto_catalog import moto_endpoint

# moto loads some thousand public AMIs into every region's EC2 backend it creates (a third of a second each); no test
# reads them (the preflight image checks register their own), so the EC2 backends start empty of images.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

# A test process holds the provider SDKs, moto and the catalogs (a few hundred thousand long-lived objects), and the
# Pulumi SDK allocates enough per resource that the collector would traverse them all again and again: collect
# less often, and leave what collection imported out of it.
gc.set_threshold(50_000, 20, 100)


def pytest_collection_finish(session):
    gc.freeze()


@pytest.fixture(scope="session")
def p5_preview() -> PreviewResult:
    return preview_spec(BASE_SPEC)


@pytest.fixture(scope="module")
def moto_server():
    """moto in server mode on loopback (a real HTTP endpoint), one per test module so their accounts stay apart."""
    with moto_endpoint() as url:
        yield url

