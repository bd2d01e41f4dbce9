"""Keep each frame's temporary arrays in the C heap instead of handing them back every frame.

glibc gives freed memory at the top of its heap back to the kernel once more than
``M_TRIM_THRESHOLD`` bytes are free there, and serves blocks over ``M_MMAP_THRESHOLD`` with
fresh ``mmap``s; both thresholds normally grow with the largest block a program frees. Once
MediaPipe is imported they can stay below one frame's working set, depending on what the
process allocated before: then the matte's few MB of 256x256 float32 planes are returned at
the end of every frame and page-faulted in again on the next (tests/test_heap.py: 4,496 of
10,660 pages a round without these settings, none with them). Measured at 1280x720:

* ``BokehProcessor.process`` on a DAVIS clip, in a script: matte stage 9.3-9.4 → 5.1-5.5 ms
  (medians of 70 frames); the colour guided filter alone 5.4 → 1.9 ms;
* ``livebokeh video --threads 1`` (200 frames, two alternating rounds): 9.84 / 10.25 → 9.64
  / 9.79 s, system time 0.62 / 0.69 → 0.44 / 0.48 s, peak RSS +9 MB;
* ``livebokeh bench``: unchanged (its process had already raised the thresholds).

Fixing only the trim threshold made the 1080p lens render 2.4x slower (fixing one turns off
glibc's growth of both, and the frame-size blocks went back to ``mmap``), so both are fixed,
at glibc's own ceiling for them on 64-bit.
"""

from __future__ import annotations

import ctypes
import platform

MMAP_THRESHOLD = 32 << 20  # bytes: the most glibc's dynamic mmap threshold grows to (64-bit)
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # glibc's own rule: trim at twice the mmap threshold
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, <malloc.h>
_done = False


def keep_frame_memory() -> bool:
    """Fix glibc's heap thresholds for this process (once); False where libc is not glibc."""
    global _done
    if _done:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
