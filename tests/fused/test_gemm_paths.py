"""The fused kernels' two GEMM paths (MKL's packed GEMM, oneDNN's brgemm ukernel) against the
reference scan, each in a fresh process (the kernels read the choice once), and the per-vendor
defaults that pick one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lstmkit.nn.fused import build

PARITY = r"""
import json, torch
import lstmkit
from lstmkit.nn.fused import build
torch.manual_seed(0)
torch.set_num_threads(1)
out = {}
for input_size, hidden, variant in ((300, 96, {}), (40, 64, {"layer_norm": True}), (520, 32, {"peephole": True})):
    x = torch.randn(7, 3, input_size)
    fused = lstmkit.LSTM(input_size, hidden, backend="fused", **variant)
    ref = lstmkit.LSTM(input_size, hidden, backend="reference", **variant)
    ref.load_state_dict(fused.state_dict())
    results = []
    for model in (fused, ref):
        xi = x.clone().requires_grad_(True)
        y, (h, c) = model(xi)
        (y.square().sum() + c.sum()).backward()
        results.append([y.detach(), xi.grad] + [p.grad for p in model.parameters()])
    out[str((input_size, hidden))] = max(float((a - b).abs().max()) for a, b in zip(*results))
print(json.dumps({"diff": out, "info": build.load().info(32)}))
"""


@pytest.mark.parametrize("brgemm", ["0", "1"])
def test_both_gemm_paths_match_the_reference(brgemm):
    env = {**os.environ, "LSTMKIT_FUSED_BRGEMM": brgemm, "LSTMKIT_FUSED_BRGEMM_MAXK": "2048"}
    done = subprocess.run([sys.executable, "-c", PARITY], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    diffs = report["diff"]
    assert len(diffs) == 3
    if brgemm == "0":  # brgemm runs only where asked for (and where oneDNN's ukernel works)
        assert "brgemm=on" not in report["info"]
    for shape, diff in diffs.items():  # outputs and every gradient, float32 through 7 steps
        assert diff < 2e-4, (shape, diff)


def test_gemm_defaults_follow_the_cpu_vendor_and_leave_the_users_choice(monkeypatch):
    for name in ("LSTMKIT_FUSED_BRGEMM", "LSTMKIT_FUSED_BRGEMM_MAXK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(build, "cpu_vendor", lambda: "AuthenticAMD")
    build._gemm_defaults()
    assert os.environ["LSTMKIT_FUSED_BRGEMM"] == "1" and os.environ["LSTMKIT_FUSED_BRGEMM_MAXK"] == "2048"
    monkeypatch.setenv("LSTMKIT_FUSED_BRGEMM", "0")  # the user's setting wins
    build._gemm_defaults()
    assert os.environ["LSTMKIT_FUSED_BRGEMM"] == "0"
    monkeypatch.delenv("LSTMKIT_FUSED_BRGEMM")
    monkeypatch.delenv("LSTMKIT_FUSED_BRGEMM_MAXK")
    monkeypatch.setattr(build, "cpu_vendor", lambda: "GenuineIntel")
    build._gemm_defaults()
    assert "LSTMKIT_FUSED_BRGEMM" not in os.environ


def test_cpu_vendor_reads_proc_cpuinfo():
    vendor = build.cpu_vendor()
    assert isinstance(vendor, str)
    if os.path.exists("/proc/cpuinfo") and "vendor_id" in open("/proc/cpuinfo").read():
        assert vendor in open("/proc/cpuinfo").read()
