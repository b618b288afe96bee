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
# (cell, input, hidden, options): the plain kernel (with projection, ragged lengths, reverse),
# the variants' kernel, and the GRU / RNN kernel; steps long enough (T*N > 256 rows) that the
# weight gradients run more than one chunk of gemm_tn
CASES = (("LSTM", 300, 96, {}), ("LSTM", 40, 64, {"layer_norm": True}), ("LSTM", 520, 32, {"peephole": True}),
         ("LSTM", 48, 80, {"proj_size": 24}), ("LSTM", 36, 40, {"bidirectional": True, "ragged": True}),
         ("LSTM", 36, 48, {"cifg": True, "proj_size": 16, "ragged": True}),
         ("GRU", 200, 72, {}), ("GRU", 36, 40, {"bidirectional": True, "ragged": True}), ("RNN", 64, 48, {}))
for cell, input_size, hidden, options in CASES:
    options = dict(options)
    ragged = options.pop("ragged", False)
    T, N = (7, 3) if input_size > 100 else (70, 5)
    x = torch.randn(T, N, input_size)
    lengths = torch.tensor([T, 3, T - 2, 1, T - 9])[:N] if ragged else None
    fused = getattr(lstmkit, cell)(input_size, hidden, backend="fused", **options)
    ref = getattr(lstmkit, cell)(input_size, hidden, backend="reference", **options)
    ref.load_state_dict(fused.state_dict())
    results = []
    for model in (fused, ref):
        xi = x.clone().requires_grad_(True)
        y, state = model(xi, lengths=lengths) if ragged else model(xi)
        state = state if isinstance(state, tuple) else (state,)
        (y.square().sum() + sum(s.sum() for s in state)).backward()
        results.append([y.detach(), xi.grad] + [p.grad for p in model.parameters()])
    assert fused.last_backend == "fused", (cell, options, fused.last_backend)
    # relative to each tensor's scale (the gradients of a 70-step sum of squares reach ~1e3)
    out[str((cell, input_size, hidden, options, ragged))] = max(
        float((a - b).abs().max() / (1.0 + b.abs().max())) for a, b in zip(*results))
