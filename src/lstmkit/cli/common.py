"""Arguments every training command shares (the engine's), and argument types."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path


def seed_int(text: str) -> int:
    """``--seed``: a whole number from 0 to 2**32 - 1 (the seeds numpy, and so Lightning, take)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {2 ** 32 - 1}, got {text}")
    return value


def _int_at_least(text: str, lowest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {lowest}, got {text!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {lowest}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def patch_steps(text: str) -> int | str:
    """A whole number >= 1 of time steps per LSTM step, or ``series`` (the whole series one step)."""
    if text.strip().lower() == "series":
        return "series"
    try:
        return _int_at_least(text, 1)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or 'series', got {text!r}") from None


def trend_window(text: str) -> int:
    """A window of at least two steps, or 0 (off)."""
    value = _int_at_least(text, 0)
    if value == 1:
        raise argparse.ArgumentTypeError(f"expected 0 (off) or a whole number >= 2, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def finite_positive_float(text: str) -> float:
    """A positive number short of infinity (a learning rate, a temperature)."""
    value = positive_float(text)
    if value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {value}")
    return value


def unit_fraction(text: str) -> float:
    """An argparse type for a weight in ``[0, 1]`` (the error names the text given)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a weight in [0, 1], got {text!r}")
    return value


def fraction_below(high: float):
    """An argparse type for a fraction in ``[0, high)`` (the error names the text given)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value < high:
            raise argparse.ArgumentTypeError(f"expected a fraction in [0, {high:g}), got {text!r}")
        return value

    return parse


#: The Lightning strategies that run on the CPU as on GPUs (ddp: one process per device, gloo or
#: nccl); others (fsdp, deepspeed) need GPUs and their own packages, and Lightning refuses
#: them only after the data is read, with a traceback.
STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork")


def add_training_arguments(parser: argparse.ArgumentParser, *, max_epochs: int, out_help: str,
                           max_time: float | None = None, epochs_help: str | None = None):
    """The training options every training command shares, in one argument group; returns the
    group, for a command to add its own training options to."""
    group = parser.add_argument_group("training (shared by every training command)")
    group.add_argument("--out", default=None, metavar="DIR", help=out_help)
    group.add_argument("--seed", type=seed_int, default=0, help="random seed: the same seed gives the same numbers (default 0)")
    group.add_argument("--max-epochs", type=positive_int, default=max_epochs, metavar="N",
                       help=epochs_help or f"most epochs to train (default {max_epochs}; early stopping may end sooner)")
    group.add_argument("--max-time", type=positive_float, default=max_time, metavar="MIN",
                       help=f"most minutes to train (default {max_time:g})" if max_time
                       else "most minutes to train (default: no limit)")
    group.add_argument("--checkpoint-every", type=positive_float, default=5.0, metavar="MIN",
                       help="minutes between checkpoints in the middle of an epoch, for --resume "
                            "(default 5; checkpoints also come at every epoch end and when --max-time ends)")
    group.add_argument("--devices", type=positive_int, default=1, metavar="N",
                       help="processes (CPU) or GPUs to train on (default 1)")
    group.add_argument("--strategy", default="auto", choices=STRATEGIES,
                       help="Lightning strategy for --devices N > 1 (default auto: ddp)")
    group.add_argument("--resume", default=None, metavar="DIR",
                       help="continue training from DIR/checkpoints/last.ckpt (same data and options)")
    group.add_argument("--backend", default="auto", choices=["auto", "fused", "reference"],
                       help="LSTM backend (default auto)")
    group.add_argument("--threads", type=positive_int, default=None, metavar="N",
                       help="CPU threads torch uses (default: torch's, one per core; with --devices N > 1 "
                            "on the CPU each of the N processes takes cores / N instead)")
    return group


@contextlib.contextmanager
def command_threads(args: argparse.Namespace):
    """Within the block torch uses ``args.threads`` CPU threads when the command has that flag
    and it is given (unchanged otherwise); the count before is restored afterwards, so a command
    run inside a Python process (a test, a notebook) leaves that process's threads as they were."""
    count = getattr(args, "threads", None)
    if count is None or getattr(args, "command", None) == "bench":  # bench sets its own, per measurement
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def holds_run_dir(task: str, *, unless_model: bool = False):
    """Decorate a command's ``run(args)`` so that it runs holding its run directory (one run per
    ``--out``, see :func:`lstmkit.runs.run_dir_lock`): ``--out``, else ``--resume``'s
    directory, else ``runs/<task>-<time>``, which is then written into ``args.out`` so the
    command writes where the lock is. ``unless_model``: with ``--model`` the command writes
    nothing and takes no lock."""
    import functools

    def decorate(run):
        @functools.wraps(run)
        def wrapper(args: argparse.Namespace) -> int:
            from lstmkit.errors import InputError
            from lstmkit.runs import default_run_dir, run_dir_lock

            for given in (getattr(args, "out", None), getattr(args, "resume", None)):
                if given and Path(given).exists() and not Path(given).is_dir():
                    raise InputError(f"{given}: is a file; the run's files go into a directory: "
                                     "name a directory (a new one, or a run's) with --out")
            if unless_model and getattr(args, "model", None):
                return run(args)
            args.out = str(args.out or getattr(args, "resume", None) or default_run_dir(task))
            if ((Path(args.out) / "config.json").is_file() and not getattr(args, "resume", None)
                    and not getattr(args, "model", None)):  # with --model no model is written
                print(f"note: {args.out} holds an earlier run's model; this run replaces it "
                      "(another --out keeps it)")
            with run_dir_lock(args.out):
                return run(args)

        return wrapper

    return decorate


def estimator_options(estimator_cls, args: argparse.Namespace, **overrides) -> dict:
    """The keyword arguments of ``estimator_cls`` that ``args`` sets (the parsed flags whose
    names are the estimator's options: ``--hidden-size`` is ``hidden_size``, the training
    flags are the TrainingConfig's fields), then ``overrides``."""
    import inspect

    names = [n for n in inspect.signature(estimator_cls).parameters if n != "self"]
    options = {n: getattr(args, n) for n in names if hasattr(args, n)}
    options.update(overrides)
    return options
