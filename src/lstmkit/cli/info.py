"""``lstmkit info``: what this installation runs on, and the state of its kernel cache."""

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

    print(f"lstmkit  {lstmkit.__version__}")
    print(f"torch    {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"python   {platform.python_version()} on {platform.machine()}")
    for line in describe_backends():
        print(line)
    where = "LSTMKIT_CACHE" if os.environ.get("LSTMKIT_CACHE") else "default; set LSTMKIT_CACHE to move it"
    print(f"cache    {build.cache_root()} ({where})")
    for family in build.EXTENSIONS:  # after describe_backends, which built (or tried) lstm and gru_rnn
        print(f"         {family}: {build.cache_state(family)}")
    return 0
