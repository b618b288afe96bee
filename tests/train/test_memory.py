"""retain_freed_memory: glibc's malloc thresholds, set in the processes lstmkit owns.

Run in subprocesses: the setting is process-wide and cannot be undone. What is asserted is
the setting and where it is applied, never page-fault counts or timings (they depend on the
kernel and the allocator)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from lstmkit.tasks.lab_pool import JobPool
from lstmkit.train.memory import freed_memory_setting, retain_freed_memory

glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                           reason="mallopt is glibc's")


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@glibc
def test_sets_both_thresholds_and_remembers_them():
    out = _python(
        "import json, torch; from lstmkit.train import memory as m\n"
        "before = m.freed_memory_setting()\n"
        "after = m.retain_freed_memory(16 << 20, 48 << 20)\n"
        "x = torch.ones(2560, 128); y = (x * 2).sum().item()\n"  # tensors still allocate and compute
        "print(json.dumps([before, after, m.freed_memory_setting(), y]))")
    before, after, remembered, total = json.loads(out)
    assert before is None
    assert after == remembered == {"mmap_threshold": 16 << 20, "trim_threshold": 48 << 20, "map_large_blocks": False}
    assert total == 2 * 2560 * 128


_MALLINFO = (
    "import ctypes, json, sys, torch\n"
    "from lstmkit.train import memory as m\n"
    "class Info(ctypes.Structure):\n"
    "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd', 'usmblks',\n"
    "                                               'fsmblks', 'uordblks', 'fordblks', 'keepcost')]\n"
    "libc = ctypes.CDLL('libc.so.6')\n"
    "libc.mallinfo2.restype = Info\n"
    "setting = {setting}\n"
    "before = libc.mallinfo2()\n"
    "x = torch.ones(25_000_000)\n"  # 100 MB: above any mmap threshold glibc allows
    "alive = libc.mallinfo2()\n"
    "total = float(x.sum())\n"
    "del x\n"
    "freed = libc.mallinfo2()\n"
    "print(json.dumps([setting, total, alive.hblkhd - before.hblkhd, freed.arena, freed.fordblks]))")


def _large_block(setting: str):
    if not hasattr(__import__("ctypes").CDLL("libc.so.6"), "mallinfo2"):
        pytest.skip("mallinfo2 is glibc 2.33's")
    return json.loads(_python(_MALLINFO.replace("{setting}", setting)))


@glibc
def test_a_freed_large_block_stays_in_the_heap_for_the_next_step():
    setting, total, mapped_while_alive, heap, free_in_heap = _large_block("m.retain_freed_memory()")
    assert setting == {"mmap_threshold": 32 << 20, "trim_threshold": 1 << 30, "map_large_blocks": False}
    assert total == 25_000_000
    assert mapped_while_alive == 0  # served from the heap, not mapped on its own (blocks mapped at import stay)
    assert heap >= 100_000_000 and free_in_heap >= 100_000_000  # freed, and kept for reuse


@glibc
@pytest.mark.parametrize("setting", ["None", "m.retain_freed_memory(map_large_blocks=True)"])
def test_without_it_or_with_large_blocks_mapped_a_large_block_goes_back(setting):
    applied, total, mapped_while_alive, heap, free_in_heap = _large_block(setting)
    assert applied is None or applied["map_large_blocks"] is True
    assert total == 25_000_000
    assert mapped_while_alive >= 100_000_000  # glibc's own way: mapped for it alone ...
    assert free_in_heap < 100_000_000  # ... and unmapped when freed


def test_negative_thresholds_are_an_error():
    with pytest.raises(ValueError, match="at least 0"):
        retain_freed_memory(-1, 0)


def test_thresholds_beyond_an_int_are_an_error():
    with pytest.raises(ValueError, match="at most 2 GiB - 1 bytes"):
        retain_freed_memory(trim_threshold=2**31)


def _setting_here():
    return freed_memory_setting()


@glibc
def test_the_lab_workers_keep_freed_memory():
    with JobPool(2) as pool:
        settings = pool.map(_setting_here, [(), ()])
    assert settings == [{"mmap_threshold": 32 << 20, "trim_threshold": 1 << 30, "map_large_blocks": False}] * 2


@glibc
def test_the_console_command_keeps_freed_memory_and_info_says_so():
    done = subprocess.run([sys.executable, "-m", "lstmkit", "info"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert ("memory   freed memory kept for reuse (glibc malloc: every block from the heap, trim threshold 1024 MiB)"
            in done.stdout.splitlines())
