"""Fixtures shared by the tests."""

import os
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings

from gpucluster.preview.engine import PreviewResult

from .helpers import BASE_SPEC, preview_spec
from .moto_catalog import moto_endpoint

# Hypothesis profiles for tests/test_properties.py, chosen with HYPOTHESIS_PROFILE (`make fuzz` sets "fuzz").
# "default" (make test): few examples, derandomized so every run tries the same inputs, no example database.
# "fuzz": many more, random, failures kept in .hypothesis/ (git-ignored) and replayed first on the next run.
# The preview property runs a tenth of max_examples (tests/test_properties.py, PREVIEW_EXAMPLES).
settings.register_profile(
    "default",
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,  # shared 2-core CI machines: bound the run by example counts, not per-example timing
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=2000,
    deadline=timedelta(seconds=5),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def p5_preview() -> PreviewResult:
    return preview_spec(BASE_SPEC)


@pytest.fixture(scope="module")
def moto_server():
    """moto in server mode on loopback (a real HTTP endpoint), one per test module so their accounts stay apart."""
    with moto_endpoint() as url:
        yield url
