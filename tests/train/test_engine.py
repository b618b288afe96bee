"""The shared training engine: best weights, time limit, seeds, silence."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lstmkit
from lstmkit.errors import InputError
from lstmkit.train import TrainingConfig, fit


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = lstmkit.LSTM(1, 8, batch_first=True)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


def loss_fn(net, batch):
    return torch.nn.functional.mse_loss(net(batch[0]), batch[1])


def loaders(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(96, 10, 1, generator=g)
    y = x[:, -2:, 0].sum(1, keepdim=True)
    train = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=16, shuffle=True,
                       generator=torch.Generator().manual_seed(seed))
    return train, DataLoader(TensorDataset(x[64:], y[64:]), batch_size=32)


def test_best_weights_are_restored(tmp_path):
    net = Net()
    train, val = loaders()
    result = fit(net, loss_fn, train, val, TrainingConfig(max_epochs=12, learning_rate=0.02), tmp_path)
    assert result.epochs == 12 and result.is_global_zero and result.world_size == 1
    assert result.steps == 12 * 4
    with torch.no_grad():
        val_loss = sum(loss_fn(net, b) * len(b[0]) for b in val) / 32
    assert abs(float(val_loss) - result.best_val_loss) < 1e-5
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()
    assert (tmp_path / "logs" / "metrics.csv").read_text().startswith("epoch,step")


def test_same_seed_same_weights(tmp_path):
    weights = []
    for k in range(2):
        torch.manual_seed(0)
        net = Net()
        train, val = loaders()
        fit(net, loss_fn, train, val, TrainingConfig(max_epochs=3, seed=7), tmp_path / str(k))
        weights.append([p.detach().clone() for p in net.parameters()])
    for a, b in zip(*weights):
        assert torch.equal(a, b)


def test_max_time_stops_training(tmp_path):
    # (that it stopped is the claim; how many epochs fit in the 1.2 s depends on the machine)
    net = Net()
    train, _ = loaders()
    result = fit(net, loss_fn, train, None, TrainingConfig(max_epochs=100000, max_time=0.02), tmp_path)
    assert 1 <= result.epochs < 100000


def test_quiet_when_not_a_terminal(tmp_path, capfd):
    net = Net()
    train, val = loaders()
    fit(net, loss_fn, train, val, TrainingConfig(max_epochs=2), tmp_path)
    captured = capfd.readouterr()
    assert captured.out == ""
    assert "GPU available" not in captured.err and "Epoch" not in captured.err


def test_cosine_schedule_sets_the_learning_rate_of_every_step(tmp_path):
    import math

    import lightning.pytorch as pl

    seen = []

    class Record(pl.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            seen.append(optimizer.param_groups[0]["lr"])

    config = TrainingConfig(max_epochs=3, learning_rate=0.01, lr_schedule="cosine", warmup_steps=2,
                            final_lr_fraction=0.1)
    train, val = loaders()
    fit(Net(), loss_fn, train, val, config, tmp_path, callbacks=[Record()])
    total = 3 * 4  # epochs x batches
    expected = [0.01 * min(1, (k + 1) / 2) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / total)))
                for k in range(total)]
    assert seen == pytest.approx(expected, rel=1e-12)
    assert seen[0] == pytest.approx(0.005) and seen[-1] < 0.0015


def test_cosine_schedule_follows_the_clock_when_time_is_the_budget():
    from lstmkit.train.engine import scheduled_learning_rate

    config = TrainingConfig(max_time=1.0, learning_rate=1.0, lr_schedule="cosine", final_lr_fraction=0.0)
    assert scheduled_learning_rate(config, 10, 0.5) == pytest.approx(0.5)
    assert scheduled_learning_rate(config, 10, 1.7) == pytest.approx(0.0)
    assert scheduled_learning_rate(TrainingConfig(learning_rate=0.3), 99, 0.9) == 0.3


@pytest.mark.parametrize("kwargs, message", [
    ({"lr_schedule": "step"}, "lr_schedule must be one of constant, cosine, got 'step'"),
    ({"warmup_steps": -1}, "warmup_steps must be 0 or more, got -1"),
    ({"final_lr_fraction": 2.0}, "final_lr_fraction must lie in [0, 1], got 2.0"),
])
def test_schedule_settings_are_checked(kwargs, message):
    with pytest.raises(ValueError) as err:
        TrainingConfig(**kwargs)
    assert str(err.value) == message


def test_final_weights_best_or_last(tmp_path):
    # a loss that grows from epoch to epoch while the weight moves on: the best epoch (by the
    # training loss, with no validation set) is the first, the last one is elsewhere
    class Growing(torch.utils.data.IterableDataset):
        def __init__(self):
            self.epoch = 0

        def __iter__(self):
            self.epoch += 1
            yield torch.tensor([10.0 ** self.epoch])

    def weight_after(final_weights):
        net = nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            net.weight.zero_()
        loader = torch.utils.data.DataLoader(Growing(), batch_size=None)
        config = TrainingConfig(max_epochs=3, learning_rate=0.1, progress=False, final_weights=final_weights)
        fit(net, lambda net, v: v * (net.weight - 3.0).pow(2).sum(), loader, None, config, tmp_path / final_weights)
        return float(net.weight.detach())

    assert weight_after("best") == pytest.approx(0.1, abs=1e-3)  # one Adam step of 0.1
    assert weight_after("last") == pytest.approx(0.3, abs=1e-3)  # three
    with pytest.raises(ValueError, match="final_weights must be one of best, last, got 'middle'"):
        TrainingConfig(final_weights="middle")


def test_the_logged_losses_are_the_epochs_batch_size_weighted_means(tmp_path):
    # learning rate 0: the weights stay put, so each epoch's losses are known beforehand; batches
    # of 16, 16, 16 and 2 (train) and 32, 10 (validation) make a plain mean of batches differ
    import csv

    net = Net()
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(92, 10, 1, generator=g), torch.randn(92, 1, generator=g)
    train = DataLoader(TensorDataset(x[:50], y[:50]), batch_size=16)
    val = DataLoader(TensorDataset(x[50:], y[50:]), batch_size=32)
    fit(net, loss_fn, train, val, TrainingConfig(max_epochs=2, learning_rate=0.0, gradient_clip=None), tmp_path)
    with torch.no_grad():
        expected_train = float(sum(loss_fn(net, b) * len(b[0]) for b in train) / 50)
        expected_val = float(sum(loss_fn(net, b) * len(b[0]) for b in val) / 42)
        batch_mean = float(sum(loss_fn(net, b) for b in train) / len(train))
    assert abs(batch_mean - expected_train) > 1e-3  # the weighting is what is checked
    rows = list(csv.DictReader((tmp_path / "logs" / "metrics.csv").open()))
    train_logged = [float(r["train_loss"]) for r in rows if r.get("train_loss")]
    val_logged = [float(r["val_loss"]) for r in rows if r.get("val_loss")]
    assert len(train_logged) == 2 and len(val_logged) == 2
    for value in train_logged:
        assert value == pytest.approx(expected_train, rel=1e-5)
    for value in val_logged:
        assert value == pytest.approx(expected_val, rel=1e-5)


def _fit_counting_writes(tmp_path, monkeypatch, seconds, epochs=12):
    from lstmkit.train import engine

    writes = []
    save = torch.save

    def counted(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and "state_dict" in obj:
            writes.append(int(obj["global_step"]))
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(engine, "EPOCH_CHECKPOINT_SECONDS", seconds)
    monkeypatch.setattr(torch, "save", counted)
    torch.manual_seed(0)
    net = Net()
    train, val = loaders()
    result = fit(net, loss_fn, train, val,
                 TrainingConfig(max_epochs=epochs, learning_rate=0.05, checkpoint_every=None), tmp_path)
    monkeypatch.setattr(torch, "save", save)
    return net, result, writes


def test_epoch_checkpoints_owed_are_written_at_the_end_as_every_epoch_saving_would_leave_them(tmp_path, monkeypatch):
    net_a, result_a, writes_a = _fit_counting_writes(tmp_path / "every", monkeypatch, 0.0)
    net_b, result_b, writes_b = _fit_counting_writes(tmp_path / "throttled", monkeypatch, 3600.0)
    # every epoch wrote last and, where it improved, best; throttled: the first epoch's two,
    # then the two owed at the end (best of the last improvement, last of the final epoch)
    assert len(writes_a) >= 14 and writes_a[-1] == result_a.steps == 12 * 4
    best_step = max(step for step in writes_a if writes_a.count(step) == 2)
    assert writes_b == [4, 4, best_step, result_b.steps]
    assert result_a.best_epoch == result_b.best_epoch and result_a.best_val_loss == result_b.best_val_loss
    for a, b in zip(net_a.parameters(), net_b.parameters()):  # the best epoch's weights, restored
        assert torch.equal(a, b)
    for name in ("best.ckpt", "last.ckpt"):
        a = torch.load(tmp_path / "every" / "checkpoints" / name, weights_only=False)
        b = torch.load(tmp_path / "throttled" / "checkpoints" / name, weights_only=False)
        assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"])
        for key in a["state_dict"]:
            assert torch.equal(a["state_dict"][key], b["state_dict"][key]), (name, key)
        for sa, sb in zip(a["optimizer_states"][0]["state"].values(), b["optimizer_states"][0]["state"].values()):
            assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # the owed checkpoints were copies of their moment, not the live weights: those moved on
    # after the last improvement (the file would otherwise hold the final weights)
    assert best_step < result_b.steps


class _StubTrainer:
    """What the checkpoint callbacks use of a Trainer: one process, writes recorded."""

    def __init__(self):
        self.global_step = 0
        self.written = []  # (file, global_step of the checkpoint written)
        self.is_global_zero, self.loggers, self.world_size = True, [], 1
        self.num_training_batches, self.should_stop = 100, False
        trainer = self

        class Strategy:
            def broadcast(self, obj, src=0):
                return obj

            def save_checkpoint(self, checkpoint, path, storage_options=None):
                trainer.written.append((str(path), checkpoint["global_step"]))

            def barrier(self, name=None):
                pass

        class Connector:
            def dump_checkpoint(self, weights_only=False):
                return {"global_step": trainer.global_step, "state_dict": {"w": torch.full((2,), trainer.global_step)}}

        self.strategy, self._checkpoint_connector = Strategy(), Connector()

    def save_checkpoint(self, path, weights_only=False, storage_options=None):
        self.strategy.save_checkpoint(self._checkpoint_connector.dump_checkpoint(), path)


def test_a_timed_checkpoint_writes_the_owed_epoch_checkpoints_first(tmp_path):
    from lstmkit.train.engine import _epoch_checkpoint_callback, _timed_checkpoint_callback

    trainer = _StubTrainer()
    epoch = _epoch_checkpoint_callback(tmp_path, "train_loss", 3600.0)
    timed = _timed_checkpoint_callback(tmp_path / "last.ckpt", 0.0, epoch)
    trainer.global_step = 4
    epoch._save_checkpoint(trainer, "best.ckpt")  # the first save: written
    epoch._save_checkpoint(trainer, "last.ckpt")  # the same epoch end: written with it
    trainer.global_step = 8
    epoch._save_checkpoint(trainer, "best.ckpt")  # owed
    epoch._save_checkpoint(trainer, "last.ckpt")  # owed
    assert trainer.written == [("best.ckpt", 4), ("last.ckpt", 4)]
    trainer.global_step = 9
    timed.on_train_batch_end(trainer, None, None, None, 0)
    assert trainer.written[2:] == [("best.ckpt", 8), ("last.ckpt", 8), (str(tmp_path / "last.ckpt"), 9)]
    epoch.on_train_end(trainer, None)  # nothing owed any more
    assert len(trainer.written) == 5


def test_resuming_another_networks_checkpoint_is_refused_by_name(tmp_path):
    train, val = loaders()
    fit(Net(), loss_fn, train, val, TrainingConfig(max_epochs=1), tmp_path / "a")
    wider = Net()
    wider.head = torch.nn.Linear(8, 3)  # another horizon: the head's shape differs
    with pytest.raises(InputError, match=r"its checkpoint is of another network \('head.weight' is "
                       r"\(1, 8\) there and \(3, 8\) here\)"):
        fit(wider, loss_fn, train, val, TrainingConfig(max_epochs=2), tmp_path / "b", resume_from=tmp_path / "a")
    extra = Net()
    extra.more = torch.nn.Linear(2, 2)
    with pytest.raises(InputError, match=r"it has no 'more.weight'"):
        fit(extra, loss_fn, train, val, TrainingConfig(max_epochs=2), tmp_path / "c", resume_from=tmp_path / "a")


def test_ctrl_c_in_training_is_a_keyboard_interrupt_and_its_checkpoint_resumes(tmp_path):
    """Lightning answers Ctrl-C with sys.exit(1) and SIGINT ignored; the engine raises
    KeyboardInterrupt again (the command's exit 130) and gives SIGINT its handler back."""
    import signal

    from lightning.pytorch.callbacks import Callback

    class CtrlC(Callback):
        def on_train_epoch_end(self, trainer, module):
            if trainer.current_epoch == 1:
                raise KeyboardInterrupt

    train, val = loaders()
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        fit(Net(), loss_fn, train, val, TrainingConfig(max_epochs=4), tmp_path, callbacks=[CtrlC()])
    assert signal.getsignal(signal.SIGINT) is before
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    result = fit(Net(), loss_fn, train, val, TrainingConfig(max_epochs=4), tmp_path, resume_from=tmp_path)
    assert result.epochs == 4


def test_a_finished_run_continued_elsewhere_can_be_continued_again(tmp_path, recwarn):
    train, val = loaders()
    fit(Net(), loss_fn, train, val, TrainingConfig(max_epochs=2), tmp_path / "a")
    # nothing left to train at 2 epochs: the new directory still starts with the checkpoint
    result = fit(Net(), loss_fn, train, val, TrainingConfig(max_epochs=2), tmp_path / "b", resume_from=tmp_path / "a")
    assert result.epochs == 2
    assert (tmp_path / "b" / "checkpoints" / "last.ckpt").read_bytes() == \
        (tmp_path / "a" / "checkpoints" / "last.ckpt").read_bytes()
    result = fit(Net(), loss_fn, train, val, TrainingConfig(max_epochs=3), tmp_path / "c", resume_from=tmp_path / "b")
    assert result.epochs == 3
    assert not [w for w in recwarn if "dirpath" in str(w.message)]


def test_more_training_processes_than_cores_are_noted(tmp_path, monkeypatch, capsys):
    import os

    import lstmkit.train.engine as engine

    if torch.cuda.is_available():
        pytest.skip("the devices are GPUs here")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(engine, "_fit", lambda *args, **kwargs: "trained")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    train, val = loaders()
    assert fit(Net(), loss_fn, train, val, TrainingConfig(devices=3), tmp_path) == "trained"
    assert capsys.readouterr().err == ("note: 3 training processes on 2 core(s): they share the cores, and each step "
                                       "waits for the slowest (fewer devices train faster here)\n")
    assert fit(Net(), loss_fn, train, val, TrainingConfig(devices=2), tmp_path) == "trained"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("with_validation", [True, False])
def test_a_run_without_a_directory_keeps_the_best_weights_in_memory(tmp_path, monkeypatch, with_validation):
    """``run_dir=None``: nothing can resume from it, so no checkpoint is written; the net ends
    with the same best epoch's weights, and the same result, as a run with a directory."""
    runs = []
    for run_dir in (tmp_path / "kept", None):
        torch.manual_seed(0)
        net = Net()
        train, val = loaders()
        saves = []
        real_save = torch.save
        monkeypatch.setattr(torch, "save", lambda obj, f, *a, **k: (saves.append(f), real_save(obj, f, *a, **k)))
        config = TrainingConfig(max_epochs=8, learning_rate=0.5, seed=3, progress=False)  # it overshoots
        result = fit(net, loss_fn, train, val if with_validation else None, config, run_dir)
        monkeypatch.setattr(torch, "save", real_save)
        runs.append((result, [p.detach().clone() for p in net.parameters()], saves))
    (kept, kept_weights, kept_saves), (memory, memory_weights, memory_saves) = runs
    assert kept_saves and memory_saves == []  # the kept run wrote its checkpoints; the other none
    assert memory.best_epoch == kept.best_epoch is not None and memory.epochs == kept.epochs == 8
    assert memory.best_val_loss == kept.best_val_loss and memory.steps == kept.steps
    for a, b in zip(kept_weights, memory_weights):
        assert torch.equal(a, b)
    assert kept.best_epoch < 7 or not with_validation  # by the validation loss not the last epoch
