"""The measured choice of ``backend="auto"`` (lstmkit.nn.autotune), with fake timings: no
assertion here depends on how fast anything runs."""

from __future__ import annotations

import json

import pytest
import torch

import lstmkit
from lstmkit.nn import autotune
from lstmkit.nn.backend import FUSED, TORCH, Call, select, sequence_call
from lstmkit.nn.config import RecurrentConfig

OTHER_LOAD = autotune.OtherLoad  # the real one (the fixture below stands in for it)


def fake(fused_ms, torch_ms, calls=None):
    """A timer that runs nothing and answers fixed times per backend."""
    def timer(run, name):
        if calls is not None:
            calls.append(name)
        return {"fused": fused_ms, "torch": torch_ms}[name]
    return timer


def refuse(run, name):
    raise AssertionError("measured, but the decision should have come from the cache")


@pytest.fixture(autouse=True)
def idle_machine(monkeypatch):
    """The tests' tuners see an idle machine unless a test says otherwise (the real load of
    the machine running the suite must not decide what they assert)."""
    monkeypatch.setattr(autotune, "machine_busy", lambda: False)
    monkeypatch.setattr(autotune, "OtherLoad", _Load)


class _Load:
    """OtherLoad's stand-in: other processes used ``cores`` during the block."""

    cores = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


class _LoadedBy(_Load):
    cores = 0.9


def test_a_decision_measured_on_a_busy_machine_is_not_cached(tmp_path):
    path = tmp_path / "autotune.json"
    busy = autotune.Tuner(path, timer=fake(1.0, 0.5), busy=lambda: True)
    decision = busy.decide(lstm_call())
    assert decision.backend == "torch" and busy.measured == 1
    assert busy.decide(lstm_call()) == decision and busy.measured == 1  # kept in memory
    assert not path.exists()  # never written: a busy measurement may have picked the slower one
    idle = autotune.Tuner(path, timer=fake(0.5, 1.0), busy=lambda: False)
    assert idle.decide(lstm_call()).backend == "fused"  # measured again, now cached
    assert autotune.Tuner(path, timer=refuse).decide(lstm_call()).backend == "fused"


def test_a_two_thread_decision_measured_while_other_processes_ran_is_not_cached(tmp_path):
    path = tmp_path / "autotune.json"
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)  # measured on elapsed time, which other processes slow
        loaded = autotune.Tuner(path, timer=fake(1.0, 0.5), other_load=_LoadedBy)
        assert loaded.decide(lstm_call()).backend == "torch" and loaded.measured == 1
        assert not path.exists()  # the load average was low, but another process ran during it
        idle = autotune.Tuner(path, timer=fake(0.5, 1.0), other_load=_Load)
        assert idle.decide(lstm_call()).backend == "fused" and path.exists()
        torch.set_num_threads(1)  # measured on this process's CPU time: cached under the same load
        one = autotune.Tuner(tmp_path / "one.json", timer=fake(0.5, 1.0), other_load=_LoadedBy)
        assert one.decide(lstm_call()).backend == "fused" and (tmp_path / "one.json").exists()
    finally:
        torch.set_num_threads(before)


def test_other_load_counts_another_process():
    import subprocess
    import sys
    import time

    spin = "import time\nprint('spinning', flush=True)\nend = time.time() + 5\nwhile time.time() < end: pass"
    spinner = subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE, text=True)
    try:
        assert spinner.stdout.readline().strip() == "spinning"  # started, now busy
        with OTHER_LOAD() as others:
            time.sleep(0.6)  # this process idle, the other one spinning
    finally:
        spinner.kill()
        spinner.wait()
        spinner.stdout.close()
    if autotune._system_busy_seconds() is None:
        assert others.cores == 0.0  # nothing to read here (not Linux)
        return
    assert others.cores > autotune.OTHERS_BUSY  # about one core (more if the machine is busier)


