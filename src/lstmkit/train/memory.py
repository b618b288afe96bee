"""Keep the memory a training step frees for the next step (glibc's malloc settings).

A training step allocates and frees the same tensors at every step: activations, gradients,
the optimiser's temporaries. In the lab's copy task (an LSTM of 128 units, batch 128, 20
steps) a dozen of them are 1.3 MB each; a classifier reading 18,000 steps at once has blocks of
100 MB and more. glibc's ``malloc`` serves a block above its *mmap threshold* (128 KiB at
start, raised as such blocks are freed, never above 32 MiB) with pages mapped for it alone and
unmaps them when it is freed, and gives the free top of its heap back to the system once that
exceeds the *trim threshold*; the next step then takes every page again, one page fault per
4 KiB, each a trip into the operating system that zeroes the page (about 300 a step in the copy
task; 80,000 a step and an eighth of the run's time in the 18,000-step classifier).

:func:`retain_freed_memory` therefore serves every block from the heap, however large
(``M_MMAP_MAX`` 0; with ``map_large_blocks=True`` blocks above ``mmap_threshold`` are still
mapped, glibc's own way), and raises the trim threshold, so a freed block stays in the heap
and the next step reuses it.

Only where memory comes from changes, never a value: results are bitwise the same. The
price is memory held: a process keeps up to ``trim_threshold`` of freed memory at the top of
its heap (1 GiB by default) and keeps what it frees below that top for its own reuse, so its
resident size stays near its peak until it exits.

The setting is process-wide and cannot be undone, so lstmkit applies it only in processes it
owns: the ``lstmkit`` command, the lab's worker processes and the classification benchmark
scripts. A script may call :func:`retain_freed_memory` itself. Elsewhere than Linux with glibc
it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

#: mallopt's parameter numbers (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's own ceiling for its dynamic threshold on 64-bit
TRIM_THRESHOLD = 1024 * 1024 * 1024  # mallopt takes an int: at most 2 GiB - 1
MMAP_MAX = 65536  # glibc's default number of blocks mapped at once, restored by map_large_blocks=True

_applied: dict[str, int | bool] | None = None


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
                        trim_threshold: int = TRIM_THRESHOLD, *,
                        map_large_blocks: bool = False) -> dict[str, int | bool] | None:
    """Keep freed memory in this process for reuse (see the module's docstring): every block
    from the heap (``map_large_blocks=True``: blocks above ``mmap_threshold`` mapped on their
    own, as glibc does), the heap's free top given back only above ``trim_threshold`` bytes.
    Returns the setting, or None where there is no glibc or it refused it (the process then
    runs as before). Calling it again sets it again."""
    global _applied
    if mmap_threshold < 0 or trim_threshold < 0:
        raise ValueError("the thresholds are sizes in bytes, at least 0")
    if trim_threshold > 2**31 - 1 or mmap_threshold > 2**31 - 1:
        raise ValueError("the thresholds are at most 2 GiB - 1 bytes (mallopt takes an int)")
    libc = _glibc()
    if libc is None:
        return None
    if libc.mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)) != 1:
        return None
    if libc.mallopt(M_TRIM_THRESHOLD, int(trim_threshold)) != 1:
        return None
    if libc.mallopt(M_MMAP_MAX, MMAP_MAX if map_large_blocks else 0) != 1:
        return None
    _applied = {"mmap_threshold": int(mmap_threshold), "trim_threshold": int(trim_threshold),
                "map_large_blocks": bool(map_large_blocks)}
    return dict(_applied)


def freed_memory_setting() -> dict[str, int | bool] | None:
    """The thresholds :func:`retain_freed_memory` last set in this process (None: never)."""
    return None if _applied is None else dict(_applied)
