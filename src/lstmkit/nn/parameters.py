"""The parameter contract shared by the reference path and the fused kernels.

Names, shapes and gate order are torch.nn's, so a ``state_dict`` moves between
``torch.nn.LSTM`` and ``lstmkit.LSTM`` unchanged. For layer ``k`` and direction suffix ``s``
(``""`` or ``"_reverse"``), with G gate blocks, H hidden units, P = proj_size, H_out = P or H
and I_k the layer's input size (``input_size`` for k = 0, ``D * H_out`` above it):

=================================  ===========  ==========================================
name                               shape        when
=================================  ===========  ==========================================
``weight_ih_l{k}{s}``              (G*H, I_k)   always
``weight_hh_l{k}{s}``              (G*H, H_out) always
``bias_ih_l{k}{s}``                (G*H,)       ``bias=True``
``bias_hh_l{k}{s}``                (G*H,)       ``bias=True``
``weight_hr_l{k}{s}``              (P, H)       ``proj_size > 0``
``weight_ci_l{k}{s}``              (H,)         ``peephole=True`` and not ``cifg``
``weight_cf_l{k}{s}``              (H,)         ``peephole=True``
``weight_co_l{k}{s}``              (H,)         ``peephole=True``
``layer_norm_{ih,hh}_weight...``   (G*H,)       ``layer_norm=True`` (gain, init 1)
``layer_norm_{ih,hh}_bias...``     (G*H,)       ``layer_norm=True`` (bias, init 0)
``layer_norm_cell_{weight,bias}``  (H,)         ``layer_norm=True``
=================================  ===========  ==========================================

Cells (``LSTMCell``...) use the same names without the ``_l{k}{s}`` suffix.

Initialisation, ``init="torch"``: every tensor ~ U(-1/√H, 1/√H), exactly torch's (layer-norm
gains 1 and biases 0). ``init="keras"``: ``weight_ih`` and ``weight_hr`` Glorot-uniform,
``weight_hh`` orthogonal, biases 0 with the LSTM forget-gate block of ``bias_ih`` at 1
(Keras's ``unit_forget_bias``), peepholes 0. Then ``forget_bias`` is added to the forget
block of ``bias_ih``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .cells import LayerNormParams
from .config import RecurrentConfig


class LayerWeights(NamedTuple):
    """The tensors one layer-direction (or one cell) computes with."""

    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor | None
    bias_hh: Tensor | None
    weight_hr: Tensor | None
    peephole: tuple[Tensor, Tensor, Tensor] | None
    layer_norm: LayerNormParams | None


ROLES = (
    "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr",
    "weight_ci", "weight_cf", "weight_co",
    "layer_norm_ih_weight", "layer_norm_ih_bias", "layer_norm_hh_weight",
    "layer_norm_hh_bias", "layer_norm_cell_weight", "layer_norm_cell_bias",
)


def suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction == 1 else "")


def parameter_shapes(config: RecurrentConfig, layer_input_size: int) -> dict[str, tuple[int, ...]]:
    """Role -> shape for one layer-direction, in torch's registration order."""
    gates = config.gate_count * config.hidden_size
    hidden, out = config.hidden_size, config.output_size
    shapes: dict[str, tuple[int, ...]] = {
        "weight_ih": (gates, layer_input_size),
        "weight_hh": (gates, out),
    }
    if config.bias:
        shapes["bias_ih"] = (gates,)
        shapes["bias_hh"] = (gates,)
    if config.proj_size > 0:
        shapes["weight_hr"] = (config.proj_size, hidden)
    if config.peephole:
        if not config.cifg:
            shapes["weight_ci"] = (hidden,)
        shapes["weight_cf"] = (hidden,)
        shapes["weight_co"] = (hidden,)
    if config.layer_norm:
        for part, size in (("ih", gates), ("hh", gates), ("cell", hidden)):
            shapes[f"layer_norm_{part}_weight"] = (size,)
            shapes[f"layer_norm_{part}_bias"] = (size,)
    return shapes


def register(
    module: nn.Module,
    config: RecurrentConfig,
    layer_input_size: int,
    name_suffix: str,
    factory_kwargs: dict,
) -> list[str]:
    """Create the parameters of one layer-direction on ``module``; returns their names."""
    names = []
    for role, shape in parameter_shapes(config, layer_input_size).items():
        name = role + name_suffix
        module.register_parameter(name, nn.Parameter(torch.empty(shape, **factory_kwargs)))
        names.append(name)
    return names


def gather(module: nn.Module, config: RecurrentConfig, name_suffix: str) -> LayerWeights:
    """The :class:`LayerWeights` of one layer-direction of ``module``."""

    def get(role: str) -> Tensor | None:
        return getattr(module, role + name_suffix, None)

    peephole = None
    if config.peephole:
        peephole = (get("weight_ci"), get("weight_cf"), get("weight_co"))
    layer_norm = None
    if config.layer_norm:
        layer_norm = LayerNormParams(
            *(get(f"layer_norm_{part}_{kind}") for part in ("ih", "hh", "cell") for kind in ("weight", "bias"))
        )
    return LayerWeights(
        get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr"),
        peephole, layer_norm,
    )


def forget_rows(config: RecurrentConfig) -> slice:
    """The rows of the forget-gate block: ``f`` is second in i,f,g,o and first in f,g,o."""
    return config.spec.gate_rows("forget_gate", config.hidden_size, config.cifg)


@torch.no_grad()
def initialize(module: nn.Module, config: RecurrentConfig, name_suffix: str) -> None:
    """Initialise one layer-direction's parameters by ``config.init``, then ``forget_bias``."""
    hidden = config.hidden_size
    params = {
        role: getattr(module, role + name_suffix)
        for role in ROLES
        if getattr(module, role + name_suffix, None) is not None
    }
    if config.init == "torch":
        bound = 1.0 / math.sqrt(hidden)
        for p in params.values():
            nn.init.uniform_(p, -bound, bound)
    else:
        for role, p in params.items():
            if role in ("weight_ih", "weight_hr"):
                nn.init.xavier_uniform_(p)
            elif role == "weight_hh":
                nn.init.orthogonal_(p)
            else:
                nn.init.zeros_(p)
        if "forget_gate" in config.spec.gates and "bias_ih" in params:  # Keras's unit_forget_bias
            params["bias_ih"][forget_rows(config)] = 1.0
    for role, p in params.items():
        if role.startswith("layer_norm_"):
            if role.endswith("_weight"):
                nn.init.ones_(p)
            else:
                nn.init.zeros_(p)
    if config.forget_bias and "bias_ih" in params:
        params["bias_ih"][forget_rows(config)] += config.forget_bias