print(json.dumps({"diff": out, "info": build.load().info(32), "info_gru": build.load("gru_rnn").info(32)}))
"""


@pytest.mark.parametrize("brgemm,max_panel", [("0", "0"), ("1", "0"), ("1", "48")])
def test_both_gemm_paths_match_the_reference(brgemm, max_panel):
    # with brgemm on, the weight gradients too (whatever this CPU's defaults leave to MKL); with
    # a panel cap of 48 KiB the cases' operands are split between the two paths (the input
    # projection at input 300 or 520 goes to MKL, the recurrent 40 x 160 panel to brgemm)
    env = {**os.environ, "LSTMKIT_FUSED_BRGEMM": brgemm, "LSTMKIT_FUSED_BRGEMM_MAXK": "2048",
           "LSTMKIT_FUSED_BRGEMM_TN_MAXM": "4096", "LSTMKIT_FUSED_BRGEMM_MAXPANEL": max_panel}
    done = subprocess.run([sys.executable, "-c", PARITY], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    diffs = report["diff"]
    assert len(diffs) == 9
    if brgemm == "0":  # brgemm runs only where asked for (and where oneDNN's ukernel works)
        assert "brgemm=on" not in report["info"] and "brgemm=on" not in report["info_gru"]
    else:
        assert ("brgemm=on" in report["info"]) == ("brgemm=on" in report["info_gru"])
    for shape, diff in diffs.items():  # outputs and every gradient, float32
        assert diff < (5e-4 if "layer_norm" in shape else 2e-5), (shape, diff)  # LN: 70 steps of normalising


KNOBS = ("LSTMKIT_FUSED_BRGEMM", "LSTMKIT_FUSED_BRGEMM_MAXK", "LSTMKIT_FUSED_BRGEMM_TN_MAXM",
         "LSTMKIT_FUSED_BRGEMM_MAXPANEL")


def test_gemm_defaults_follow_the_cpu_vendor_and_isa_and_leave_the_users_choice(monkeypatch):
    for name in KNOBS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(build, "cpu_vendor", lambda: "AuthenticAMD")
    monkeypatch.setattr(build, "cpu_family_model", lambda: (25, 1))  # a Zen 3
    monkeypatch.setattr(build, "gemm_isa", lambda: "avx512")
    build._gemm_defaults()
    assert os.environ["LSTMKIT_FUSED_BRGEMM"] == "1" and os.environ["LSTMKIT_FUSED_BRGEMM_MAXK"] == "2048"
    assert "LSTMKIT_FUSED_BRGEMM_TN_MAXM" not in os.environ  # AVX-512: brgemm for every weight gradient
    monkeypatch.setenv("LSTMKIT_FUSED_BRGEMM", "0")  # the user's setting wins
    build._gemm_defaults()
    assert os.environ["LSTMKIT_FUSED_BRGEMM"] == "0"
    for name in KNOBS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(build, "gemm_isa", lambda: "avx2")  # AVX2 only: brgemm too
    build._gemm_defaults()
    assert os.environ["LSTMKIT_FUSED_BRGEMM"] == "1" and os.environ["LSTMKIT_FUSED_BRGEMM_MAXK"] == "2048"
    assert os.environ["LSTMKIT_FUSED_BRGEMM_TN_MAXM"] == "0"  # and MKL for every weight gradient
    assert "LSTMKIT_FUSED_BRGEMM_MAXPANEL" not in os.environ  # on a Zen 3, brgemm for every panel
    for (family, model), capped in (((23, 1), True), ((23, 0x18), True), ((23, 0x31), False), ((25, 0x11), False)):
        for name in KNOBS:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(build, "cpu_family_model", lambda f=family, m=model: (f, m))
        build._gemm_defaults()  # Zen 1 / Zen+ (family 23 below model 0x30): panels over L2 to MKL
        assert os.environ.get("LSTMKIT_FUSED_BRGEMM_MAXPANEL") == ("512" if capped else None), (family, model)
        assert os.environ["LSTMKIT_FUSED_BRGEMM"] == "1" and os.environ["LSTMKIT_FUSED_BRGEMM_TN_MAXM"] == "0"
    for name in KNOBS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(build, "cpu_vendor", lambda: "GenuineIntel")
    monkeypatch.setattr(build, "cpu_family_model", lambda: (6, 0x55))
    build._gemm_defaults()
    assert "LSTMKIT_FUSED_BRGEMM" not in os.environ and "LSTMKIT_FUSED_BRGEMM_MAXPANEL" not in os.environ


def test_gemm_settings_name_the_knobs_in_effect(monkeypatch):
    for name in build.GEMM_KNOBS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(build, "cpu_vendor", lambda: "AuthenticAMD")
    monkeypatch.setattr(build, "gemm_isa", lambda: "avx2")
    monkeypatch.setattr(build, "cpu_family_model", lambda: (23, 1))
    monkeypatch.setenv("LSTMKIT_FUSED_BRGEMM_MAXK", "512")  # the user's own, kept
    assert build.gemm_settings() == ("LSTMKIT_FUSED_BRGEMM=1 LSTMKIT_FUSED_BRGEMM_MAXK=512 "
                                     "LSTMKIT_FUSED_BRGEMM_TN_MAXM=0 LSTMKIT_FUSED_BRGEMM_MAXPANEL=512")
    for name in build.GEMM_KNOBS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(build, "cpu_vendor", lambda: "GenuineIntel")
    assert build.gemm_settings() == "none set (MKL's packed GEMM)"


def test_cpu_family_model_reads_numbers(monkeypatch):
    fields = {"cpu family": "23", "model\t": "1"}
    monkeypatch.setattr(build, "_cpuinfo_field", lambda name: fields.get(name, ""))
    assert build.cpu_family_model() == (23, 1)
    fields.clear()  # not an x86 /proc/cpuinfo
    assert build.cpu_family_model() == (-1, -1)


def test_gemm_isa_follows_the_cpu_and_the_caps(monkeypatch):
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "LSTMKIT_FUSED_ISA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(build, "_memo", {"avx512f": True})
    assert build.gemm_isa() == "avx512"
    for cap, isa in (("AVX2", "avx2"), ("avx512_core", "avx512"), ("ALL", "avx512"), ("AVX2_VNNI", "avx2")):
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert build.gemm_isa() == isa, cap
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setenv("LSTMKIT_FUSED_ISA", "avx2")  # the emulated AVX2-only machine
    assert build.gemm_isa() == "avx2"
    monkeypatch.delenv("LSTMKIT_FUSED_ISA")
    monkeypatch.setattr(build, "_memo", {"avx512f": False})  # an AVX2-only CPU (Zen 3)
    assert build.gemm_isa() == "avx2"


def test_cpu_vendor_reads_proc_cpuinfo():
    vendor = build.cpu_vendor()
    assert isinstance(vendor, str)
    if os.path.exists("/proc/cpuinfo") and "vendor_id" in open("/proc/cpuinfo").read():
        assert vendor in open("/proc/cpuinfo").read()


def test_cpu_description_names_the_model_family_l2_and_vectors(monkeypatch):
    fields = {"model name": "AMD EPYC", "cpu family": "25", "model\t": "1", "flags": "fpu avx2 fma"}
    monkeypatch.setattr(build, "_cpuinfo_field", lambda name: fields.get(name, ""))
    monkeypatch.setattr(build, "l2_size", lambda: "512K")
    monkeypatch.setattr(build, "_memo", {})
    monkeypatch.delenv("LSTMKIT_FUSED_ISA", raising=False)
    assert build.cpu_description() == "AMD EPYC, family 25 model 1, L2 512K per core, avx2 GEMMs"
    fields.update({"flags": "fpu avx2 avx512f", "cpu family": "26", "model\t": "2"})
    monkeypatch.setattr(build, "_memo", {})
    monkeypatch.setattr(build, "l2_size", lambda: "")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    assert build.cpu_description() == "AMD EPYC, family 26 model 2, avx512 GEMMs"


def test_l2_size_reads_sys_where_it_exists():
    size = build.l2_size()
    path = "/sys/devices/system/cpu/cpu0/cache/index2/size"
    if os.path.exists(path) and open(path.replace("size", "level")).read().strip() == "2":
        assert size == open(path).read().strip()
    else:
        assert isinstance(size, str)
