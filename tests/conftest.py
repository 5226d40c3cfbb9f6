"""Fixtures shared by the tests."""

import pytest

from gpucluster.preview.engine import PreviewResult

from .helpers import BASE_SPEC, preview_spec


@pytest.fixture(scope="session")
def p5_preview() -> PreviewResult:
    return preview_spec(BASE_SPEC)
