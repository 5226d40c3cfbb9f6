"""Garbage collection for a process that previews: the provider SDKs, catalogs and price books loaded once live for
the whole run, while each previewed resource allocates a great deal. Measured: a sixth less time on `gpucluster ci`,
a quarter less per in-process preview in the tests; and freezing at exit takes 0.2 s off `gpucluster preview`,
about 2 s off `gpucluster ci` over the example stacks (6.1 s to 4.3 s)."""

from __future__ import annotations

import atexit
import gc

# At exit everything is frozen: the interpreter's last collection would otherwise walk the whole heap, only for the
# process to end. Registered when this module is first imported, early, so that it runs after later exit handlers.
atexit.register(gc.freeze)


def collect_less_often() -> None:
    """Collect less often, and keep everything alive now out of later collections (call again once more is loaded)."""
    gc.set_threshold(50_000, 20, 100)
    gc.freeze()
