r"""The classifier's network: an LSTM branch beside a fully convolutional branch (LSTM-FCN,
Karim et al. 2017; with squeeze-and-excite blocks as in MLSTM-FCN, Karim et al. 2019).

Input: a batch of standardised sequences cut into patches, ``x`` of shape ``(N, S, k*d*C)``
(S patches of k steps, each step d raw time steps of C channels side by side: a series
folded by ``fold=d``, see :func:`lstmkit.tasks.classify.fold`; d = 1 for short series; the
last patch filled by repeating the last step) and ``lengths`` ``(N,)`` counted in patches.
With ``channel_bottleneck=B`` below C, the C channels of every raw step are first mapped to B by
one learned matrix, ``x'_t = W_b x_t`` (:meth:`ClassifierNet.project`), and the branches read B
channels where C stands below. Two branches read it::

    LSTM branch   h_1..h_S = LSTM(x_1..x_S)                 (bidirectional by default)
                  z_lstm = pool(h_1..h_S)        last: [h_S(fwd), h_1(bwd)]; mean: (1/S) Σ_s h_s;
                                                 attention: Σ_s α_s h_s, α = softmax_s(v·tanh(W h_s))
    conv branch   u^0 = the same values unpatched: (N, d*C, S*k), steps past the end zeroed
                  u^j = m ⊙ SE_j(ReLU(BN_j(Conv1d_j(u^{j-1}))))   j = 1..3, kernels 8/5/3,
                                                 channels 128/256/128, 'same' padding
                  z_conv = (1/T) Σ_{t<T} u^3_t        global average over the T = S*k real steps
                  (conv_max: [z_conv; max_{t<T} u^3_t], the global maximum beside it;
                   conv_segments P > 1: [...; z_1; ..; z_P], z_p the average over the
                   p-th of P equal parts of the real steps, :func:`segment_means`)
    values branch (values_branch, an option) z_values = LSTM(v) for ONE step v: the series' steps
                  at Q fixed places side by side (LSTM-FCN's dimension shuffle,
                  :meth:`ClassifierNet.values_features`)
    head          p(class | x) = softmax(U [D_0.8(z_lstm); D_0.8(z_values); z_conv] + b)   (dropout 0.1 before U)

``D_0.8`` is dropout at ``lstm_dropout`` (0.8) on the LSTM branch's vector alone, as in
LSTM-FCN (Karim et al. 2017 put dropout 0.8 after the LSTM block): the head cannot lean on the
recurrent features alone, which fit a small training set faster than the convolutions and
then stop it learning (OSULeaf, seed 0: 0.897 without, 0.959 with). Without the conv branch it
is not applied.

``m`` is the mask of real time steps (1 inside the sequence, 0 past its end), applied after
every block, so a sequence gives the same output alone or padded in a batch (BatchNorm in eval
mode uses its running statistics; in training, BatchNorm's batch statistics count the padded
steps only with ``masked_norm=False``; by default they are taken over the real steps alone,
:class:`MaskedBatchNorm1d`). Squeeze-and-excite (Hu et al.
2018) rescales every channel by a gate computed from its masked mean::

    s = (1/T) Σ_t u_t;   g = sigmoid(W_2 ReLU(W_1 s));   SE(u)_t = g ⊙ u_t   (W_1: C -> C/16)

The LSTM branch sees patches (a long series becomes a few LSTM steps: PatchTST, Nie et al.
2023, in the spirit of LSTM-FCN's dimension shuffle), the conv branch every time step; with
``conv_branch=False`` the network is the LSTM branch and its head alone.

An ensemble (:class:`ClassifierEnsemble`, ``ensemble=M``) holds M such networks, each from its
own random initialisation, trained together on the same batches (the loss is the sum of the
members' cross-entropies, so each member's gradient is its own) and averaged in probability::

    p(class | x) = (1/M) Σ_m softmax(U_m z_m + b_m)      (forward returns log p)

(deep ensembles, Lakshminarayanan et al. 2017; for time-series classification Fawaz et al.
2019 found ensembles of FCN/ResNet networks more accurate than any one of them).

The members may read the series at different resolutions (``member_folds`` d_m and
``member_patches`` k_m, one per member: a multi-resolution ensemble, see
:class:`lstmkit.tasks.classify.ClassifierParams`'s ``fold_scales``); then the input is one
tensor per member, ``x_m`` ``(N, S_m, k_m*d_m*C)`` with ``lengths_m``, and member m is an
LSTM-FCN of input width k_m*d_m*C (conv branch d_m*C)::

    p(class | x) = (1/M) Σ_m softmax(U_m z_m(x_m) + b_m)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from lstmkit.nn import LSTM

POOLINGS = ("last", "mean", "attention")


@dataclass(kw_only=True)
class ClassifierNetOptions:
    """The network's options the user chooses (shared by the params and the net's config)."""

    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = True
    pooling: str = "mean"
    dropout: float = 0.1
    lstm_dropout: float = 0.8  # on the LSTM branch's pooled vector beside the conv branch (LSTM-FCN's)
    backend: str = "auto"
    conv_branch: bool = True
    conv_channels: tuple[int, ...] = (128, 256, 128)
    conv_kernels: tuple[int, ...] = (8, 5, 3)
    squeeze_excite: bool = True
    ensemble: int = 3  # M: networks trained together, averaged in probability
    masked_norm: bool = True  # BatchNorm statistics over the real steps alone (MaskedBatchNorm1d)
    conv_segments: int | tuple[int, ...] = 1  # P: the conv average over P > 1 equal parts beside the global one (or one P per member)
    segment_dropout: float | tuple[float, ...] = 0.0  # on the parts' averages before the head (as lstm_dropout on the LSTM's vector; or one per member)
    conv_max: bool | tuple[bool, ...] = False  # the last block's global maximum beside its global average (or one per member)
    values_branch: bool = False  # a one-step LSTM reading the series' values at fixed places, beside both branches
    channel_bottleneck: int = 128  # B > 0: more than B channels are first mapped to B at every step (0: never)


@dataclass(kw_only=True)
class ClassifierNetConfig(ClassifierNetOptions):
    n_channels: int  # C: channels of the series (before patching)
    n_classes: int
    patch: int = 1  # k: time steps per LSTM step
    fold: int = 1  # d: raw time steps side by side in one (downsampled) step of the input
    member_folds: tuple[int, ...] | None = None  # d_m per member (None: every member reads at fold)
    member_patches: tuple[int, ...] | None = None  # k_m per member (None: every member at patch)
    member_kernels: tuple[tuple[int, ...], ...] | None = None  # conv kernels per member (None: conv_kernels)
    member_channels: tuple[int, ...] | None = None  # C_m per member (None: every member reads n_channels)
    values_places: int | tuple[int, ...] = 0  # Q: the values branch's fixed places (or one Q per member); 0: no branch

    def member_config(self, m: int) -> "ClassifierNetConfig":
        """Member m's own config: its fold d_m, patch k_m, input channels C_m and convolution
        kernels (the shared ones without ``member_folds`` / ``member_patches`` /
        ``member_channels`` / ``member_kernels``)."""
        folds, patches, kernels = self.member_folds, self.member_patches, self.member_kernels
        channels = self.member_channels
        segments, dropout = self.conv_segments, self.segment_dropout
        return dataclasses.replace(self, fold=int(folds[m]) if folds else self.fold,
                                   conv_segments=int(segments[m]) if isinstance(segments, (tuple, list)) else segments,
                                   segment_dropout=float(dropout[m]) if isinstance(dropout, (tuple, list)) else dropout,
                                   conv_max=bool(self.conv_max[m]) if isinstance(self.conv_max, (tuple, list))
                                   else bool(self.conv_max),
                                   patch=int(patches[m]) if patches else self.patch,
                                   conv_kernels=tuple(int(k) for k in kernels[m]) if kernels else self.conv_kernels,
                                   n_channels=int(channels[m]) if channels else self.n_channels,
                                   values_places=int(self.values_places[m])
                                   if isinstance(self.values_places, (tuple, list)) else int(self.values_places),
                                   member_folds=None, member_patches=None, member_kernels=None,
                                   member_channels=None)


class SqueezeExcite(nn.Module):
    """Channel gates from the masked mean over time (Hu et al. 2018), reduction 16."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gate = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, u: torch.Tensor, mask: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        squeezed = (u * mask).sum(-1) / steps  # (N, C)
        return u * self.gate(squeezed).unsqueeze(-1)  # (N, C, T)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    r"""BatchNorm over the real time steps alone: in training, channel c is normalised by the
    mean and (biased) variance of its values at the positions ``mask`` marks, ``R`` of them
    over the batch and time::

        μ_c = (1/R) Σ_{n,t: m_{n,t}=1} u_{n,c,t}      σ²_c = (1/R) Σ_{n,t: m_{n,t}=1} (u_{n,c,t} - μ_c)²
        BN(u)_{n,c,t} = γ_c (u_{n,c,t} - μ_c) / sqrt(σ²_c + ε) + β_c

    and the running statistics move towards ``μ_c`` and ``R/(R-1) σ²_c`` as ``nn.BatchNorm1d``'s
    do. ``nn.BatchNorm1d`` counts a padded step as a value (0 after the conv of zeros), so its
    statistics shrink with the batch's padding (on PLAID, lengths 100..1344, three positions in
    four are padding) and change with the batch's longest series; these do not. Without a mask,
    with one that marks every step (equal lengths: the same fit as without ``masked_norm``),
    and in eval mode (running statistics, each position alone), it is ``nn.BatchNorm1d``; its
    parameters and buffers have the same names, so the weights of either load into the other."""

    def forward(self, u: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None or not self.training or bool(mask.all()):  # no padding: torch's, bit for bit
            return super().forward(u)
        real = mask.sum()  # R: (N, 1, T) mask
        mean = (u * mask).sum(dim=(0, 2)) / real  # (C,)
        var = (((u - mean[:, None]) * mask) ** 2).sum(dim=(0, 2)) / real
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var * real / torch.clamp(real - 1, min=1)
                self.running_mean.mul_(1 - factor).add_(factor * mean)
                self.running_var.mul_(1 - factor).add_(factor * unbiased)
        normed = (u - mean[:, None]) * torch.rsqrt(var + self.eps)[:, None]
        return normed * self.weight[:, None] + self.bias[:, None] if self.affine else normed


class ConvBranch(nn.Module):
    r"""Fully convolutional branch (Wang et al. 2017's FCN): Conv1d-BatchNorm-ReLU blocks,
    optional squeeze-and-excite after all but the last, masked global average pooling, and
    (``max_pool``) the masked global maximum beside it: with ``u_{n,c,t} >= 0`` the last block's
    output (after its ReLU) over the real steps ``t < L_n``::

        GAP(u)_{n,c} = (1/L_n) Σ_{t<L_n} u_{n,c,t}        GMP(u)_{n,c} = max_{t<L_n} u_{n,c,t}

    The average says how much of a series a feature covers, the maximum whether it occurs at all:
    a short shape somewhere in a long noisy series moves the average by little (its share of the
    steps) and the maximum fully (ROCKET's max feature, Dempster et al. 2020).
    ``masked_norm`` (the default): :class:`MaskedBatchNorm1d` (statistics over the real steps),
    and then a batch is read only up to its longest series, in training as in eval; with
    ``masked_norm=False`` the padding counts in training's batch statistics and is read as the
    input gives it (in eval the steps past the longest series are cut, which changes nothing:
    every block masks them)."""

    def __init__(self, n_channels: int, channels: tuple[int, ...], kernels: tuple[int, ...],
                 squeeze_excite: bool, masked_norm: bool = True, segments: int = 1, max_pool: bool = False) -> None:
        super().__init__()
        if isinstance(segments, bool) or int(segments) != segments or segments < 1:
            raise ValueError(f"conv_segments must be a whole number >= 1, got {segments!r}")
        self.masked_norm = masked_norm
        self.segments = int(segments)
        if len(channels) != len(kernels) or not channels:
            raise ValueError(f"conv_channels and conv_kernels must have the same (non-zero) length, "
                             f"got {len(channels)} and {len(kernels)}")
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.excites = nn.ModuleList()
        width = n_channels
        for j, (out, kernel) in enumerate(zip(channels, kernels)):
            self.convs.append(nn.Conv1d(width, out, kernel, bias=False))
            self.norms.append(MaskedBatchNorm1d(out) if masked_norm else nn.BatchNorm1d(out))
            last = j == len(channels) - 1
            self.excites.append(SqueezeExcite(out) if squeeze_excite and not last else nn.Identity())
            width = out
        self.max_pool = bool(max_pool)
        self.channels_out = width  # C: the global average's width; the parts add P*C when P > 1
        self.global_width = width * (2 if self.max_pool else 1)  # [average; maximum]: dropout never touches it
        self.width = self.global_width + (width * self.segments if self.segments > 1 else 0)

    def forward(self, u: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``u`` ``(N, C, T)`` and the real steps ``lengths`` ``(N,)`` -> ``(N, width)``: the global
        average of the last block's channels, then (``max_pool``) their global maximum, then
        (``segments`` P > 1) their averages over the P parts (:func:`segment_means`)."""
        if self.masked_norm or not self.training:  # the steps past every series' end: nothing to read
            u = u[..., : max(1, int(lengths.max()))]
        mask = (torch.arange(u.shape[-1], device=u.device)[None, :] < lengths[:, None]).unsqueeze(1)  # (N, 1, T)
        mask = mask.to(u.dtype)
        steps = lengths[:, None].to(u.dtype)  # (N, 1)
        u = u * mask
        for conv, norm, excite in zip(self.convs, self.norms, self.excites):
            left = (conv.kernel_size[0] - 1) // 2  # 'same' padding: (k-1)//2 zeros before, the rest after
            u = nn.functional.pad(u, (left, conv.kernel_size[0] - 1 - left))
            u = conv(u)
            u = torch.relu(self._normalise(norm, u, mask)) * mask
            if isinstance(excite, SqueezeExcite):
                u = excite(u, mask, steps)
        pooled = [(u * mask).sum(-1) / steps]  # (N, channels[-1])
        if self.max_pool:  # u >= 0 after the ReLU and 0 past the end: the padding never wins
            pooled.append(u.amax(-1))
        if self.segments > 1:
            pooled.append(segment_means(u, lengths, self.segments))
        return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=-1)


    def _normalise(self, norm: nn.BatchNorm1d, u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Block j's BatchNorm. A training batch of one series of one step holds one value per
        channel: it has no batch variance (torch's BatchNorm refuses it), so that batch is
        normalised by the running statistics, which it leaves as they are."""
        if self.training and u.shape[0] * u.shape[-1] < 2:
            return nn.functional.batch_norm(u, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                                            training=False, eps=norm.eps)
        return norm(u, mask) if self.masked_norm else norm(u)


def segment_means(u: torch.Tensor, lengths: torch.Tensor, segments: int) -> torch.Tensor:
    r"""The means of ``u`` ``(N, C, T)`` over P = ``segments`` consecutive parts of every
    series' real steps, ``(N, P*C)`` (part 1's C channels first)::

        B_{n,p} = {t < L_n : floor(P t / L_n) = p}      z_{n,p} = (1/|B_{n,p}|) Σ_{t∈B_{n,p}} u_{n,:,t}

    (a part with no step, L_n < P, is zero). Where the global average tells the head *what*
    the convolutions found, these tell it *where*: a bell at the start and one at the end of
    a series (BME) have the same global average."""
    t = torch.arange(u.shape[-1], device=u.device)
    part = torch.div(t[None, :] * segments, lengths[:, None].to(torch.long), rounding_mode="floor")  # (N, T)
    part = part.masked_fill(t[None, :] >= lengths[:, None], segments)  # past the end: no part
    onehot = (part[..., None] == torch.arange(segments, device=u.device)).to(u.dtype)  # (N, T, P)
    sums = torch.bmm(u, onehot)  # (N, C, P)
    counts = onehot.sum(1).clamp(min=1.0)  # (N, P)
    return (sums / counts[:, None, :]).transpose(1, 2).reshape(u.shape[0], -1)


class ClassifierNet(nn.Module):
    """LSTM branch and (optional) conv branch over variable-length sequences, concatenated
    into a softmax head (logits out). See the module docstring for the equations."""

    def __init__(self, config: ClassifierNetConfig) -> None:
        super().__init__()
        c = config
        self.config = config
        self.bottleneck = None
        self.input_width = c.n_channels * c.fold  # the values of one (folded) step the branches read
        if c.channel_bottleneck and c.n_channels > c.channel_bottleneck:
            self.bottleneck = nn.Linear(c.n_channels, int(c.channel_bottleneck), bias=False)
            self.input_width = int(c.channel_bottleneck) * c.fold
        self.encoder = LSTM(self.input_width * c.patch, c.hidden_size, c.num_layers, batch_first=True,
                            bidirectional=c.bidirectional, dropout=c.dropout if c.num_layers > 1 else 0.0,
                            backend=c.backend)
        width = c.hidden_size * (2 if c.bidirectional else 1)
        if c.pooling == "attention":
            self.attention = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1, bias=False))
        self.conv = None
        if c.conv_branch:
            self.conv = ConvBranch(self.input_width, tuple(c.conv_channels), tuple(c.conv_kernels),
                                   c.squeeze_excite, c.masked_norm, c.conv_segments, bool(c.conv_max))
            width += self.conv.width
        self.values_encoder = None
        if c.values_branch and c.values_places:  # one step of Q*d*C values: D*H cells, as the LSTM branch's width
            cells = c.hidden_size * (2 if c.bidirectional else 1)
            self.values_encoder = LSTM(self.input_width * c.values_places, cells, 1, batch_first=True,
                                       backend=c.backend)
            width += cells
        self.dropout = nn.Dropout(c.dropout)
        self.lstm_dropout = nn.Dropout(c.lstm_dropout if c.conv_branch else 0.0)  # LSTM alone: none
        self.segment_dropout = nn.Dropout(c.segment_dropout)
        self.head = nn.Linear(width, c.n_classes)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        r"""Patched ``x`` ``(N, S, k*d*C)`` as the branches read it: unchanged, or with a
        ``channel_bottleneck`` B below C the C channels of every raw time step (each of the k*d
        steps side by side in a patch) mapped to B by one learned matrix (InceptionTime's
        bottleneck, Ismail Fawaz et al. 2020; a spatial filter, as for a sensor array),
        ``(N, S, k*d*B)``::

            x'_t = W_b x_t,   W_b: (B, C), no bias (a zero step stays zero, so padding stays padding)

        The first convolution then costs d*B instead of d*C input channels per filter tap, and
        the LSTM's input weights k*d*B instead of k*d*C columns: many channels are read at a
        fraction of the cost, by a map learned with the rest. The d steps folded into one block
        are left as they are: the map mixes channels, never time."""
        if self.bottleneck is None:
            return x
        n, s, _ = x.shape
        c = self.config
        return self.bottleneck(x.reshape(n, s, c.patch * c.fold, c.n_channels)).reshape(n, s, -1)

    def lstm_features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The LSTM branch's pooled vector ``(N, D*H)`` of patched (and :meth:`project`-ed) ``x``
        ``(N, S, k*C)``."""
        output, (h_n, _) = self.encoder(x, lengths=lengths)  # output (N, S, D*H)
        c = self.config
        if c.pooling == "last":
            top = h_n[-(2 if c.bidirectional else 1):]  # the last layer's directions
            return torch.cat(list(top), dim=-1)
        steps = torch.arange(x.shape[1], device=x.device)
        mask = (steps[None, :] < lengths[:, None]).unsqueeze(-1)  # (N, S, 1)
        if c.pooling == "mean":
            return (output * mask).sum(1) / lengths[:, None].to(output.dtype)
        scores = self.attention(output).masked_fill(~mask, float("-inf"))
        return (torch.softmax(scores, dim=1) * output).sum(1)

    def conv_features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The conv branch's pooled vector of the same input, unpatched to every time step."""
        n, s, _ = x.shape
        c = self.config
        u = x.reshape(n, s * c.patch, self.input_width).transpose(1, 2)  # (N, d*C or d*B, S*k)
        return self.conv(u, lengths.to(x.device) * c.patch)

    def values_features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        r"""The values branch's vector ``(N, D*H)``: the series' steps at Q fixed places, read by
        an LSTM as **one** step (LSTM-FCN's dimension shuffle, Karim et al. 2017, where the gates
        see every value at once)::

            t_q = floor((2q + 1) L_n / (2Q)),  q = 0..Q-1     (the centres of Q equal parts of the L_n real steps)
            v = [x_{t_0}; ..; x_{t_{Q-1}}]                     (Q*d*C values)
            i = σ(W_i v + b_i),  o = σ(W_o v + b_o),  g = tanh(W_g v + b_g)
            cell_state = i ⊙ g,  hidden_state = o ⊙ tanh(cell_state)   (c_0 = 0: the forget gate reads nothing)

        Where the LSTM branch reads the series in time and the convolutions find shapes wherever
        they lie, this is a gated view of *where* along the series its values lie, for every
        length alike (a series of any length is read at the same Q places)."""
        n, s, _ = x.shape
        c = self.config
        u = x.reshape(n, s * c.patch, self.input_width)  # (N, T, d*C or d*B)
        steps = (lengths.to(x.device).to(torch.long) * c.patch).clamp(min=1)
        q = torch.arange(c.values_places, device=x.device)
        places = torch.div((2 * q[None, :] + 1) * steps[:, None], 2 * c.values_places, rounding_mode="floor")
        values = torch.gather(u, 1, places.unsqueeze(-1).expand(-1, -1, u.shape[-1]))  # (N, Q, d*C)
        output, _ = self.values_encoder(values.reshape(n, 1, -1))
        return output[:, 0]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.project(x)
        pooled = self.lstm_dropout(self.lstm_features(x, lengths))
        if self.values_encoder is not None:  # LSTM-FCN's dropout on it as on the LSTM branch
            pooled = torch.cat([pooled, self.lstm_dropout(self.values_features(x, lengths))], dim=-1)
        if self.conv is not None:
            conv = self.conv_features(x, lengths)
            if self.conv.segments > 1:  # [global average (and maximum); the parts' averages]
                split = self.conv.global_width
                conv = torch.cat([conv[:, :split], self.segment_dropout(conv[:, split:])], dim=-1)
            pooled = torch.cat([pooled, conv], dim=-1)
        return self.head(self.dropout(pooled))


class ClassifierEnsemble(nn.Module):
    """M :class:`ClassifierNet` members (``config.ensemble``), each with its own weights; the
    output is the log of their mean class probabilities. ``encoder`` is the first member's LSTM
    (the one ``lstmkit inspect`` reads)."""

    def __init__(self, config: ClassifierNetConfig) -> None:
        super().__init__()
        if isinstance(config.ensemble, bool) or int(config.ensemble) != config.ensemble or config.ensemble < 1:
            raise ValueError(f"ensemble must be a whole number >= 1, got {config.ensemble!r}")
        m = int(config.ensemble)
        for name in ("member_folds", "member_patches", "member_channels"):
            values = getattr(config, name)
            if values is not None and (len(values) != m or any(int(v) != v or v < 1 for v in values)):
                raise ValueError(f"{name} must hold one whole number >= 1 per member ({m}), got {values!r}")
        segments = config.conv_segments
        if isinstance(segments, (tuple, list)) and len(segments) != m:
            raise ValueError(f"conv_segments must be one whole number, or one per member ({m}), got {segments!r}")
        dropout = config.segment_dropout
        if isinstance(dropout, (tuple, list)) and len(dropout) != m:
            raise ValueError(f"segment_dropout must be one number, or one per member ({m}), got {dropout!r}")
        bottleneck = config.channel_bottleneck
        if isinstance(bottleneck, bool) or int(bottleneck) != bottleneck or bottleneck < 0:
            raise ValueError(f"channel_bottleneck must be a whole number >= 0 (0: none), got {bottleneck!r}")
        if isinstance(config.conv_max, (tuple, list)) and len(config.conv_max) != m:
            raise ValueError(f"conv_max must be one bool, or one per member ({m}), got {config.conv_max!r}")
        kernels = config.member_kernels
        if kernels is not None and (len(kernels) != m or any(len(k) != len(config.conv_channels) or min(k) < 1
                                                             for k in kernels)):
            raise ValueError(f"member_kernels must hold one kernel per conv layer ({len(config.conv_channels)}) "
                             f"for each member ({m}), got {kernels!r}")
        self.config = config
        self.members = nn.ModuleList(ClassifierNet(config.member_config(i)) for i in range(m))

    @property
    def encoder(self) -> LSTM:
        return self.members[0].encoder

    @property
    def multiresolution(self) -> bool:
        """True when the members read different inputs (one tensor per member)."""
        c = self.config
        return c.member_folds is not None or c.member_patches is not None or c.member_channels is not None

    def member_logits(self, x, lengths) -> torch.Tensor:
        """Every member's logits, ``(M, N, n_classes)``. ``x`` and ``lengths``: one tensor
        every member reads, or (:attr:`multiresolution`) a sequence of one per member."""
        if isinstance(x, (list, tuple)):
            if len(x) != len(self.members) or len(lengths) != len(self.members):
                raise ValueError(f"expected one input per member ({len(self.members)}), got {len(x)}")
            return torch.stack([member(xm, lm) for member, xm, lm in zip(self.members, x, lengths)])
        return torch.stack([member(x, lengths) for member in self.members])

    def forward(self, x, lengths) -> torch.Tensor:
        """``log((1/M) Σ_m softmax(logits_m))``, ``(N, n_classes)``: a member's logits when M = 1."""
        logits = self.member_logits(x, lengths)
        if len(self.members) == 1:
            return logits[0]
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=0) - math.log(len(self.members))


def slice_windows(x: torch.Tensor, lengths: torch.Tensor, patch: int, fraction: float,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Window slicing (Le Guennec et al. 2016), a training-time augmentation: every sequence of
    ``L = lengths * patch`` time steps is cut to a window of ``W = ceil((1 - fraction) L)``
    consecutive steps starting at a uniform random ``a ∈ {0..L-W}``, and patched again::

        x'_t = x_{a+t},  t = 0..W-1;   lengths' = ceil(W / patch)

    (the last patch filled by repeating the window's last step). ``x`` ``(N, S, k*C)`` ->
    ``(N, S', k*C)`` with ``S' = max lengths'``. The network pools over time, so it reads the
    full sequences at test time."""
    n, s, width = x.shape
    k = int(patch)
    steps = x.reshape(n, s * k, width // k)  # (N, S*k, C)
    total = lengths.to(torch.long) * k
    keep = torch.clamp(torch.ceil((1.0 - fraction) * total.to(torch.float64)).to(torch.long), 1)
    keep = torch.minimum(keep, total)
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    start = torch.floor(u * (total - keep + 1).to(torch.float64)).to(torch.long)
    new_lengths = -(-keep // k)
    span = int(new_lengths.max()) * k
    index = start[:, None] + torch.arange(span)[None, :]
    index = torch.minimum(index, (start + keep - 1)[:, None])  # past the window: its last step
    out = torch.gather(steps, 1, index.unsqueeze(-1).expand(-1, -1, steps.shape[-1]))
    return out.reshape(n, span // k, width), new_lengths


def mix_batch(xs: list[torch.Tensor], lengths: list[torch.Tensor], alpha: float
              ) -> tuple[list[torch.Tensor], list[torch.Tensor], float, torch.Tensor]:
    r"""Mixup (Zhang et al. 2018), a training-time augmentation: the batch mixed with a shuffled
    copy of itself, one weight for the whole batch::

        λ ~ Beta(α, α),   π a random permutation of the N rows
        x'_i = λ x_i + (1 - λ) x_{π(i)},   lengths'_i = max(lengths_i, lengths_{π(i)})

    and the loss is ``λ CE(f(x'), y) + (1 - λ) CE(f(x'), y_π)``. ``xs`` and ``lengths``: one
    tensor per input resolution (every member's rows are the same series, so one λ and one π
    serve them all); steps past a series' end are zeros, so a shorter series fades out where
    the longer one goes on. Draws from torch's global generator (saved in checkpoints).
    Returns the mixed inputs and lengths, λ and π."""
    n = xs[0].shape[0]
    lam = float(torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha))).sample())
    perm = torch.randperm(n)
    mixed = [lam * x + (1.0 - lam) * x[perm] for x in xs]
    return mixed, [torch.maximum(lens, lens[perm]) for lens in lengths], lam, perm


def mix_members(xs: list[torch.Tensor], lengths: list[torch.Tensor], alphas: Sequence[float]
                ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[float], torch.Tensor]:
    r"""Mixup at one α per member (:func:`mix_batch`): member m's input ``xs[m]`` mixed with
    ``λ_m ~ Beta(α_m, α_m)`` (one draw per distinct α > 0, so members at the same α share it),
    and left as it is (``λ_m = 1``) where ``α_m = 0``; one permutation π for every member. The
    loss is ``Σ_m λ_m CE(f_m(x'_m), y) + (1 - λ_m) CE(f_m(x'_m), y_π)``. This lets members with
    and without mixup train on the same batches (the selection's candidates,
    :mod:`lstmkit.tasks.classify_select`). Returns the inputs, lengths, the λ_m and π."""
    if len(xs) != len(alphas) or len(lengths) != len(alphas):
        raise ValueError(f"expected one input per member ({len(alphas)}), got {len(xs)}")
    n = xs[0].shape[0]
    draws = {a: float(torch.distributions.Beta(torch.tensor(float(a)), torch.tensor(float(a))).sample())
             for a in sorted(set(float(a) for a in alphas)) if a > 0}
    perm = torch.randperm(n)
    lams = [draws.get(float(a), 1.0) for a in alphas]
    mixed = [x if lam == 1.0 else lam * x + (1.0 - lam) * x[perm] for x, lam in zip(xs, lams)]
    out_lengths = [lens if lam == 1.0 else torch.maximum(lens, lens[perm]) for lens, lam in zip(lengths, lams)]
    return mixed, out_lengths, lams, perm
