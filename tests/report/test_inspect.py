"""``lstmkit inspect``: gate heatmaps, cell states, saturation statistics, the HTML report."""

import base64
import json
import re

import numpy as np
import pytest
import torch

import lstmkit.cli.main as cli
from lstmkit.report import inspect as ins
from lstmkit.report.html import colour

TEXT = "the cat sat on the mat. the dog sat on the log. " * 60
PNGS = ("saturation.png", "gates_layer0.png", "cell_states.png")


@pytest.fixture(autouse=True)
def inspect_command(monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "inspect", ("lstmkit.cli.inspect", "look inside a saved model's LSTM"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from lstmkit.data import load_air_passengers
    from lstmkit.tasks.forecast import Forecaster
    from lstmkit.tasks.language_model import LanguageModel

    root = tmp_path_factory.mktemp("models")
    Forecaster(max_epochs=2, hidden_size=8, progress=False).fit(load_air_passengers()).save(root / "fc")
    LanguageModel(hidden_size=16, num_layers=1, streams=4, steps=20, max_epochs=1, max_time=None,
                  progress=False).fit(TEXT).save(root / "lm")
    return root


def inspect(capsys, *args):
    code = cli.main(["inspect", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def direct_fractions(gate: torch.Tensor, mask=None):
    """Left/right saturation straight from a trace tensor (N, L, H)."""
    values = gate.double()
    if mask is not None:
        values = values[mask]
    return float((values < 0.1).double().mean()), float((values > 0.9).double().mean())


def check_outputs(out, pngs=PNGS):
    for name in ("report.html", "inspect.json", *pngs):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    report = json.loads((out / "inspect.json").read_text())
    for layer in report["layers"]:
        for gate in ins.GATES:
            s = layer["saturation"][gate]
            values = [s["left"], s["right"], *s["per_unit_left"], *s["per_unit_right"]]
            assert all(0.0 <= v <= 1.0 for v in values)
            assert s["left"] + s["right"] <= 1.0
            assert len(s["per_unit_left"]) == layer["hidden_size"]
            # the overall fraction is the mean of the per-unit fractions (same steps per unit)
            assert s["left"] == pytest.approx(np.mean(s["per_unit_left"]))
    page = (out / "report.html").read_text()
    images = re.findall(r'<img[^>]*src="([^"]*)"', page)
    assert len(images) == len(pngs)
    for src in images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in images}
    assert embedded == {(out / name).read_bytes() for name in pngs}
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|<link|<script|@import|url\(", page, re.I)
    assert not re.search(r'(src|href)="(?!data:)', page)
    return report, page


def test_forecaster_default_data_is_air_passengers(models, tmp_path, capsys):
    from lstmkit.data import load_air_passengers
    from lstmkit.tasks.forecast import Forecaster

    out = tmp_path / "out"
    threads = torch.get_num_threads()
    seen = []
    import lstmkit.report.inspect as report_module

    real = report_module.inspect_model

    def counting(*args, **kwargs):  # the run's threads, as --threads sets them
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    report_module.inspect_model = counting
    try:
        code, stdout, _ = inspect(capsys, "--model", models / "fc", "--out", out, "--threads", 1)
    finally:
        report_module.inspect_model = real
    assert code == 0 and seen == [1] and torch.get_num_threads() == threads
    assert "forget gate" in stdout and str(out) in stdout
    report, page = check_outputs(out)
    assert report["kind"] == "forecaster" and report["data"] == ins.FORECASTER_DEFAULT_DATA
    f = Forecaster.load(models / "fc")
    lookback = f.net.config.lookback
    assert report["sequences"] == 144 - lookback + 1 and report["steps"] == lookback
    assert report["sample"] == report["sequences"] - 1  # the last window
    assert "1960-12-01" in report["sample_name"] and "1960-12-01" in page

    # the encoder's input computed here from the definitions: every lookback window of the
    # scaled series, normalised by its own mean and standard deviation
    s = f.scaled_series(f.read(load_air_passengers()))[0]
    x = torch.tensor(np.stack([s.target[c - lookback:c] for c in range(lookback, 145)]), dtype=torch.float32)
    mu, sigma = x.mean(1, keepdim=True), x.std(1, unbiased=False, keepdim=True).clamp_min(1e-2)
    with torch.no_grad():
        _, _, trace = f.net.encoder(((x - mu) / sigma).unsqueeze(-1), return_trace=True)
    for gate in ins.GATES:
        left, right = direct_fractions(getattr(trace[0], gate))
        assert report["layers"][0]["saturation"][gate]["left"] == pytest.approx(left, abs=1e-12)
        assert report["layers"][0]["saturation"][gate]["right"] == pytest.approx(right, abs=1e-12)
    mean_abs = trace[0].cell_state.double().abs().mean(dim=(0, 1))
    assert report["layers"][0]["cell_state"]["mean_abs"] == pytest.approx(mean_abs.tolist())
    assert report["layers"][0]["cell_state"]["most_active_units"][0] == int(mean_abs.argmax())


def test_forecaster_reads_a_data_file_and_a_chosen_sample(models, tmp_path, capsys):
    from lstmkit.data import load_air_passengers

    data = tmp_path / "air.csv"
    load_air_passengers().to_csv(data, index=False)
    out = tmp_path / "out"
    code, _, _ = inspect(capsys, data, "--model", models / "fc", "--out", out, "--sample", "0",
                         "--max-windows", "10", "--top-units", "3")
    assert code == 0
    report, _ = check_outputs(out)
    assert report["data"] == str(data) and report["sample"] == 0
    assert report["sequences"] <= 11 and report["notes"]["window_stride"] > 1
    assert len(report["layers"][0]["cell_state"]["most_active_units"]) == 3


def test_forecaster_of_other_columns_without_data_says_what_it_reads(tmp_path, capsys):
    from lstmkit.data import load_air_passengers
    from lstmkit.tasks.forecast import Forecaster

    frame = load_air_passengers().rename(columns={"ds": "month", "y": "passengers"})
    Forecaster(max_epochs=1, hidden_size=8, progress=False).fit(frame, time="month", target="passengers").save(
        tmp_path / "fc")
    code, _, stderr = inspect(capsys, "--model", tmp_path / "fc", "--out", tmp_path / "out")
    assert code == 2 and not (tmp_path / "out").exists()
    assert stderr == (f"error: {tmp_path / 'fc'}: without DATA, the bundled AirPassengers series (columns ds, y) "
                      "is read, which does not fit this forecaster (it reads the time column 'month' and the "
                      "target 'passengers'); give the data it was trained on\n")


def test_language_model_text_view(models, tmp_path, capsys):
    from lstmkit.tasks.language_model import LanguageModel

    text = "the cat sat on the log.\nthe dog sat on the mat & <b>\n" * 5
    data = tmp_path / "text.txt"
    data.write_text(text)
    out = tmp_path / "out"
    code, stdout, _ = inspect(capsys, data, "--model", models / "lm", "--out", out, "--unit", "3",
                              "--max-chars", "200")
    assert code == 0 and "unit 3" in stdout
    report, page = check_outputs(out)
    text = text[:200]
    assert report["kind"] == "language_model" and report["steps"] == len(text)
    assert report["text_view"]["unit"] == 3 and report["text_view"]["value"] == "tanh(c_t)"

    lm = LanguageModel.load(models / "lm")
    unknown = lm.vocabulary.count_unknown(text)  # '\n', '&', '<', 'b', '>': not in the training text
    assert unknown > 0 and (f"{unknown} of the 200 characters read are not in the model's vocabulary; the model "
                            "reads each as its one unknown character") in stdout
    ids = torch.as_tensor(lm.vocabulary.encode(text), dtype=torch.long).unsqueeze(0)
    with torch.no_grad():
        _, _, trace = lm.net.lstm(lm.net.embedding(ids), return_trace=True)
    for gate in ins.GATES:
        left, right = direct_fractions(getattr(trace[0], gate))
        assert report["layers"][0]["saturation"][gate]["left"] == pytest.approx(left, abs=1e-12)
        assert report["layers"][0]["saturation"][gate]["right"] == pytest.approx(right, abs=1e-12)

    # one coloured span per character, coloured by tanh(c_t) of unit 3, text escaped
    spans = re.findall(r'<span(?: class="nl")? style="background:(#[0-9a-f]{6})" title="([^"]*)">', page)
    assert len(spans) == len(text)
    values = torch.tanh(trace[0].cell_state[0, :, 3]).tolist()
    assert [c for c, _ in spans] == [colour(v) for v in values]
    text_div = page.split('<div class="text">')[1]
    assert ">&lt;</span>" in text_div and ">&amp;</span>" in text_div and "<b>" not in text_div


def test_language_model_default_text_and_unit(models, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, _ = inspect(capsys, "--model", models / "lm", "--out", out, "--state", "hidden")
    assert code == 0
    report, _ = check_outputs(out)
    assert report["data"] == ins.TEXT_DEFAULT_DATA and report["steps"] == 2000
    view = report["text_view"]
    assert view["value"] == "h_t" and view["chosen_by"].startswith("default")
    assert 0 <= view["unit"] < 16


def test_another_kind_bidirectional_two_layers_with_lengths(tmp_path, capsys, monkeypatch):
    """The extension point of a new application: a kind in the estimator registry whose
    encoder_view hands over padded input with lengths, in any layout."""
    import lstmkit
    from lstmkit.tasks.base import KINDS

    torch.manual_seed(0)
    lstm = lstmkit.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=False)
    x = torch.randn(4, 7, 3) * 3
    lengths = torch.tensor([7, 3, 5, 1])

    class Toy:
        @classmethod
        def load(cls, directory):
            return cls()

        def encoder_view(self, data=None, **limits):
            return ins.EncoderView(lstm, x, lengths=lengths, source="toy")

    monkeypatch.setitem(KINDS, "toy", Toy)
    model = tmp_path / "toy"
    model.mkdir()
    (model / "config.json").write_text('{"kind": "toy"}')
    (model / "model.safetensors").write_bytes(b"unused")
    out = tmp_path / "out"
    code, _, _ = inspect(capsys, "--model", model, "--out", out, "--sample", "1")
    assert code == 0
    pngs = ("saturation.png", "gates_layer0.png", "gates_layer0_reverse.png", "gates_layer1.png",
            "gates_layer1_reverse.png", "cell_states.png")
    report, _ = check_outputs(out, pngs)
    assert [entry["name"] for entry in report["layers"]] == ["layer 0", "layer 0 reverse", "layer 1", "layer 1 reverse"]
    with torch.no_grad():
        _, _, trace = lstm(x.transpose(0, 1), lengths=lengths, return_trace=True)
    mask = torch.arange(7)[None, :] < lengths[:, None]  # padded steps are left out
    for k, entry in enumerate(report["layers"]):
        record = trace[entry["layer"], entry["direction"]]
        for gate in ins.GATES:
            left, right = direct_fractions(getattr(record, gate).transpose(0, 1), mask)
            assert entry["saturation"][gate]["left"] == pytest.approx(left, abs=1e-12)
            assert entry["saturation"][gate]["right"] == pytest.approx(right, abs=1e-12)


def test_saturation_counts_strictly_below_and_above():
    a = np.array([0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0, 0.2]).reshape(1, 4, 2)
    s = ins.saturation(a)
    # 0.1 and 0.9 themselves are not saturated
    assert s["left"] == pytest.approx(2 / 8) and s["right"] == pytest.approx(2 / 8)
    assert s["per_unit_left"] == pytest.approx([1 / 4, 1 / 4])
    assert s["per_unit_right"] == pytest.approx([1 / 4, 1 / 4])
    masked = ins.saturation(a, np.array([[True, True, False, False]]))
    assert masked["left"] == pytest.approx(2 / 4) and masked["right"] == 0.0


def test_bad_input_exits_2_with_one_line_and_writes_nothing(models, tmp_path, capsys):
    out = tmp_path / "out"
    not_model = tmp_path / "empty"
    not_model.mkdir()
    wrong_kind = tmp_path / "wrong"
    wrong_kind.mkdir()
    (wrong_kind / "config.json").write_text('{"kind": "nonsense"}')
    (wrong_kind / "model.safetensors").write_bytes(b"x")
    bad_json = tmp_path / "badjson"
    bad_json.mkdir()
    (bad_json / "config.json").write_text("{not json")
    (bad_json / "model.safetensors").write_bytes(b"x")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"abc\x00def")
    other_columns = tmp_path / "other.csv"
    other_columns.write_text("date,units\n2020-01-01,3\n2020-02-01,4\n")
    classifier = tmp_path / "classifier"  # a known kind whose weights are not a safetensors file
    classifier.mkdir()
    (classifier / "config.json").write_text('{"kind": "classifier"}')
    (classifier / "model.safetensors").write_bytes(b"x")
    cases = [
        (["--model", tmp_path / "missing"], "no such directory"),
        (["--model", not_model], "not an lstmkit model directory"),
        (["--model", wrong_kind], "'nonsense'"),
        (["--model", bad_json], "not valid JSON"),
        ([tmp_path / "missing.txt", "--model", models / "lm"], "missing.txt: no such file"),
        ([binary, "--model", models / "lm"], "binary file"),
        ([other_columns, "--model", models / "fc"], "other.csv"),
        # the forecaster's hint names a training flag, and says that inspect lacks it
        ([other_columns, "--model", models / "fc"], "with --time (when training; lstmkit inspect has no such flag)"),
        (["--model", models / "fc", "--sample", "999"], "--sample"),
        (["--model", models / "lm", "--unit", "16"], "--unit"),
        (["--model", models / "lm", "--layer", "1"], "error: --layer: 1 is out of range; the model has 1 layer(s)"),
        (["--model", classifier], "model.safetensors: cannot read the weights"),
    ]
    for args, expected in cases:
        code, stdout, stderr = inspect(capsys, *args, "--out", out)
        assert code == 2, (args, stderr)
        assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
        assert expected in stderr, (expected, stderr)
        assert not out.exists()


def test_library_errors_name_the_python_parameter(models, tmp_path):
    """From Python the messages name InspectOptions' fields (the command names its flags)."""
    from lstmkit.errors import InputError

    out = tmp_path / "out"
    cases = [
        ("fc", {"state": "bogus"}, "state", r"state: expected cell or hidden, got 'bogus'"),
        ("fc", {"sample": 999}, "sample", r"sample: 999 is out of range; the data gives \d+ sequence"),
        ("lm", {"unit": 16}, "unit", r"unit: 16 is out of range; layer 0 has 16 units \(0 \.\. 15\)"),
        ("lm", {"layer": -2}, "layer", r"layer: -2 is out of range; the model has 1 layer\(s\)"),
    ]
    for model, options, param, message in cases:
        with pytest.raises(InputError, match=f"^{message}") as info:
            ins.inspect_model(models / model, None, out, ins.InspectOptions(max_chars=100, **options))
        assert info.value.param == param
        assert "--" not in str(info.value)
        assert not out.exists()


def test_run_trace_reads_a_torch_nn_lstm_and_gru_through_their_twins():
    from lstmkit.errors import InputError
    from lstmkit.report.numbers import run_trace

    torch.manual_seed(0)
    x = torch.randn(2, 7, 3)
    theirs = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True).train()
    layers = run_trace(theirs, x)
    assert [(t.layer, t.direction) for t in layers] == [(0, 0), (1, 0)]
    assert theirs.training  # its mode is left as it was
    # the trace's last hidden state is torch's own output
    torch.testing.assert_close(torch.as_tensor(layers[1].fields["hidden_state"]).float(), theirs.eval()(x)[0])
    forget = layers[0].fields["forget_gate"]
    assert forget.shape == (2, 7, 5) and ((forget > 0) & (forget < 1)).all()
    gru = torch.nn.GRU(3, 4)  # sequence first: the trace comes back batch first all the same
    (trace,) = run_trace(gru, x)
    torch.testing.assert_close(torch.as_tensor(trace.fields["hidden_state"]).float(),
                               gru(x.transpose(0, 1))[0].transpose(0, 1).detach(), atol=1e-6, rtol=1e-5)
    with pytest.raises(InputError, match="an RNN, which has none"):
        run_trace(torch.nn.RNN(3, 4), x)
