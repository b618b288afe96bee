r"""LSTM-FCN as Karim et al. published it, re-run here beside lstmkit (``bench_classify.py
--lstm-fcn 8,64,128``): the published figures are one run per LSTM size, the best of three sizes
on the test split; this trains each size with several seeds on the same splits as lstmkit, so
the published protocol's spread can be read beside them.

The model and its training follow the paper (Karim, Majumdar, Darabi & Chen, "LSTM Fully
Convolutional Networks for Time Series Classification", IEEE Access 6:1662-1669, 2018) and the
settings its repository (github.com/titu1994/LSTM-FCN) describes, written here in torch (our own
code, with torch.nn's LSTM, not lstmkit's):

* the **dimension shuffle**: the LSTM reads the series as *one* time step whose C x T features are
  the whole series (for C channels, C steps of T features), so its gates see every value at once::

      h = LSTM(x^T)[-1],   v_lstm = Dropout_0.8(h)

  with ``cells`` hidden units (8, 64 or 128 in the paper; Keras' initialisation: Glorot-uniform
  input weights, orthogonal recurrent weights, forget-gate bias 1; ``cells = 0``: no LSTM
  branch, the FCN of Wang et al. 2017 that the paper compares with);
* the **fully convolutional branch** on the series read in time: three blocks of a
  same-padded convolution, batch normalisation (momentum 0.01 in torch's sense, eps 1e-3) and
  ReLU, with 128, 256 and 128 filters of widths 8, 5 and 3 (He-uniform initialisation), then
  the global average over time, ``v_fcn``;
* ``softmax(W [v_lstm; v_fcn] + b)`` (Glorot-uniform W);
* training: Adam at 1e-3, batches of 128 (one batch per epoch on the small sets), 2000 epochs,
  cross-entropy weighed by the balanced class weights ``N / (K n_k)``; the learning rate times
  ``2^(-1/3)`` after 100 epochs without a training-loss improvement (down to 1e-4; Keras'
  ``ReduceLROnPlateau`` with its ``min_delta`` 1e-4); the weights of the lowest training loss
  (an epoch's mean batch loss, in training mode, as Keras' ``ModelCheckpoint(monitor="loss")``
  reads it) are the model scored on the test split.

Unequal lengths are padded with zeros to the longest training series (longer test series cut),
as the repository's loader pads them.
"""

from __future__ import annotations

import math
import time

import numpy as np

__all__ = ["LSTMFCN", "fit_lstm_fcn", "padded_array"]

#: The paper's settings (the repository's training scripts).
EPOCHS, BATCH_SIZE, LEARNING_RATE, MIN_LEARNING_RATE, PLATEAU_PATIENCE, MIN_DELTA = 2000, 128, 1e-3, 1e-4, 100, 1e-4
PLATEAU_FACTOR = 1.0 / 2.0 ** (1.0 / 3.0)
LSTM_DROPOUT = 0.8


def padded_array(data, length: int) -> np.ndarray:
    """``(N, C, length)`` float32: each series of an lstmkit ``SequenceData`` zero-padded (or cut)
    to ``length`` steps, channels first."""
    out = np.zeros((len(data), data.n_channels, length), dtype=np.float32)
    for i, seq in enumerate(data.sequences):
        n = min(len(seq), length)
        out[i, :, :n] = np.asarray(seq, dtype=np.float32)[:n].T
    return out


