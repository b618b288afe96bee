"""Labelled sequences from arrays (lstmkit.data.sequence_arrays): layouts, padding, gaps,
labels and the one-line errors."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmkit.data.sequence_arrays import label_kind, labels_as, sequences_from_arrays
from lstmkit.errors import InputError


def test_aeon_layout_channels_then_steps():
    X = np.arange(2 * 3 * 5, dtype=np.float64).reshape(2, 3, 5)  # (n, channels, steps)
    data = sequences_from_arrays(X, ["b", "a"])
    assert len(data) == 2 and data.n_channels == 3 and data.lengths.tolist() == [5, 5]
    np.testing.assert_array_equal(data.sequences[1], X[1].T.astype(np.float32))  # (steps, channels)
    assert data.sequences[0].dtype == np.float32
    assert data.classes == ["a", "b"] and data.labels.tolist() == ["b", "a"]
    assert data.channel_names == ["dim_1", "dim_2", "dim_3"] and data.ids.tolist() == ["0", "1"]
    assert data.source == "X"


def test_steps_then_channels_reads_the_same_sequences():
    X = np.random.default_rng(0).normal(size=(4, 2, 7))
    ncl = sequences_from_arrays(X, [0, 1, 0, 1])
    nlc = sequences_from_arrays(X.transpose(0, 2, 1), [0, 1, 0, 1], layout="NLC")
    for a, b in zip(ncl.sequences, nlc.sequences):
        np.testing.assert_array_equal(a, b)
    torch_batch = sequences_from_arrays(torch.from_numpy(X.transpose(0, 2, 1)), layout="NLC")  # batch_first
    np.testing.assert_array_equal(torch_batch.sequences[3], ncl.sequences[3])
    assert torch_batch.labels is None and torch_batch.classes == []


def test_two_d_array_is_univariate_and_a_list_may_hold_unequal_lengths():
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    data = sequences_from_arrays(X, ["x", "y"])
    assert data.n_channels == 1 and data.sequences[1][:, 0].tolist() == [4.0, 5.0, 6.0]
    ragged = sequences_from_arrays([np.ones(4), np.zeros(9), [1, 2]], ["p", "q", "p"])
    assert ragged.lengths.tolist() == [4, 9, 2] and ragged.n_channels == 1
    two = sequences_from_arrays([np.ones((2, 4)), np.zeros((2, 6))])  # (channels, steps) each
    assert two.n_channels == 2 and two.lengths.tolist() == [4, 6]


def test_nan_at_the_end_is_padding_and_a_gap_inside_is_interpolated():
    X = np.array([[[1.0, np.nan, 3.0, np.nan, np.nan]],    # a gap at step 1, padding from step 3
                  [[1.0, 2.0, 3.0, 4.0, 5.0]]])
    data = sequences_from_arrays(X, [0, 1])
    assert data.lengths.tolist() == [3, 5]
    assert data.sequences[0][:, 0].tolist() == [1.0, 2.0, 3.0]  # (1 + 3) / 2
    assert (data.filled, data.filled_sequences) == (1, 1)
    with pytest.raises(InputError, match=r"^X\[0\]: channel 0, step 1 is missing \(NaN\)"):
        sequences_from_arrays(X, [0, 1], missing="refuse")


@pytest.mark.parametrize("X, message", [
    (np.array([[1.0, 2.0, np.inf, 4.0]]), r"^X\[0\]: channel 0, step 2 is not a finite number \(inf\)$"),
    (np.array([[1.0, -1e39]]), r"^X\[0\]: channel 0, step 1 is too large \(sequences are float32: .*\(-1e\+39\)$"),
    (np.full((2, 1, 3), np.nan), r"^X\[0\]: the sequence has no value"),
    (np.zeros((2, 2, 2, 2)), r"^X: a 4-D array"),
    ([np.ones((2, 5)), np.ones((3, 5))], r"^X\[1\]: 3 channels, X\[0\] has 2 \(is layout right\?"),
    ([np.ones(3), [["a", "b"]]], r"^X\[1\]: holds a value that is not a number"),
    ([np.ones(3), np.ones((1, 1, 3))], r"^X\[1\]: a 3-D array"),
    ("series.csv", r"^X: a str; give an array"),
    ([], r"^X: holds no sequence$"),
    (np.array([[[1.0, np.nan, 2.0], [np.nan, np.nan, np.nan]]]), r"^X\[0\]: channel 1 has no value at all"),
])
def test_bad_arrays_give_one_line_naming_the_sequence(X, message):
    with pytest.raises(InputError, match=message):
        sequences_from_arrays(X)


def test_bad_labels_and_options():
    X = np.zeros((3, 4))
    with pytest.raises(InputError, match=r"^y: 2 labels for 3 sequences in X$"):
        sequences_from_arrays(X, [0, 1])
    with pytest.raises(InputError, match=r"^y\[1\]: the label is missing \(None\)$"):
        sequences_from_arrays(X, ["a", None, "b"])
    with pytest.raises(InputError, match=r"^y\[2\]: the label is missing \(nan\)$"):
        sequences_from_arrays(X, [1.0, 2.0, np.nan])
    with pytest.raises(InputError, match=r"^y: give one label per sequence"):
        sequences_from_arrays(X, [[0, 1, 2]])
    with pytest.raises(InputError, match=r"^layout must be one of NCL, NLC, got 'LNC'"):
        sequences_from_arrays(X, layout="LNC")


@pytest.mark.parametrize("y, kind, back", [
    ([3, 10, 3], "int", np.array([3, 10, 3])),
    (np.array([2, 1], dtype=np.int32), "int", np.array([2, 1])),
    ([0.5, 2.0], "float", np.array([0.5, 2.0])),
    ([True, False], "bool", np.array([True, False])),
    (["a", "b"], "str", np.array(["a", "b"], dtype=object)),
    ([1, "b"], "str", np.array(["1", "b"], dtype=object)),
])
def test_labels_come_back_in_their_own_type(y, kind, back):
    assert label_kind(y) == kind
    data = sequences_from_arrays(np.zeros((len(y), 3)), y)
    assert all(isinstance(lab, str) for lab in data.labels.tolist())
    got = labels_as(data.labels, kind)
    np.testing.assert_array_equal(got, back)
    assert got.dtype == back.dtype


def test_numeric_classes_sort_as_numbers():
    data = sequences_from_arrays(np.zeros((3, 2)), [10, 2, 1])
    assert data.classes == ["1", "2", "10"]


# ----------------------------------------------------------------------------- any arrays

_VALUES = st.sampled_from([0.0, 1.5, -2.0, 1e30, -1e39, np.nan, np.inf, -np.inf])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.lists(st.lists(st.lists(_VALUES, min_size=0, max_size=6), min_size=1, max_size=3), min_size=0, max_size=5),
       st.sampled_from(["NCL", "NLC"]), st.sampled_from(["interpolate", "refuse"]))
def test_any_arrays_give_valid_sequences_or_one_line(X, layout, missing):
    """Ragged lists of 2-D sequences holding NaN and infinities: a valid SequenceData (finite
    float32 values, the channel count of every sequence alike) or one InputError line."""
    try:
        data = sequences_from_arrays([np.asarray(seq, dtype=float) if len({len(r) for r in seq}) == 1 else seq
                                      for seq in X], None, layout=layout, missing=missing)
    except InputError as e:
        assert "\n" not in str(e) and str(e).startswith("X")
        return
    assert len(data) == len(X) > 0
    for seq in data.sequences:
        assert seq.dtype == np.float32 and seq.ndim == 2 and seq.shape[1] == data.n_channels
        assert len(seq) >= 1 and np.isfinite(seq).all()
