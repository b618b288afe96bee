"""The compiled streaming step (lstmkit.nn.fused.step, csrc/lstm_step.cpp) against the
reference cell (the oracle): LSTM.step and LSTM.streamer() for every variant, 1-3 layers,
batch 1 / 3 / unbatched, to 1e-5; equal to forward(); weight changes seen at once; the
reference path (and gradients) whenever a gradient is needed; 1 thread == 2 threads bitwise.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools

import pytest
import torch

from lstmkit.nn.fused.step import step_available, step_unavailable_reason

if not step_available():  # compiles on first use (~40 s, cached)
    pytest.skip(f"compiled step unavailable: {step_unavailable_reason()}", allow_module_level=True)

import lstmkit  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)
VARIANTS = {
    "plain": {},
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "cifg": {"cifg": True},
    "proj": {"proj_size": -1},  # -1: H // 2 (at least 1)
    "all": {"peephole": True, "layer_norm": True, "cifg": True, "proj_size": -1},
    "zoneout": {"zoneout": 0.3},  # its expectation: the step is the evaluation-mode cell
    "zoneout_ln_proj": {"zoneout": 0.3, "layer_norm": True, "proj_size": -1},
}


def _pair(I, H, layers, opts, seed=0, **extra):
    """(compiled-eligible model, reference model) with equal, non-trivial weights."""
    opts = dict(opts)
    if opts.get("proj_size") == -1:
        opts["proj_size"] = max(1, H // 2)
    torch.manual_seed(seed)
    model = lstmkit.LSTM(I, H, layers, **opts, **extra)
    with torch.no_grad():  # move layer-norm gains/biases and peepholes off their init values
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    ref = lstmkit.LSTM(I, H, layers, **opts, **extra, backend="reference")
    ref.load_state_dict(model.state_dict())
    return model, ref


def _compiled_calls(model) -> int:
    core = model.step_core
    return core.calls if core is not None else 0


def _inputs(T, batch, I, seed=1):
    g = torch.Generator().manual_seed(seed)
    shape = (T, I) if batch is None else (T, batch, I)
    return torch.randn(*shape, generator=g)


def _assert_state_close(a, b, **tol):
    torch.testing.assert_close(a[0], b[0], **tol)
    torch.testing.assert_close(a[1], b[1], **tol)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("H", [1, 7, 33, 64])
@pytest.mark.parametrize("batch", [1, 3, None], ids=["N1", "N3", "unbatched"])
def test_compiled_step_equals_reference_step(variant, layers, H, batch):
    if VARIANTS[variant].get("proj_size") and H == 1:
        pytest.skip("proj_size must be < hidden_size")
    I = 5
    model, ref = _pair(I, H, layers, VARIANTS[variant])
    x = _inputs(6, batch, I)
    state_c = state_r = None
    # layer norm's statistics are summed in the kernel's vector order, not the reference's:
    # measured up to 1.1e-5 apart on an AMD EPYC
    tol = dict(rtol=1e-5, atol=3e-5) if VARIANTS[variant].get("layer_norm") else TOL
    with torch.no_grad():
        for t in range(x.shape[0]):
            y_c, state_c = model.step(x[t], state_c)
            y_r, state_r = ref.step(x[t], state_r)
            torch.testing.assert_close(y_c, y_r, **tol)
            _assert_state_close(state_c, state_r, **tol)
    assert _compiled_calls(model) == x.shape[0]
    assert _compiled_calls(ref) == 0
    P = model.config.output_size
    assert y_c.shape == ((P,) if batch is None else (batch, P))
    assert state_c[0].shape == ((layers, P) if batch is None else (layers, batch, P))
    assert state_c[1].shape == ((layers, H) if batch is None else (layers, batch, H))
    # the streamer gives the same numbers
    s = model.streamer()
    assert s.compiled
    with torch.no_grad():
        for t in range(x.shape[0]):
            y_s = s.step(x[t])
    torch.testing.assert_close(y_s, y_c, rtol=0, atol=0)
    _assert_state_close(s.state, state_c, rtol=0, atol=0)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_step_over_sequence_equals_forward(variant):
    I, H, N, T = 6, 24, 3, 9
    model, _ = _pair(I, H, 2, VARIANTS[variant])
    model.eval()  # zoneout: forward's evaluation mode is what step computes
    x = _inputs(T, N, I)
    h0 = 0.5 * torch.randn(2, N, model.config.output_size)
    c0 = 0.5 * torch.randn(2, N, H)
    with torch.no_grad():
        out, final = model(x, (h0, c0))
        state = (h0, c0)
        for t in range(T):
            y, state = model.step(x[t], state)
            torch.testing.assert_close(y, out[t], **TOL)
    _assert_state_close(state, final, **TOL)
    assert _compiled_calls(model) == T


def test_non_contiguous_inputs_and_inference_mode():
    model, ref = _pair(4, 16, 2, {"peephole": True})
    x = torch.randn(3, 8)[:, ::2]  # (3, 4), not contiguous
    state = (torch.randn(3, 2, 16).transpose(0, 1), torch.randn(3, 2, 16).transpose(0, 1))
    with torch.inference_mode():
        y_c, s_c = model.step(x, state)
        y_r, s_r = ref.step(x, state)
    torch.testing.assert_close(y_c, y_r, **TOL)
    _assert_state_close(s_c, s_r, **TOL)
    assert _compiled_calls(model) == 1


def test_outputs_are_fresh_tensors():
    model, _ = _pair(4, 8, 2, {})
    with torch.no_grad():
        y1, s1 = model.step(torch.randn(1, 4))
        keep = (y1.clone(), s1[0].clone(), s1[1].clone())
        y2, s2 = model.step(torch.randn(1, 4), s1)
        s = model.streamer()
        a = s.step(torch.randn(1, 4))
        a_keep = a.clone()
        s.step(torch.randn(1, 4))
    for old, kept in zip((y1, s1[0], s1[1]), keep):
        assert torch.equal(old, kept)
    assert torch.equal(a, a_keep)
    assert y2.data_ptr() not in (y1.data_ptr(), s1[0].data_ptr()) and y2.data_ptr() != s2[0].data_ptr()


# ------------------------------------------------------------------ weight changes
def _check_against_fresh_reference(model, x, state=None):
    ref = lstmkit.LSTM(**_lstm_kwargs(model), backend="reference")
    ref.load_state_dict(model.state_dict())
    with torch.no_grad():
        y_c, s_c = model.step(x, state)
        y_r, s_r = ref.step(x, state)
    torch.testing.assert_close(y_c, y_r, **TOL)
    _assert_state_close(s_c, s_r, **TOL)


def _lstm_kwargs(model):
    c = model.config
    return dict(input_size=c.input_size, hidden_size=c.hidden_size, num_layers=c.num_layers,
                proj_size=c.proj_size, peephole=c.peephole, layer_norm=c.layer_norm, cifg=c.cifg)


def test_weight_changes_are_seen_at_once():
    model, _ = _pair(5, 12, 2, {"layer_norm": True, "peephole": True})
    x = torch.randn(2, 5)
    _check_against_fresh_reference(model, x)
    calls = _compiled_calls(model)
    # an optimizer step (grads from forward)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    model(torch.randn(4, 2, 5))[0].pow(2).sum().backward()
    opt.step()
    _check_against_fresh_reference(model, x)
    # in place, through .data (no version bump) and through numpy
    model.weight_hh_l1.data.mul_(-1.5)
    _check_against_fresh_reference(model, x)
    model.layer_norm_cell_weight_l0.detach().numpy()[:] = 0.3
    _check_against_fresh_reference(model, x)
    with torch.no_grad():
        model.bias_ih_l0.copy_(torch.randn(model.bias_ih_l0.shape))
    _check_against_fresh_reference(model, x)
    # a replaced Parameter object, a .data swap, load_state_dict
    model.weight_ih_l0 = torch.nn.Parameter(torch.randn_like(model.weight_ih_l0))
    _check_against_fresh_reference(model, x)
    model.weight_hh_l0.data = torch.randn_like(model.weight_hh_l0)
    _check_against_fresh_reference(model, x)
    other, _ = _pair(5, 12, 2, {"layer_norm": True, "peephole": True}, seed=7)
    model.load_state_dict(other.state_dict())
    _check_against_fresh_reference(model, x)
    assert _compiled_calls(model) == calls + 7


def test_other_dtype_or_shape_falls_back_to_reference():
    model, ref = _pair(5, 12, 1, {})
    x = torch.randn(2, 5)
    with torch.no_grad():
        model.step(x)
        calls = _compiled_calls(model)
        model.double()
        ref.double()
        y, s = model.step(x.double())
        y_r, s_r = ref.step(x.double())
        assert y.dtype == torch.float64 and _compiled_calls(model) == calls
        torch.testing.assert_close(y, y_r)
        model.float()
        model.step(x)
        assert _compiled_calls(model) == calls + 1
        # a float64 input on a float32 model: what the reference does (raises here)
        with pytest.raises(RuntimeError):
            model.step(x.double())


def test_config_change_rebuilds_and_reference_backend_is_honoured():
    model, ref = _pair(5, 12, 1, {})
    with torch.no_grad():
        model.step(torch.randn(5))
        assert _compiled_calls(model) == 1
        model.config = dataclasses.replace(model.config, backend="reference")
        model.step(torch.randn(5))
        assert model.step_core is None
        model.config = dataclasses.replace(model.config, backend="auto")
        model.step(torch.randn(5))
        assert _compiled_calls(model) == 1  # a new core


def test_copies_and_pickles_rebuild_their_own_core(tmp_path):
    model, _ = _pair(5, 12, 2, {"cifg": True})
    x = torch.randn(1, 5)
    with torch.no_grad():
        model.step(x)
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.weight_ih_l0.mul_(2.0)
    _check_against_fresh_reference(twin, x)
    _check_against_fresh_reference(model, x)
    torch.save(model, tmp_path / "m.pt")
    loaded = torch.load(tmp_path / "m.pt", weights_only=False)
    _check_against_fresh_reference(loaded, x)
    assert _compiled_calls(loaded) == 1


# ------------------------------------------------------------------ gradients
def test_gradients_flow_through_the_reference_when_needed():
    model, ref = _pair(5, 12, 2, {"layer_norm": True, "proj_size": 4})
    x = torch.randn(3, 5)
    y, state = model.step(x)  # grad enabled, parameters require grad: reference
    assert y.requires_grad and _compiled_calls(model) == 0
    y2, _ = model.step(x, state)
    y2.sum().backward()
    y_r, s_r = ref.step(x)
    y2_r, _ = ref.step(x, s_r)
    y2_r.sum().backward()
    for (name, p), p_r in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, p_r.grad, msg=name)
    # an input that requires grad also needs the reference
    model.requires_grad_(False)
    xr = x.clone().requires_grad_()
    y, _ = model.step(xr)
    assert y.requires_grad and _compiled_calls(model) == 0
    y.sum().backward()
    assert xr.grad is not None
    # nothing requires grad: compiled even with grad mode on
    y, _ = model.step(x)
    assert not y.requires_grad and _compiled_calls(model) == 1


# ------------------------------------------------------------------ threads
@pytest.mark.parametrize("variant", ["plain", "layer_norm", "all", "zoneout_ln_proj"])
@pytest.mark.parametrize("H", [128, 256])
@pytest.mark.parametrize("batch", [1, 3])
def test_one_thread_equals_two_threads_bitwise(variant, H, batch):
    model, ref = _pair(H, H, 2, VARIANTS[variant])
    x = _inputs(4, batch, H)
    old = torch.get_num_threads()
    runs = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            ys, state = [], None
            with torch.no_grad():
                for t in range(x.shape[0]):
                    y, state = model.step(x[t], state)
                    ys.append(y)
            runs.append((torch.stack(ys), state))
    finally:
        torch.set_num_threads(old)
    assert torch.equal(runs[0][0], runs[1][0])
    assert torch.equal(runs[0][1][0], runs[1][1][0]) and torch.equal(runs[0][1][1], runs[1][1][1])
    with torch.no_grad():
        state = None
        for t in range(x.shape[0]):
            y_r, state = ref.step(x[t], state)
    torch.testing.assert_close(runs[1][0][-1], y_r, **TOL)


# ------------------------------------------------------------------ streamer
def test_streamer_state_reset_and_errors():
    model, ref = _pair(4, 10, 2, {"proj_size": 3})
    x = _inputs(5, 2, 4)
    h0, c0 = torch.randn(2, 2, 3), torch.randn(2, 2, 10)
    s = model.streamer((h0, c0))
    assert s.compiled
    _assert_state_close(s.state, (h0, c0), rtol=0, atol=0)
    state = (h0, c0)
    with torch.no_grad():
        for t in range(5):
            y = s.step(x[t])
            y_r, state = ref.step(x[t], state)
            torch.testing.assert_close(y, y_r, **TOL)
    _assert_state_close(s.state, state, **TOL)
    st = s.state
    st[0].zero_()  # a copy: the stream goes on unchanged
    _assert_state_close(s.state, state, **TOL)
    with pytest.raises(ValueError, match="reset"):
        s.step(torch.randn(3, 4))  # another batch size
    with pytest.raises(ValueError, match="x_t must be"):
        s.step(torch.randn(2, 5))
    with pytest.raises(ValueError, match="float32"):
        s.step(torch.randn(2, 4, dtype=torch.float64))
    s.reset()
    assert s.state is None
    y = s.step(torch.randn(4))  # unbatched now
    assert y.shape == (3,) and s.state[0].shape == (2, 3) and s.state[1].shape == (2, 10)
    with pytest.raises(ValueError, match="shape"):
        s.reset((torch.zeros(2, 1, 10), torch.zeros(2, 1, 10)))
    with pytest.raises(ValueError, match="bidirectional"):
        lstmkit.LSTM(4, 10, bidirectional=True).streamer()
    # weight updates reach a live streamer; a dtype change is refused
    s.reset()
    with torch.no_grad():
        model.weight_hh_l1.mul_(0.5)
        ref.load_state_dict(model.state_dict())
        y = s.step(x[0])
        y_r, _ = ref.step(x[0])
    torch.testing.assert_close(y, y_r, **TOL)
    model.double()
    with pytest.raises(RuntimeError, match="new streamer"):
        s.step(x[0])


def test_streamer_falls_back_to_the_reference_cell():
    model, ref = _pair(4, 10, 1, {"layer_norm": True})
    model.double()
    ref.double()
    s = model.streamer()
    assert not s.compiled
    x = _inputs(3, 2, 4).double()
    state = None
    for t in range(3):
        y = s.step(x[t])
        with torch.no_grad():
            y_r, state = ref.step(x[t], state)
        torch.testing.assert_close(y, y_r)
    assert not y.requires_grad
    _assert_state_close(s.state, state)


# ------------------------------------------------------------------ the language model
def test_language_model_samples_are_the_same_on_both_paths():
    from lstmkit.tasks.language_model import LanguageModel

    text = "the cat sat on the mat. the dog sat on the log. " * 20
    lm = LanguageModel(hidden_size=24, num_layers=2, embedding_size=8, streams=4, steps=20,
                       max_epochs=1, max_time=None, learning_rate=1e-2, seed=0)
    lm.fit(text)
    lstm = lm.net.lstm
    before = _compiled_calls(lstm)
    compiled = [lm.sample("the ", 60, temperature=t, seed=s) for t, s in itertools.product((0.5, 1.0), (0, 3))]
    assert _compiled_calls(lstm) > before
    lstm.config = dataclasses.replace(lstm.config, backend="reference")
    reference = [lm.sample("the ", 60, temperature=t, seed=s) for t, s in itertools.product((0.5, 1.0), (0, 3))]
    assert compiled == reference