def _model_class():
    import torch
    from torch import nn

    class _LSTMFCN(nn.Module):
        """LSTM-FCN (see the module docstring): input ``(N, C, T)``, output logits ``(N, K)``."""

        def __init__(self, channels: int, length: int, classes: int, cells: int):
            super().__init__()
            self.cells = cells
            blocks = []
            widths = (channels, 128, 256, 128)
            for (c_in, c_out), k in zip(zip(widths[:-1], widths[1:]), (8, 5, 3)):
                conv = nn.Conv1d(c_in, c_out, k)
                nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")  # He-uniform, as Keras' he_uniform
                nn.init.zeros_(conv.bias)
                # Keras' padding="same": k - 1 zeros, the extra one of an even k after the series
                blocks += [nn.ConstantPad1d(((k - 1) // 2, k // 2), 0.0), conv,
                           nn.BatchNorm1d(c_out, eps=1e-3, momentum=0.01), nn.ReLU()]
            self.fcn = nn.Sequential(*blocks)
            self.head = nn.Linear(cells + 128, classes)
            nn.init.xavier_uniform_(self.head.weight)
            nn.init.zeros_(self.head.bias)
            if cells == 0:  # FCN alone (Wang et al. 2017), the LSTM-FCN paper's own baseline
                return
            self.lstm = nn.LSTM(length, cells, batch_first=True)
            self.lstm_dropout = nn.Dropout(LSTM_DROPOUT)
            with torch.no_grad():  # Keras' LSTM: Glorot-uniform kernel, orthogonal recurrent kernel, forget bias 1
                for g in range(4):
                    nn.init.xavier_uniform_(self.lstm.weight_ih_l0[g * cells:(g + 1) * cells])
                    nn.init.orthogonal_(self.lstm.weight_hh_l0[g * cells:(g + 1) * cells])
                self.lstm.bias_ih_l0.zero_()
                self.lstm.bias_hh_l0.zero_()
                self.lstm.bias_ih_l0[cells:2 * cells] = 1.0  # torch's gate order: input, forget, cell, output

        def forward(self, x):
            v_fcn = self.fcn(x).mean(dim=2)
            if self.cells == 0:
                return self.head(v_fcn)
            _, (h, _) = self.lstm(x)  # the dimension shuffle: C steps of T features
            v_lstm = self.lstm_dropout(h[-1])
            return self.head(torch.cat([v_lstm, v_fcn], dim=1))

    return _LSTMFCN


def LSTMFCN(channels: int, length: int, classes: int, cells: int):
    """A new LSTM-FCN network (torch ``nn.Module``) for ``channels`` x ``length`` inputs."""
    return _model_class()(channels, length, classes, cells)


def fit_lstm_fcn(train, test, seed: int, cells: int, epochs: int = EPOCHS) -> dict:
    """Train LSTM-FCN with ``cells`` LSTM units on ``train`` (lstmkit ``SequenceData``) as the
    paper did, score its lowest-training-loss weights on ``test``: ``{"accuracy", "seconds",
    "epochs", "best_epoch", "train_loss"}``."""
    import torch
    from torch import nn

    started = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    length = int(train.lengths.max())
    x = torch.from_numpy(padded_array(train, length))
    y = torch.from_numpy(train.label_indices())
    classes = len(train.classes)
    counts = np.bincount(y.numpy(), minlength=classes).astype(np.float64)
    weights = torch.as_tensor(np.where(counts > 0, len(y) / (classes * np.maximum(counts, 1)), 0.0),
                              dtype=torch.float32)
    model = LSTMFCN(train.n_channels, length, classes, cells)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss(weight=weights, reduction="none")
    best_loss, best_epoch, best_state = math.inf, -1, None
    plateau_best, since_best, lr = math.inf, 0, LEARNING_RATE
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(len(y)))
        total = 0.0
        for start in range(0, len(y), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            per_series = loss_fn(model(x[batch]), y[batch])
            loss = per_series.mean()  # Keras: the weighted losses averaged over the batch
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        epoch_loss = total / len(y)
        if epoch_loss < best_loss:
            best_loss, best_epoch = epoch_loss, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if epoch_loss < plateau_best - MIN_DELTA:
            plateau_best, since_best = epoch_loss, 0
        else:
            since_best += 1
            if since_best >= PLATEAU_PATIENCE and lr > MIN_LEARNING_RATE:
                lr = max(MIN_LEARNING_RATE, lr * PLATEAU_FACTOR)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                since_best = 0
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(padded_array(test, length)))
    predicted = logits.argmax(dim=1).numpy()
    accuracy = float(np.mean(predicted == test.label_indices(train.classes)))
    return {"accuracy": accuracy, "seconds": round(time.perf_counter() - started, 2), "epochs": epochs,
            "best_epoch": best_epoch, "train_loss": best_loss, "cells": cells}
