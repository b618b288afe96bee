"""snapshot(): a deep copy of a checkpoint, checked against copy.deepcopy."""

import copy
import io
from collections import OrderedDict

import torch

from lstmkit.train.snapshot import snapshot


def _checkpoint():
    torch.manual_seed(0)
    net = torch.nn.LSTM(3, 4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    net(torch.randn(5, 2, 3))[0].sum().backward()
    opt.step()
    flat = torch.arange(12.0)
    import random
    return {
        "state_dict": net.state_dict(),
        "optimizer_states": [opt.state_dict()],
        "views": [flat[:4], flat[4:].view(2, 4), flat.view(3, 4).t()],  # one storage, three views
        "tied": (flat, flat),
        "python_random": random.getstate(),
        "loops": OrderedDict(epoch=3, progress={"total": {"ready": 7}}, name="fit"),
        "empty": torch.empty(0, 5),
        "grad": torch.ones(2, requires_grad=True),
        "conjugate": torch.tensor([1 + 2j, 3 - 1j]).conj(),  # a lazy view: left to deepcopy
    }


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _same(a, b) -> None:
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride()
        assert a.storage_offset() == b.storage_offset() and a.requires_grad == b.requires_grad
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b


def test_the_copy_equals_deepcopys_and_saves_to_the_same_bytes():
    checkpoint = _checkpoint()
    fast, slow = snapshot(checkpoint), copy.deepcopy(checkpoint)
    _same(fast, slow)
    assert _saved(fast) == _saved(slow)


def test_the_copy_shares_no_memory_and_keeps_views_as_views():
    checkpoint = _checkpoint()
    copied = snapshot(checkpoint)
    views = copied["views"]
    assert len({v.untyped_storage().data_ptr() for v in views}) == 1  # still one storage
    assert views[0].untyped_storage().data_ptr() != checkpoint["views"][0].untyped_storage().data_ptr()
    assert copied["tied"][0] is copied["tied"][1]
    assert copied["tied"][0].untyped_storage().data_ptr() == views[0].untyped_storage().data_ptr()
    # the live values move on; the copy keeps the moment it was taken
    before = copy.deepcopy(copied)
    for tensor in checkpoint["state_dict"].values():
        tensor.add_(1.0)
    for state in checkpoint["optimizer_states"][0]["state"].values():
        state["exp_avg"].mul_(2.0)
    checkpoint["views"][0].fill_(-1.0)
    checkpoint["loops"]["progress"]["total"]["ready"] = 99
    checkpoint["grad"].data.fill_(5.0)
    _same(copied, before)
    views[1].fill_(70.0)  # the copy's views write into their own shared buffer
    assert copied["tied"][0][4:].eq(70.0).all() and checkpoint["tied"][0][4:].ne(70.0).all()
