"""The one clock cacheprof times builds with: epoch seconds that never jump.

`time.time()` follows the wall clock, which NTP or an admin may step at any moment, so a difference of
two readings is not a duration. `now()` reads the wall clock once, at import, and from then on advances
with `time.perf_counter()`: differences of `now()` values are perf_counter differences, and the values
still read as epoch seconds beside BuildKit's own timestamps.
"""

from __future__ import annotations

import time

_EPOCH_AT_ZERO = time.time() - time.perf_counter()


def now() -> float:
    """Epoch seconds, advanced by the monotonic performance counter."""
    return _EPOCH_AT_ZERO + time.perf_counter()
