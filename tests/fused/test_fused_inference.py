"""Inference calls (no_grad, inference_mode) must not make the kernels save buffers for a
backward: the parameters require grad there, yet no graph is recorded."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import fused

if not fused.available():
    pytest.skip(f"fused kernels unavailable: {fused.unavailable_reason()}", allow_module_level=True)

import lstmkit  # noqa: E402
from lstmkit.nn.fused import gru_rnn as fused_gru_rnn  # noqa: E402
from lstmkit.nn.fused import lstm as fused_lstm  # noqa: E402


class _Recorder:
    """Wraps a compiled extension and records the last argument (the save flag) of `name`."""

    def __init__(self, ext, name):
        self.ext, self.name, self.flags = ext, name, []

    def __getattr__(self, attr):
        fn = getattr(self.ext, attr)
        if attr != self.name:
            return fn

        def wrapped(*args):
            self.flags.append(bool(args[-1]))
            return fn(*args)

        return wrapped


MODES = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("options,kernel", [({}, "lstm_forward"), ({"peephole": True}, "lstm_var_forward"),
                                            ({"layer_norm": True}, "lstm_var_forward")])
def test_lstm_saves_nothing_without_a_graph(monkeypatch, mode, options, kernel):
    rec = _Recorder(fused_lstm.load(), kernel)
    monkeypatch.setattr(fused_lstm, "load", lambda *a, **k: rec)
    lstm = lstmkit.LSTM(5, 6, backend="fused", **options)
    x = torch.randn(4, 3, 5)
    with MODES[mode]():
        out_inference = lstm(x)[0]
    out_training = lstm(x)[0]
    out_training.sum().backward()
    assert rec.flags == [False, True]
    torch.testing.assert_close(out_inference, out_training.detach(), rtol=0, atol=0)
    assert lstm.weight_hh_l0.grad is not None


@pytest.mark.parametrize("mode", MODES)
def test_gru_saves_nothing_without_a_graph(monkeypatch, mode):
    rec = _Recorder(fused_gru_rnn.load("gru_rnn"), "gru_rnn_forward")
    monkeypatch.setattr(fused_gru_rnn, "_ext", lambda: rec)
    gru = lstmkit.GRU(5, 6, backend="fused")
    x = torch.randn(4, 3, 5)
    with MODES[mode]():
        gru(x)
    gru(x)[0].sum().backward()
    assert rec.flags == [False, True]

