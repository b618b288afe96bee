"""Inputs for the fused kernels' ``torch.autograd.Function``s.

Inside ``Function.forward`` ``ctx.needs_input_grad`` says only whether each input
``requires_grad``; it is True for parameters even under ``torch.no_grad()`` and
``torch.inference_mode()``, where no graph is recorded.  The kernels decide from it whether to
save their buffers for a backward, so without this they would write (T, N, 5H) floats at every
inference call for a backward that never comes.
"""

from __future__ import annotations

import torch


def graph_inputs(*tensors):
    """``tensors`` unchanged when autograd records (grad mode on), else detached views (and
    None kept as None), so that ``needs_input_grad`` is all False."""
    if torch.is_grad_enabled():
        return tensors
    return tuple(t.detach() if isinstance(t, torch.Tensor) else t for t in tensors)
