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
    assert after == remembered == {"mmap_threshold": 16 << 20, "trim_threshold": 48 << 20}
    assert total == 2 * 2560 * 128


def test_negative_thresholds_are_an_error():
    with pytest.raises(ValueError, match="at least 0"):
        retain_freed_memory(-1, 0)


def _setting_here():
    return freed_memory_setting()


@glibc
def test_the_lab_workers_keep_freed_memory():
    with JobPool(2) as pool:
        settings = pool.map(_setting_here, [(), ()])
    assert settings == [{"mmap_threshold": 32 << 20, "trim_threshold": 64 << 20}] * 2


@glibc
def test_the_console_command_keeps_freed_memory_and_info_says_so():
    done = subprocess.run([sys.executable, "-m", "lstmkit", "info"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert ("memory   freed memory kept for reuse (glibc malloc: mmap threshold 32 MiB, trim threshold 64 MiB)"
            in done.stdout.splitlines())
