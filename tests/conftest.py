"""Fixtures shared by the tests."""

import os

import pytest

from gpucluster.gctune import collect_less_often
from gpucluster.preview.engine import PreviewResult

from .helpers import BASE_SPEC, preview_spec
from .moto_catalog import moto_endpoint

# moto loads some thousand public AMIs into every region's EC2 backend it creates (a third of a second each); no test
# reads them (the preflight image checks register their own), so the EC2 backends start empty of images.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

# A test process holds the provider SDKs, moto and the catalogs, and previews as the command does: collect garbage as
# the command does, once now and again when collection has imported the rest.
collect_less_often()


def pytest_collection_finish(session):
    collect_less_often()


# The test files that take longest (5 s or more each, longest first as measured in a fresh clone: npm and a pack
# environment, node scripts, pack environments, Checkov, moto refreshes, SDK schemas, Hypothesis...) run first:
# `make test` has pytest-xdist hand files out in collection order (--no-loadscope-reorder; by default it hands out the
# files with the most tests first), so the last ones to finish are short. Only the order changes; within a file tests
# keep theirs.
LONGEST_FIRST = ("test_external_packs", "test_node_scripts", "test_policy_packs", "test_tfplan", "test_catalog_refresh",
                 "test_replacements", "test_properties", "test_package_blocks", "test_policies", "test_eks", "test_cli",
                 "test_gke", "test_preview", "test_ci")


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))


@pytest.fixture(scope="session")
def p5_preview() -> PreviewResult:
    return preview_spec(BASE_SPEC)


@pytest.fixture(scope="module")
def moto_server():
    """moto in server mode on loopback (a real HTTP endpoint), one per test module so their accounts stay apart."""
    with moto_endpoint() as url:
        yield url
