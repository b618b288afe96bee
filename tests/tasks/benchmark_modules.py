"""The scripts under benchmarks/ loaded as modules by path, for the tests of their pieces
(benchmarks/ is not a package and is not on sys.path)."""

import contextlib
import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@contextlib.contextmanager
def benchmark_module(filename: str):
    """``benchmarks/<filename>`` imported under its stem, registered in ``sys.modules`` while in
    use (its dataclasses look their module up there) and removed after."""
    path = BENCHMARKS / filename
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