def test_machine_busy_reads_the_load_average(monkeypatch):
    monkeypatch.undo()  # the real machine_busy
    monkeypatch.setattr(autotune.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(autotune.os, "getloadavg", lambda: (3.5, 0.0, 0.0))
    assert autotune.machine_busy() is True
    monkeypatch.setattr(autotune.os, "getloadavg", lambda: (2.9, 9.0, 9.0))
    assert autotune.machine_busy() is False

    def unknown():
        raise OSError("no load average here")
    monkeypatch.setattr(autotune.os, "getloadavg", unknown)
    assert autotune.machine_busy() is False


@pytest.fixture
def tuned(monkeypatch, tmp_path):
    """Measuring on, with the process's tuner replaced by ``install(timer)``'s."""
    monkeypatch.setenv(autotune.ENV, "1")

    def install(timer, path=tmp_path / "autotune.json"):
        tuner = autotune.Tuner(path, timer=timer)
        monkeypatch.setattr(autotune, "_default", tuner)
        return tuner
    yield install
    autotune.reset()


def lstm_call(grad=True, steps=100, batch=32, **options):
    config = RecurrentConfig(cell="lstm", input_size=128, hidden_size=128, **options)
    return Call(config, "cpu", torch.float32, steps=steps, batch=batch, grad=grad)


def test_choose_keeps_fused_within_the_margin():
    assert autotune.choose(1.0, 0.98) == "torch"  # torch faster: torch
    assert autotune.choose(1.0, 1.0) == "torch"  # a tie: torch (auto never slower than torch.nn)
    assert autotune.choose(1.0, 1.015) == "torch"  # fused 1.5 % faster: within the default 2 %
    assert autotune.choose(1.0, 1.03) == "fused"  # fused 3 % faster
    assert autotune.choose(1.0, 1.0, margin=0.0) == "fused"  # margin 0: a tie keeps the fused kernel
    assert autotune.choose(1.0, 0.98, margin=0.03) == "fused"  # 2 % faster: not enough
    assert autotune.choose(1.0, 0.96, margin=0.03) == "torch"  # 4 % faster
    assert autotune.choose(1.0, 1.5) == "fused"
    assert autotune.choose(1.0, 0.5, margin=1.5) == "fused"


@pytest.mark.parametrize("fused_ms,torch_ms,expected", [(1.0, 0.5, "torch"), (0.5, 1.0, "fused"), (1.0, 0.99, "torch"),
                                                       (1.0, 1.0, "torch"), (0.97, 1.0, "fused")])
def test_the_faster_backend_is_chosen(tmp_path, fused_ms, torch_ms, expected):
    calls = []
    tuner = autotune.Tuner(tmp_path / "t.json", timer=fake(fused_ms, torch_ms, calls))
    decision = tuner.decide(lstm_call())
    assert decision.backend == expected
    assert (decision.fused_ms, decision.torch_ms) == (fused_ms, torch_ms)
    assert calls.count("fused") == calls.count("torch") >= autotune.MIN_REPS + autotune.WARMUP
    calls.clear()
    assert tuner.decide(lstm_call(steps=120, batch=30)) == decision  # same class: not measured again
    assert calls == []
    tuner.decide(lstm_call(grad=False))  # inference is another class
    assert calls


def test_shape_classes():
    a = autotune.shape_class(lstm_call(steps=100, batch=32), threads=2)
    assert (a.steps, a.batch, a.hidden, a.input) == (64, 32, 128, 128)  # steps capped
    assert autotune.shape_class(lstm_call(steps=500), threads=2) == a
    assert autotune.shape_class(lstm_call(batch=64), threads=2) != a
    assert autotune.shape_class(lstm_call(), threads=1) != a
    assert autotune.shape_class(lstm_call(grad=False), threads=2) != a
    assert autotune.shape_class(lstm_call(bidirectional=True), threads=2) != a
    p = autotune.shape_class(lstm_call(proj_size=100), threads=2)
    assert p.proj == 64 and p.config().proj_size == 64  # below the hidden size
    assert "train" in a.key and "thr2" in a.key


def test_the_cache_file_round_trips(tmp_path):
    path = tmp_path / "sub" / "autotune.json"
    first = autotune.Tuner(path, timer=fake(1.0, 0.5))
    torch_pick = first.decide(lstm_call())
    fused_pick = first.decide(lstm_call(grad=False))
    data = json.loads(path.read_text())
    assert set(data["decisions"]) == {torch_pick.key, fused_pick.key}
    later = autotune.Tuner(path, timer=refuse)  # another process: reads, does not measure
    assert later.decide(lstm_call()) == torch_pick
    assert later.decide(lstm_call(grad=False)) == fused_pick
    assert later.measured == 0
    assert not list(path.parent.glob("*.tmp"))  # written atomically, nothing left behind


def test_the_file_merges_decisions_of_two_processes(tmp_path):
    path = tmp_path / "autotune.json"
    one, two = autotune.Tuner(path, timer=fake(1.0, 0.5)), autotune.Tuner(path, timer=fake(0.5, 1.0))
    one._load(), two._load()  # both started before either wrote
    a, b = one.decide(lstm_call()), two.decide(lstm_call(grad=False))
    assert autotune.Tuner(path, timer=refuse).decisions() == {a.key: a, b.key: b}


@pytest.mark.parametrize("text", ["{not json", "[]", '{"format": 1, "decisions": {"x": {"backend": "cuda"}}}', ""])
def test_a_corrupt_cache_file_is_ignored(tmp_path, text):
    path = tmp_path / "autotune.json"
    path.write_text(text)
    tuner = autotune.Tuner(path, timer=fake(1.0, 0.5))
    decision = tuner.decide(lstm_call())
    assert decision.backend == "torch" and tuner.measured == 1
    assert json.loads(path.read_text())["decisions"][decision.key]["backend"] == "torch"  # rewritten


def test_measuring_leaves_the_random_state_alone(tmp_path):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    autotune.Tuner(tmp_path / "t.json", timer=fake(1.0, 0.5)).decide(lstm_call())
    assert torch.equal(torch.rand(3), expected)


def test_last_backend_reports_torch_when_measured_faster(tuned):
    tuned(fake(1.0, 0.5))
    model = lstmkit.LSTM(8, 16)
    x = torch.randn(5, 3, 8)
    model(x)
    assert model.last_backend == "torch"
    reason = FUSED.why_not(sequence_call(model.config, x))
    assert reason is not None and reason.startswith("torch measured faster here")
    with torch.no_grad():
        model(x)
    assert model.last_backend == "torch"


def test_auto_keeps_fused_when_it_is_faster(tuned):
    if FUSED.unavailable(lstm_call()) is not None:
        pytest.skip("fused kernels unavailable")
    tuned(fake(0.5, 1.0))
    model = lstmkit.GRU(8, 16)
    model(torch.randn(5, 3, 8))
    assert model.last_backend == "fused"


def test_requests_and_variants_are_never_overridden(tuned):
    if FUSED.unavailable(lstm_call()) is not None:
        pytest.skip("fused kernels unavailable")
    calls = []
    tuned(fake(1.0, 0.5, calls))
    x = torch.randn(5, 3, 8)
    for model, expected in [(lstmkit.LSTM(8, 16, backend="fused"), "fused"),
                            (lstmkit.LSTM(8, 16, backend="reference"), "reference"),
                            (lstmkit.LSTM(8, 16, peephole=True), "fused"),
                            (lstmkit.LSTM(8, 16, layer_norm=True), "fused")]:
        model(x)
        assert model.last_backend == expected
    assert calls == []  # none of them measured
    with torch.no_grad():
        model = lstmkit.LSTM(8, 16)
        model(x, return_trace=True)  # a trace: torch cannot
        assert model.last_backend == "fused"
    assert calls == []


def test_measuring_off_runs_fused_without_measuring(tuned, monkeypatch):
    calls = []
    tuned(fake(1.0, 0.5, calls))
    monkeypatch.setenv(autotune.ENV, "0")
    assert autotune.decide(lstm_call()) is None
    assert select(lstm_call()) is (FUSED if FUSED.unavailable(lstm_call()) is None else TORCH)
    assert calls == []


def test_a_failed_measurement_keeps_fused_and_is_not_cached(tmp_path):
    def broken(run, name):
        raise RuntimeError("boom")
    path = tmp_path / "t.json"
    decision = autotune.Tuner(path, timer=broken).decide(lstm_call())
    assert decision.backend == "fused"
    assert not path.exists()


def test_real_measurement_runs_both_backends(tmp_path):
    """The real timer on a tiny class: both backends run (their speed is not asserted)."""
    if FUSED.unavailable(lstm_call()) is not None:
        pytest.skip("fused kernels unavailable")
    ran = []

    def timer(run, name):
        ran.append(name)
        return autotune._perf_timer(run, name)
    call = Call(RecurrentConfig(cell="gru", input_size=4, hidden_size=8), "cpu", torch.float32, steps=3, batch=2,
                grad=True, ragged=True)
    decision = autotune.Tuner(tmp_path / "t.json", timer=timer, budget_ms=1.0).decide(call)
    assert decision.backend in ("fused", "torch") and decision.fused_ms > 0 and decision.torch_ms > 0
    assert set(ran) == {"fused", "torch"}


def test_the_torch_twin_follows_replaced_parameters():
    """The torch backend binds the module's own parameters into its torch.nn twin once; a
    parameter replaced afterwards is bound again, and gradients land in the module's."""
    from lstmkit.nn.backend import REFERENCE, forcing

    model = lstmkit.LSTM(4, 6, num_layers=2)
    x = torch.randn(5, 3, 4)
    with forcing(TORCH):
        model(x)
        assert model.last_backend == "torch"
        model.weight_hh_l1 = torch.nn.Parameter(torch.randn(24, 6))
        out, _ = model(x)
        out.sum().backward()
    with forcing(REFERENCE):
        expected, _ = model(x)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    assert model.weight_hh_l1.grad is not None and model.weight_ih_l0.grad is not None


def test_the_measuring_clock_is_cpu_time_at_one_thread():
    """One torch thread: the process's CPU time (steady under other jobs); more: elapsed time."""
    import time

    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert autotune._clock() is time.process_time
        assert autotune._perf_timer(lambda: sum(range(20000)), "fused") >= 0
        torch.set_num_threads(2)
        assert autotune._clock() is time.perf_counter
    finally:
        torch.set_num_threads(old)


def test_a_stack_remembers_its_choice_per_call_signature(monkeypatch):
    import lstmkit.nn.backend as backends

    chosen = []
    real = backends.select
    monkeypatch.setattr(backends, "select", lambda call: chosen.append(call) or real(call))
    lstm = lstmkit.LSTM(4, 8, backend="reference")
    x = torch.randn(5, 3, 4)
    first = lstm(x)[0]
    second = lstm(x)[0]
    assert len(chosen) == 1 and lstm.last_backend == "reference"  # the second call came from the memo
    torch.testing.assert_close(first, second)
    with torch.no_grad():
        lstm(x)  # grad mode off: a new signature
    lstm(torch.randn(6, 3, 4))  # another length: a new signature
    assert [(c.grad, c.steps) for c in chosen] == [(True, 5), (False, 5), (True, 6)]
    with backends.forcing(backends.REFERENCE):
        lstm(x)  # while autotune measures, select decides every call
        lstm(x)
    assert len(chosen) == 5
    other = lstmkit.LSTM(4, 8, backend="reference")
    other(x)  # every module has its own memo
    assert len(chosen) == 6


def test_torch_from_zeros_equals_torch_from_given_zeros():
    import lstmkit.nn.backend as backends

    lstm = lstmkit.LSTM(4, 8, num_layers=2)
    x = torch.randn(5, 3, 4)
    zeros = (torch.zeros(2, 3, 8), torch.zeros(2, 3, 8))
    with backends.forcing(backends.TORCH):
        out, (h, c) = lstm(x)
        given, (h2, c2) = lstm(x, zeros)
    assert lstm.last_backend == "torch"
    torch.testing.assert_close(out, given)
    torch.testing.assert_close(h, h2)
    torch.testing.assert_close(c, c2)


def test_the_decisions_file_is_per_cpu_family_and_gemm_path(monkeypatch):
    # one model name ("AMD EPYC") covers Zen 1 to Zen 5: the family and model number tell them
    # apart, and the GEMM path's limits change which backend is faster
    from lstmkit.nn.fused import build

    monkeypatch.setenv("LSTMKIT_FUSED_BRGEMM_MAXPANEL", "0")  # (machine() applies the defaults)
    facts = autotune.machine()
    assert (facts["family"], facts["model"]) == build.cpu_family_model()
    monkeypatch.setattr(build, "cpu_family_model", lambda: (23, 1))
    zen1 = autotune.machine()
    monkeypatch.setattr(build, "cpu_family_model", lambda: (25, 1))
    zen3 = autotune.machine()
    assert (zen1["family"], zen1["model"]) == (23, 1) and autotune.cache_path(zen1) != autotune.cache_path(zen3)
    monkeypatch.setenv("LSTMKIT_FUSED_BRGEMM_MAXPANEL", "64")
    capped = autotune.machine()
    assert capped["gemm"]["LSTMKIT_FUSED_BRGEMM_MAXPANEL"] == "64"
    assert autotune.cache_path(capped) != autotune.cache_path(zen3)
