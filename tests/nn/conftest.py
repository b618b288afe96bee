import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def backend(request):
    """For tests parametrized over backend names with ``indirect=True``: the name, with the
    test run inside ``helpers.on(name)`` (skipped, saying why, where the fused kernels
    cannot compile; "torch": as where they cannot). Build modules with
    ``backend=helpers.requested(name)`` and assert ``last_backend == name``."""
    from helpers import on

    with on(request.param):
        yield request.param
