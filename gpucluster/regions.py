"""Named sets of regions the residency setting and the sovereignty pack understand. Pure data."""

from __future__ import annotations

import re

# EU member-state regions. London (eu-west-2, europe-west2) and Zurich (eu-central-2, europe-west6) are not in
# the EU. AWS European Sovereign Cloud (partition aws-eusc) is. GCS's `EU` multi-region stores data in EU
# member states only. Sources: shared/reference gcp-anchors §5.2 and §6 (GCS locations, Assured Workloads EU
# data boundary), AWS Regions list.
EU = frozenset({
    # AWS
    "eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2", "eusc-de-east-1",
    # GCP regions
    "europe-central2", "europe-north1", "europe-north2", "europe-southwest1", "europe-west1", "europe-west3",
    "europe-west4", "europe-west8", "europe-west9", "europe-west10", "europe-west12",
    # GCS multi-region
    "EU",
})

# EU member states by ISO 3166-1 alpha-2 code (Greece is GR), for sites outside any cloud region: a residency entry
# may name a country, and 'eu' admits all of these.
EU_COUNTRIES = frozenset({"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
                          "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"})
COUNTRY = re.compile(r"^[A-Z]{2}$")

SETS = {"eu": EU | EU_COUNTRIES}


def expand(allowed: list[str]) -> frozenset[str]:
    """Region names, country codes and named sets -> the regions and countries they allow."""
    out: set[str] = set()
    for entry in allowed:
        out |= SETS.get(entry, {entry})
    return frozenset(out)
