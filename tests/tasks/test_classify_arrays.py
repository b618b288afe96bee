"""The Classifier on arrays as scikit-learn and aeon users hold them: fit(X, y), predict,
score, classes_, save/load of the label type, and scikit-learn's clone, cross-validation and
grid search choosing an option."""

import numpy as np
import pytest

import lstmkit
from lstmkit.data.sequences import read_sequences
from lstmkit.errors import InputError

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (8, 5, 3), "ensemble": 1,
         "progress": False, "seed": 0, "warmup_steps": 5}


def bumps(n=24, seed=0, length=30):
    """(n, 1, length) noise, class 1 with a bump at steps 5..9: y in {0, 1} (ints)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(0.0, 0.3, size=(n, 1, length))
    X[y == 1, 0, 5:10] += 2.0
    return X, y


def test_fit_on_arrays_is_the_fit_on_the_same_file(tmp_path):
    X, y = bumps()
    rows = "\n".join(f"{label}\t" + "\t".join(repr(float(v)) for v in x[0]) for x, label in zip(X, y))
    (tmp_path / "train.tsv").write_text(rows + "\n")
    from_file = lstmkit.Classifier(**SMALL, max_epochs=2).fit(tmp_path / "train.tsv")
    from_arrays = lstmkit.Classifier(**SMALL, max_epochs=2).fit(X, y)
    test = read_sequences(tmp_path / "train.tsv")
    np.testing.assert_allclose(from_arrays.predict_proba(X), from_file.predict_proba(test), rtol=1e-5, atol=1e-6)
    assert from_file.classes == from_arrays.classes == ["0", "1"]


def test_labels_come_back_in_y_type_and_score_is_accuracy(tmp_path):
    X, y = bumps()
    clf = lstmkit.Classifier(**SMALL, max_epochs=30, conv_segments=1).fit(X, y)
    predicted = clf.predict(X)
    assert predicted.dtype == np.int64 and set(predicted.tolist()) <= {0, 1}
    np.testing.assert_array_equal(clf.classes_, np.array([0, 1]))
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], predicted)
    assert clf.score(X, y) == pytest.approx(float(np.mean(predicted == y)))
    assert clf.score(X, y) >= 0.9  # the bump is plain to see
    assert clf.evaluate(X, y)["accuracy"] == pytest.approx(clf.score(X, y))
    flipped = 1 - y
    assert clf.score(X, flipped) == pytest.approx(1.0 - clf.score(X, y))
    assert clf.score(X, np.full(len(y), 7)) == 0.0  # a label the model never saw counts as wrong
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(X), predicted)
    assert loaded.predict(X).dtype == np.int64


def test_string_labels_and_unequal_lengths_as_a_list():
    X, y = bumps(n=20)
    seqs = [x[0, : 20 + i % 7] for i, x in enumerate(X)]  # lengths 20..26, 1-D each
    names = np.where(y == 1, "bump", "flat")
    clf = lstmkit.Classifier(**SMALL, max_epochs=2).fit(seqs, names)
    assert list(clf.classes_) == ["bump", "flat"]
    assert set(clf.predict(seqs).tolist()) <= {"bump", "flat"}


def test_y_with_a_file_and_bad_arrays_are_one_line_errors(tmp_path):
    X, y = bumps(n=8)
    path = tmp_path / "a.tsv"
    path.write_text("1\t1\t2\t3\n2\t3\t4\t5\n1\t0\t1\t0\n2\t5\t5\t5\n")
    clf = lstmkit.Classifier(**SMALL, max_epochs=1)
    with pytest.raises(InputError, match=r"a\.tsv: y is for arrays; sequences read from a file"):
        clf.fit(path, [1, 2, 1, 2])
    with pytest.raises(InputError, match=r"^y: 3 labels for 8 sequences in X$"):
        clf.fit(X, y[:3])
    bad = X.copy()
    bad[4, 0, 2] = np.inf
    with pytest.raises(InputError, match=r"^X\[4\]: channel 0, step 2 is not a finite number"):
        clf.fit(bad, y)
    clf.fit(X, y)
    with pytest.raises(InputError, match=r"^X: has no labels to score against$"):
        clf.score(X)
    with pytest.raises(InputError, match=r"^X: the sequences have 2 channels; the model was trained on 1$"):
        clf.predict(np.concatenate([X, X], axis=1))


def test_layout_reaches_the_reader():
    X, y = bumps(n=8)
    clf = lstmkit.Classifier(**SMALL, max_epochs=1).fit(X.transpose(0, 2, 1), y, layout="NLC")
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(X.transpose(0, 2, 1), layout="NLC"))


# ----------------------------------------------------------------------------- scikit-learn


def test_clone_keeps_every_option():
    base = pytest.importorskip("sklearn.base")
    clf = lstmkit.Classifier(**SMALL, conv_segments=(3, 1), fold_scales=[1, 2], max_epochs=3)
    copy = base.clone(clf)  # raises when an option does not come back as the object it set
    assert copy.get_params() == clf.get_params() and copy is not clf and not copy.fitted
    assert set(clf.get_params(deep=False)) == set(lstmkit.Classifier().get_params())
    assert base.is_classifier(clf)


@pytest.mark.slow
def test_cross_validation_and_grid_search_choose_an_option():
    model_selection = pytest.importorskip("sklearn.model_selection")
    X, y = bumps(n=24)
    clf = lstmkit.Classifier(**SMALL, max_epochs=40, conv_segments=1)
    scores = model_selection.cross_val_score(clf, X, y, cv=2)  # stratified: a classifier
    assert scores.shape == (2,) and scores.min() >= 0.75
    search = model_selection.GridSearchCV(clf, {"max_epochs": [1, 40]}, cv=2).fit(X, y)
    assert search.best_params_ == {"max_epochs": 40}  # one epoch has not learnt the bump yet
    assert search.best_estimator_.score(X, y) >= 0.9
    np.testing.assert_array_equal(search.classes_, np.array([0, 1]))
