"""How a bucket's expected size (spec storage.buckets) reaches the resource graph and is read back from it: the
storage components write the marker, the cost estimate reads it. One encoding per cloud, decided here only."""

from __future__ import annotations

from typing import Literal

EXPECTED_SIZE_TAG = "gpucluster:expected-size-tb"  # an S3 bucket tag, in TB
# A Cloud Storage label, in whole GB: label keys take no ':' and label values no '.' (Compute Engine, "Requirements
# for labels": lowercase letters, digits, '_' and '-').
EXPECTED_SIZE_LABEL = "gpucluster-expected-size-gb"

Cloud = Literal["aws", "gcp"]


def expected_size_marker(cloud: Cloud, tb: float | None) -> dict[str, str]:
    """The tag (AWS) or label (GCP) that carries `tb` to the graph; none without a size. A GCP size is whole GB, never
    0 for a size given."""
    if not tb:
        return {}
    return {EXPECTED_SIZE_TAG: f"{tb:g}"} if cloud == "aws" else {EXPECTED_SIZE_LABEL: str(max(1, round(tb * 1000)))}


def expected_tb(cloud: Cloud, markers: dict) -> float | None:
    """The expected size in TB that a bucket's tags (AWS) or labels (GCP) carry; None without one. ValueError when
    the marker is not a number."""
    key = EXPECTED_SIZE_TAG if cloud == "aws" else EXPECTED_SIZE_LABEL
    value = markers.get(key)
    if value is None:
        return None
    try:
        size = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} is {value!r}, not a number") from None
    return size if cloud == "aws" else size / 1000


def marker_name(cloud: Cloud) -> str:
    """What the marker is called where the estimate says it is missing."""
    return f"tag {EXPECTED_SIZE_TAG}" if cloud == "aws" else f"label {EXPECTED_SIZE_LABEL}"
