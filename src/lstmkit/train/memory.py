"""Keep the memory a training step frees for the next step (glibc's malloc thresholds).

A training step allocates and frees the same tensors at every step: activations, gradients,
the optimiser's temporaries. In the lab's copy task (an LSTM of 128 units, batch 128, 20
steps) a dozen of them are 1.3 MB each. glibc's ``malloc`` serves a block above its *mmap
threshold* (128 KiB at start, raised as such blocks are freed) with fresh pages from the
system, and gives the free top of its heap back to the system once it exceeds the *trim
threshold*; the next step then takes every page again, one page fault per 4 KiB (about 300
a step there, each a trip into the operating system, dearer in a virtual machine). With both
thresholds raised, a freed block stays in the heap and the next step reuses it.

Only where memory comes from changes, never a value: results are bitwise the same. The
price is memory held: a process keeps up to ``trim_threshold`` of freed heap (64 MiB by
default) and serves blocks up to ``mmap_threshold`` (32 MiB) from the heap.

The setting is process-wide and cannot be undone, so lstmkit applies it only in processes it
owns: the ``lstmkit`` command and the lab's worker processes. A script may call
:func:`retain_freed_memory` itself. Elsewhere than Linux with glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

#: mallopt's parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's own ceiling for its dynamic threshold on 64-bit
TRIM_THRESHOLD = 64 * 1024 * 1024

_applied: dict[str, int] | None = None


def _glibc():
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


def retain_freed_memory(mmap_threshold: int = MMAP_THRESHOLD,
                        trim_threshold: int = TRIM_THRESHOLD) -> dict[str, int] | None:
    """Raise glibc malloc's mmap and trim thresholds for this process (see the module's
    docstring). Returns the thresholds set, or None where there is no glibc or it refused
    them (the process then runs as before). Calling it again sets them again."""
    global _applied
    if mmap_threshold < 0 or trim_threshold < 0:
        raise ValueError("the thresholds are sizes in bytes, at least 0")
    libc = _glibc()
    if libc is None:
        return None
    if libc.mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)) != 1:
        return None
    if libc.mallopt(M_TRIM_THRESHOLD, int(trim_threshold)) != 1:
        return None
    _applied = {"mmap_threshold": int(mmap_threshold), "trim_threshold": int(trim_threshold)}
    return dict(_applied)


def freed_memory_setting() -> dict[str, int] | None:
    """The thresholds :func:`retain_freed_memory` last set in this process (None: never)."""
    return None if _applied is None else dict(_applied)
