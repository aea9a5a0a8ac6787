"""Keeping the cyclic GC's full collections short once the SDKs are loaded.

With the SDKs imported, a full collection walks every module, class and cache: 100–120 ms
with the loop held, every second or two while streams make garbage. A program that opts in
(`manage()`: the headless commands; the dashboard has the same policy of its own) has what
was loaded frozen out of the collector each time clients are ready and new modules arrived,
and young objects collected less often.
"""

from __future__ import annotations

import gc
import sys

# Streams allocate thousands of short-lived objects a second: the dashboard's threshold.
GC_THRESHOLD = 10_000

_managed = False
_frozen_modules = 0


def manage() -> None:
    """Opt this process in (its entry point decides; a library never does)."""
    global _managed
    _managed = True
    gc.set_threshold(GC_THRESHOLD, 10, 10)


def settle() -> None:
    """Clients are ready and a clock is about to start: freeze what is loaded, when modules
    were imported since the last time. O(1): frozen objects move to a list never scanned."""
    global _frozen_modules
    if _managed and len(sys.modules) != _frozen_modules:
        _frozen_modules = len(sys.modules)
        gc.freeze()
