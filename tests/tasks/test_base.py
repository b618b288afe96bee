"""The one Estimator under every application: options, the KIND registry, save and load."""

import inspect

import pytest
import torch

import lstmkit
from lstmkit.errors import InputError
from lstmkit.tasks.base import KINDS, load_estimator


def test_every_application_is_registered_under_its_kind():
    for cls in (lstmkit.Forecaster, lstmkit.Classifier, lstmkit.LanguageModel, lstmkit.LabModel):
        assert KINDS[cls.KIND] is cls
    assert set(KINDS) >= {"forecaster", "classifier", "language_model", "lab"}


def test_options_are_keywords_with_the_applications_defaults():
    signature = inspect.signature(lstmkit.Forecaster)
    assert signature.parameters["learning_rate"].default == 1e-2  # the forecaster's recipe
    assert inspect.signature(lstmkit.Classifier).parameters["learning_rate"].default == 1e-3
    f = lstmkit.Forecaster(horizon=6, learning_rate=3e-3, cell="gru")
    assert (f.params.horizon, f.params.training.learning_rate, f.params.cell) == (6, 3e-3, "gru")
    params = f.get_params()
    assert params["learning_rate"] == 3e-3 and params["horizon"] == 6 and "training" not in params
    f.set_params(max_epochs=7)
    assert f.params.training.max_epochs == 7 and f.params.horizon == 6
    assert repr(f) == "Forecaster(horizon=6, cell='gru', max_epochs=7, learning_rate=0.003)"
    with pytest.raises(TypeError, match="unexpected option.*nonsense"):
        lstmkit.Forecaster(nonsense=1)
    with pytest.raises(ValueError, match="cell must be one of"):
        lstmkit.Forecaster(cell="transformer")


def test_unfitted_estimators_say_so():
    for cls in (lstmkit.Forecaster, lstmkit.Classifier, lstmkit.LanguageModel, lstmkit.LabModel):
        with pytest.raises(RuntimeError, match=f"this {cls.__name__} is not fitted yet"):
            cls().require_fitted()


def test_a_saved_model_loads_by_its_kind_with_the_same_outputs(tmp_path):
    model = lstmkit.LabModel(task="adding", cell="lstm", length=10, hidden_size=8, max_steps=20,
                             eval_every=10, test_size=32).fit()
    model.save(tmp_path / "m")
    loaded = load_estimator(tmp_path / "m")
    assert type(loaded) is lstmkit.LabModel and loaded.get_params() == model.get_params()
    x, _ = model.test_set()
    torch.testing.assert_close(loaded.predict(x), model.predict(x), rtol=0, atol=0)
    view = loaded.encoder_view(max_sequences=5)
    assert view.encoder is loaded.net.encoder and tuple(view.inputs.shape) == (5, 10, 2)
    with pytest.raises(InputError, match="holds a 'lab' model, expected a 'forecaster' model"):
        lstmkit.Forecaster.load(tmp_path / "m")
