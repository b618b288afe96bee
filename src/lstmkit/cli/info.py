"""``lstmkit info``: what this installation runs on, and the state of its kernel cache.

It builds the fused kernel families that are not built yet first, side by side
(:func:`lstmkit.nn.fused.build.build_all`), so ``scripts/setup.sh`` runs it to have every
kernel compiled before the first model or test needs one."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    import os
    import platform

    import torch

    import lstmkit
    from lstmkit.nn.backend import describe_backends
    from lstmkit.nn.fused import build

    missing = [family for family in build.EXTENSIONS if not build.cache_state(family).startswith("built")]
    if missing:
        print(f"building the fused kernels ({', '.join(missing)}): about a minute each, side by side", flush=True)
        build.build_all(missing)
    print(f"lstmkit  {lstmkit.__version__}")
    print(f"torch    {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"python   {platform.python_version()} on {platform.machine()}")
    print(f"cpu      {build.cpu_description()}")
    print(f"gemm     {build.gemm_settings()}")
    print(f"memory   {_memory_line()}")
    for line in describe_backends():
        print(line)
    where = "LSTMKIT_CACHE" if os.environ.get("LSTMKIT_CACHE") else "default; set LSTMKIT_CACHE to move it"
    print(f"cache    {build.cache_root()} ({where})")
    for family in build.EXTENSIONS:  # after the builds above and describe_backends
        print(f"         {family}: {build.cache_state(family)}")
    for line in _autotune_lines():
        print(line)
    return 0


def _memory_line() -> str:
    """Whether this process keeps freed memory for reuse (:mod:`lstmkit.train.memory`)."""
    from lstmkit.train.memory import freed_memory_setting

    setting = freed_memory_setting()
    if setting is None:
        return "freed memory goes back to the system (malloc's defaults: no glibc, or not the lstmkit command)"
    blocks = (f"mmap threshold {setting['mmap_threshold'] >> 20} MiB" if setting["map_large_blocks"]
              else "every block from the heap")
    return f"freed memory kept for reuse (glibc malloc: {blocks}, trim threshold {setting['trim_threshold'] >> 20} MiB)"


def _autotune_lines() -> list[str]:
    """What ``backend="auto"`` measured on this machine: how many shape classes, which run torch."""
    from lstmkit.nn import autotune

    state = "on" if autotune.enabled() else f"off ({autotune.ENV}=0: auto runs the fused kernels)"
    try:
        tuner = autotune.default_tuner()
        decisions = tuner.decisions()
    except Exception as exc:  # noqa: BLE001 - torch or the cache unreadable: say so, info goes on
        return [f"autotune {state}; decisions unreadable ({type(exc).__name__}: {exc})"]
    torch_picks = [d for d in decisions.values() if d.backend == "torch"]
    lines = [f"autotune {state}; {len(decisions)} shape classes measured here, {len(torch_picks)} run torch "
             f"({tuner.path})"]
    for d in sorted(decisions.values(), key=lambda d: d.key):
        lines.append(f"         {d.key}: {d.backend} (fused {d.fused_ms:.3g} ms, torch {d.torch_ms:.3g} ms)")
    return lines
