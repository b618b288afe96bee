"""Checkpoints by time, resuming from the middle of an epoch, and one run per run directory.

The kill-and-resume tests run the ``lstmkit`` command in a subprocess, kill it with SIGKILL
once a mid-epoch ``last.ckpt`` exists, resume it with ``--resume``, and compare the final
numbers with an uninterrupted run of the same command.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import lstmkit
from lstmkit.train import TrainingConfig, fit

SRC = str(Path(lstmkit.__file__).resolve().parents[1])


# ----------------------------------------------------------------------------- the engine


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = lstmkit.LSTM(1, 8, batch_first=True)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x):
        return self.head(torch.nn.functional.dropout(self.lstm(x)[0][:, -1], 0.2, self.training))


def loss_fn(net, batch):
    return torch.nn.functional.mse_loss(net(batch[0]), batch[1])


def loaders(own_generator: bool):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 10, 1, generator=g)
    y = x[:, -2:, 0].sum(1, keepdim=True)
    generator = torch.Generator().manual_seed(5) if own_generator else None
    train = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=16, shuffle=True, generator=generator)
    return train, DataLoader(TensorDataset(x[64:], y[64:]), batch_size=32)


class Killed(Exception):
    """Stands for a SIGKILL: training stops between two batches, nothing more is written."""


class Record:
    """Records every batch trained on; raises :class:`Killed` before optimizer step ``kill_at``."""

    def __new__(cls, seen: list, kill_at: int | None = None):
        import lightning.pytorch as pl

        class Recorder(pl.Callback):
            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                if kill_at is not None and trainer.global_step == kill_at:
                    raise Killed
                seen.append((trainer.current_epoch, batch_idx, float(batch[0].sum())))

        return Recorder()


def train(run_dir, seen, *, own_generator, kill_at=None, resume=False):
    torch.manual_seed(0)
    net = Net()
    train_loader, val_loader = loaders(own_generator)
    config = TrainingConfig(max_epochs=4, learning_rate=0.02, checkpoint_every=1e-9, seed=3,
                            lr_schedule="cosine", warmup_steps=3)
    result = fit(net, loss_fn, train_loader, val_loader, config, run_dir,
                 resume_from=run_dir if resume else None, callbacks=[Record(seen, kill_at)])
    return net, result


@pytest.mark.parametrize("own_generator", [True, False], ids=["loader-generator", "global-rng"])
def test_a_mid_epoch_checkpoint_resumes_mid_epoch_batch_for_batch(tmp_path, own_generator):
    whole: list = []
    net_whole, result_whole = train(tmp_path / "whole", whole, own_generator=own_generator)
    assert len(whole) == 4 * 4  # 4 epochs of 4 batches

    before: list = []
    with pytest.raises(Killed):
        train(tmp_path / "cut", before, own_generator=own_generator, kill_at=6)  # epoch 1, batch 2
    saved = torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 6 and saved["epoch"] == 1  # written in the middle of epoch 1
    after: list = []
    net_cut, result_cut = train(tmp_path / "cut", after, own_generator=own_generator, resume=True)

    assert len(before) == 6 and after[0][:2] == (1, 2)  # resumed at epoch 1, batch 2
    assert before + after == whole  # the same batches, in the same order, none twice
    assert result_cut.steps == result_whole.steps == 16
    assert result_cut.best_val_loss == result_whole.best_val_loss
    for a, b in zip(net_whole.parameters(), net_cut.parameters()):
        assert torch.equal(a, b)


def test_the_end_of_max_time_leaves_a_checkpoint_to_resume_from(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8000, 10, 1, generator=g)
    batches = [float(x[4 * i:4 * i + 4].sum()) for i in range(2000)]

    def run(max_time, seen, resume):
        train_loader = DataLoader(TensorDataset(x, x[:, -1]), batch_size=4)
        config = TrainingConfig(max_epochs=2, max_time=max_time, checkpoint_every=None)
        return fit(Net(), loss_fn, train_loader, None, config, tmp_path,
                   resume_from=tmp_path if resume else None, callbacks=[Record(seen)])

    first: list = []
    result = run(1 / 60, first, False)  # one second: stopped part-way through the first epoch
    assert 0 < result.steps < 2000
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == result.steps  # written when the time ran out
    second: list = []
    run(2 / 60, second, True)
    # Lightning counts a stop by max_time as the end of that epoch and resumes at the next
    # epoch's first batch; the data follows the same index (the same batch as an
    # uninterrupted second epoch would start with)
    assert second[0][:2] == (1, 0) and second[0][2] == batches[0]
    assert [b for _, _, b in second] == batches[:len(second)]


def test_checkpoints_are_written_atomically_and_stale_temporaries_are_removed(tmp_path, monkeypatch):
    from lstmkit.train import engine

    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / ".last.ckpt.abc.tmp").write_bytes(b"half")
    seen: list = []
    train(tmp_path, seen, own_generator=True)
    assert not list(checkpoints.glob(".*.tmp"))
    io = engine._atomic_checkpoint_io()
    target = tmp_path / "x.ckpt"
    target.write_bytes(b"old")

    def explode(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(torch, "save", explode)
    with pytest.raises(Killed):
        io.save_checkpoint({"a": 1}, target)
    assert target.read_bytes() == b"old"  # the old checkpoint is untouched by a failed write
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_schedule_clock_survives_a_resume():
    from lstmkit.train.engine import _schedule_callback

    schedule = _schedule_callback(TrainingConfig(max_time=1.0, lr_schedule="cosine"))
    schedule.load_state_dict({"elapsed_seconds": 30.0})
    schedule.on_train_start(None, None)
    assert 30.0 <= schedule.state_dict()["elapsed_seconds"] < 31.0


def test_checkpoint_every_is_checked():
    with pytest.raises(ValueError, match="checkpoint_every must be a positive number of minutes"):
        TrainingConfig(checkpoint_every=0)
    assert TrainingConfig(checkpoint_every=None).checkpoint_every is None


# ----------------------------------------------------------------------------- the commands


def lstmkit_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lstmkit", *args]


def environment() -> dict:
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}


def mid_epoch(checkpoint: Path) -> bool:
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    progress = saved["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]
    return progress["completed"] < progress["processed"]  # saved between two batches


def kill_and_resume(tmp_path: Path, args: list[str]) -> tuple[Path, Path, bool]:
    """Run ``lstmkit ARGS --out whole`` to the end, and ``lstmkit ARGS --out cut`` (at the same
    time) until its ``last.ckpt`` has been rewritten at least once and was written in the
    middle of an epoch, SIGKILL it, then resume it
    with ``--resume cut``. Returns both run directories and whether the checkpoint resumed
    from lay in the middle of an epoch."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    env = environment()
    uninterrupted = subprocess.Popen(lstmkit_command(*args, "--out", str(whole)), env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    victim = subprocess.Popen(lstmkit_command(*args, "--out", str(cut)), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = cut / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    first_seen = None
    try:
        while time.monotonic() < deadline and victim.poll() is None:
            if last.is_file():
                stamp = last.stat().st_mtime_ns
                first_seen = first_seen or stamp
                if stamp != first_seen and mid_epoch(last):
                    break
            time.sleep(0.02)
        assert victim.poll() is None, "the run ended before it could be killed: make it longer"
        victim.send_signal(signal.SIGKILL)
    finally:
        victim.kill()
        victim.wait(timeout=30)
    assert not (cut / "metrics.json").exists()
    was_mid_epoch = mid_epoch(last)
    resumed = subprocess.run(lstmkit_command(*args, "--out", str(cut), "--resume", str(cut)), env=env,
                             capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _, err = uninterrupted.communicate(timeout=240)
    assert uninterrupted.returncode == 0, err.decode()[-3000:]
    return whole, cut, was_mid_epoch


@pytest.mark.slow
def test_generate_killed_and_resumed_reaches_the_uninterrupted_numbers(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. the dog sat on the log. a bird flew over the hill and sang. " * 70)
    # --max-time 60 is far beyond the run, so the cosine schedule follows the steps; its
    # clock part (elapsed / max_time, below 1e-3 here) is maximised with the step
    # progress and never wins after the first steps, so the runs are deterministic
    args = ["generate", str(text), "--hidden-size", "8", "--num-layers", "1", "--no-layer-norm",
            "--streams", "4", "--steps", "20", "--max-epochs", "3", "--max-time", "60",
            "--checkpoint-every", "0.005", "--length", "20", "--seed", "1"]
    whole, cut, _ = kill_and_resume(tmp_path, args)
    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((cut / "metrics.json").read_text())
    assert b["epochs"] == a["epochs"] == 3
    # equal to the last bit in practice (the whole data stream is replayed); rel=1e-4 as the
    # contract, since the schedule's clock part could in principle nudge an early step
    assert b["val_bits_per_character"] == pytest.approx(a["val_bits_per_character"], rel=1e-4)
    assert (cut / "samples.txt").read_text() == (whole / "samples.txt").read_text()


@pytest.mark.slow
def test_forecast_killed_and_resumed_reaches_the_uninterrupted_numbers(tmp_path):
    import pandas as pd

    args = ["forecast", "--backtest-windows", "0", "--hidden-size", "8", "--max-epochs", "40",
            "--checkpoint-every", "0.001", "--seed", "2"]
    whole, cut, _ = kill_and_resume(tmp_path, args)
    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((cut / "metrics.json").read_text())
    assert b["epochs"] == a["epochs"]
    # the LSTM's validation MASE decides its weight in the combination: equal after a resume
    va, vb = a["combination"]["validation_mase"], b["combination"]["validation_mase"]
    assert vb["lstm"] == pytest.approx(va["lstm"], rel=1e-4)
    assert b["combination"]["weights"] == pytest.approx(a["combination"]["weights"], rel=1e-4, abs=1e-6)
    fa, fb = pd.read_csv(whole / "forecast.csv"), pd.read_csv(cut / "forecast.csv")
    assert fb["y_hat"].to_numpy() == pytest.approx(fa["y_hat"].to_numpy(), rel=1e-4)


# ----------------------------------------------------------------------------- one run per --out

HOLD = """
import sys, time
from lstmkit.runs import run_dir_lock
with run_dir_lock(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_second_run_on_the_same_out_is_refused_until_the_first_dies(tmp_path, capsys):
    from lstmkit.cli.main import main
    from lstmkit.errors import InputError
    from lstmkit.runs import run_dir_lock

    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], env=environment(),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        before = sorted(p.name for p in out.iterdir())
        code = main(["forecast", "--backtest-windows", "0", "--max-epochs", "1", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2
        assert err == (f"error: {out}: another lstmkit run (pid {holder.pid}) is writing here; "
                       f"use another --out or wait for it\n")
        assert sorted(p.name for p in out.iterdir()) == before == [".lock"]  # wrote nothing
        with pytest.raises(InputError, match=r"use another out or wait") as caught:
            with run_dir_lock(out):
                pass
        assert caught.value.param == "out"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with run_dir_lock(out):  # the operating system released the killed holder's lock
        assert (out / ".lock").read_text().strip() == str(os.getpid())


def test_a_run_that_fails_before_writing_leaves_no_directory(tmp_path, capsys):
    from lstmkit.cli.main import main

    out = tmp_path / "runs" / "run"
    assert main(["forecast", str(tmp_path / "missing.csv"), "--out", str(out)]) == 2
    assert not (tmp_path / "runs").exists()
