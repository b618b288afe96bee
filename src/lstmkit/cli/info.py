"""``lstmkit info``: what this installation runs on."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def run(args: argparse.Namespace) -> int:
    import platform

    import torch

    import lstmkit
    from lstmkit.nn.backend import describe_backends

    print(f"lstmkit  {lstmkit.__version__}")
    print(f"torch    {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"python   {platform.python_version()} on {platform.machine()}")
    for line in describe_backends():
        print(line)
    return 0
