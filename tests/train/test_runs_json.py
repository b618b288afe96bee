"""``lstmkit.runs.write_json``: strict JSON, whatever the metrics hold."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lstmkit.runs import write_json


def test_undefined_numbers_are_null_and_numpy_and_torch_scalars_plain(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"MASE": float("nan"), "ratio": np.float32(np.inf), "scores": [1.5, -math.inf, np.float64(2.0)],
                      "pair": (np.int64(3), torch.tensor(0.25)), "nested": {"x": np.nan}, "path": tmp_path})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"MASE": None, "ratio": None, "scores": [1.5, None, 2.0], "pair": [3, 0.25],
                                "nested": {"x": None}, "path": str(tmp_path)}
    with pytest.raises(TypeError, match="cannot write object to JSON"):
        write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists()


def test_exact_keeps_the_numbers_python_reads_back(tmp_path):
    write_json(tmp_path / "config.json", {"threshold": math.inf, "loss": np.float64(np.nan)}, exact=True)
    back = json.loads((tmp_path / "config.json").read_text())
    assert back["threshold"] == math.inf and math.isnan(back["loss"])
