"""`lstmkit bench`: the table's rows and columns on a tiny shape, and its input errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lstmkit.nn import fused
from lstmkit.nn.fused import bench as timing


def _bench(*args):
    return subprocess.run([sys.executable, "-m", "lstmkit", "bench", *args], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.skipif(not fused.available(), reason="fused kernels unavailable")
@pytest.mark.slow
def test_bench_table_rows_and_json(tmp_path):
    raw = tmp_path / "raw.json"
    result = _bench("--shapes", "3,2,8", "--variants", "plain,peephole,gru", "--reps", "1",
                    "--reference-reps", "1", "--mode", "both", "--threads", "1", "--json", str(raw),
                    "--peak-gflops", "100")
    assert result.returncode == 0, result.stderr
    from lstmkit.nn.fused.build import cpu_description, gemm_settings

    assert f"cpu {cpu_description()}" in result.stdout.splitlines()  # which machine the table is from
    assert f"gemm {gemm_settings()}" in result.stdout.splitlines()  # and which GEMM path
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("train ", "infer "))]
    assert [(r[0], r[4]) for r in rows] == [(m, v) for m in ("train", "infer") for v in ("plain", "peephole", "gru")]
    results = json.loads(raw.read_text())
    assert [(r["mode"], r["variant"]) for r in results] == [(r[0], r[4]) for r in rows]
    for r, res in zip(rows, results):
        med = res["median_ms"]
        assert med["torch"] > 0 and med["fused"] > 0
        assert float(r[8].rstrip("x")) == pytest.approx(med["torch"] / med["fused"], abs=0.006)
        # %peak: the row's GEMM FLOPs per second as a share of the given 100 GFLOP/s
        flops = timing.gemm_flops(res["variant"], 3, 2, 8, res["mode"] == "train")
        assert float(r[10].rstrip("%")) == pytest.approx(100 * flops / (med["fused"] * 1e-3) / 100e9, abs=0.051)
    assert "assumed FP32 peak 100 GFLOP/s" in result.stdout
    peephole = next(r for r in rows if r[4] == "peephole")
    assert peephole[13].endswith("x") and peephole[14].startswith("(<=")  # vs ref and its bound
    assert "torch.nn.GRU" in " ".join(next(r for r in rows if r[4] == "gru"))
    # what backend="auto" ran (the suite measures nothing: LSTMKIT_AUTOTUNE=0, so the fused kernel)
    for r, res in zip(rows, results):
        if r[4] in ("plain", "gru"):
            assert "auto=fused" in r and res["median_ms"]["auto_backend"] == "fused" and res["median_ms"]["auto"] > 0


@pytest.mark.skipif(not fused.available("step"), reason="compiled step unavailable")
def test_bench_step_table():
    result = _bench("--mode", "step", "--step-sizes", "8,16", "--reps", "1", "--step-calls", "2")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.strip()[:2] in ("8 ", "16")]
    assert [r[0] for r in rows] == ["8", "16"]
    for r in rows:  # H | LSTMCell us, step us, ratio, streamer us, ratio | ...
        cell, step = float(r[2]), float(r[3])
        assert float(r[4].rstrip("x")) == pytest.approx(cell / step, rel=0.02, abs=0.01)


@pytest.mark.parametrize("args,message", [
    (["--variants", "foo"], "--variants"),
    (["--shapes", "3,2"], "--shapes"),
])
def test_bench_bad_arguments_exit_2(args, message):
    result = _bench(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not fused.available(), reason="fused kernels unavailable")
def test_bench_cpu_clock():
    """--clock cpu times the rows with the process's CPU time (and says so)."""
    result = _bench("--shapes", "3,2,8", "--variants", "plain", "--reps", "1", "--reference-reps", "0",
                    "--mode", "infer", "--threads", "1", "--clock", "cpu")
    assert result.returncode == 0, result.stderr
    assert "CPU time of the process" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("infer ")]
    assert len(rows) == 1 and float(rows[0][6]) > 0 and float(rows[0][7]) > 0


def test_bench_unknown_clock_exits_2():
    result = _bench("--clock", "sundial")
    assert result.returncode == 2 and "--clock" in result.stderr


def test_set_clock_rejects_unknown_clocks():
    from lstmkit.errors import InputError

    with pytest.raises(InputError, match="clock"):
        timing.set_clock("sundial")
    timing.set_clock("cpu")
    try:
        assert timing._time(lambda: sum(range(10000))) >= 0
    finally:
        timing.set_clock("wall")
