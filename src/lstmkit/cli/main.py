"""The ``lstmkit`` command: argument parsing, exit codes, one-line errors.

Exit status: 0 done; 2 bad usage or bad input (one line ``error: ...`` on stderr, no
traceback); 1 an internal fault. Subcommands live in their own modules and import torch
only when they run, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from lstmkit import __version__

# name -> (module, one-line help); each module has add_arguments(parser) and run(args)
COMMANDS = {
    "forecast": ("lstmkit.cli.forecast", "train, backtest and forecast time series from a CSV or Parquet file"),
    "classify": ("lstmkit.cli.classify", "classify sequences (.ts, .tsv, .arff, CSV, Parquet, or a bundled UCR/UEA data set)"),
    "generate": ("lstmkit.cli.generate", "train a character-level LSTM language model and generate text"),
    "translate": ("lstmkit.cli.translate", "train an attentional LSTM translator on sentence pairs, score it (BLEU, chrF), translate"),
    "lab": ("lstmkit.cli.lab", "vanishing gradients and long-term memory: RNN vs GRU vs LSTM on long-dependency tasks"),
    "detect": ("lstmkit.cli.detect", "find anomalies in time series (LSTM prediction or reconstruction error), scored against labels and baselines"),
    "inspect": ("lstmkit.cli.inspect", "look inside a saved model's LSTM: gate heatmaps, cell states, gate saturation, an HTML report"),
    "bench": ("lstmkit.cli.bench", "time the fused LSTM kernels against torch.nn.LSTM and the reference path"),
    "demo": ("lstmkit.cli.demo", "train a small LSTM on generated data and compare it to a plain RNN"),
    "info": ("lstmkit.cli.info", "build the fused kernels if needed; versions, CPU, threads and the backends this machine can run"),
}


class UsageError(Exception):
    """Bad command-line usage found after parsing (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse's parser with its errors worded as every other: one line ``error: ...`` and
    exit 2 (argparse prints the whole usage block first). Subcommands' parsers are of this
    class too (``add_subparsers`` takes the parent's)."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lstmkit",
        description="The LSTM recurrent network written out gate by gate, with applications.",
    )
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        _lazy_arguments(module_name)(command)
    return parser


def _lazy_arguments(module_name: str):
    return importlib.import_module(module_name).add_arguments


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(COMMANDS[args.command][0])
    from lstmkit.cli.common import command_threads

    try:
        with command_threads(args):
            return int(module.run(args) or 0)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`lstmkit info | head`): stop quietly, as
        _silence_stdout()    # a command killed by SIGPIPE does (exit 128 + 13)
        return 141
    except Exception as exc:  # noqa: BLE001 - the one place faults become exit codes
        from lstmkit.errors import InputError

        if isinstance(exc, InputError):
            from lstmkit.cli.flags import flag_for

            # inspect reads data through the messages of the command that trained the model,
            # whose hints may name that command's flags: they are said to be training's
            known = _option_strings(parser, args.command) if args.command == "inspect" else None
            print(f"error: {exc.render(flag_for(args.command, known))}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print(f"error: internal fault ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return 1


def _option_strings(parser: argparse.ArgumentParser, command: str) -> set[str] | None:
    """Every option string of ``command``'s sub-parser (None where it cannot be found)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return {option for a in action.choices[command]._actions for option in a.option_strings}
    return None


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's flush at exit does not raise
    BrokenPipeError again on the closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is no file (captured, say): nothing left to flush into a pipe


def entry() -> None:
    """The ``lstmkit`` console script: this process is the command's own, so freed training
    memory stays in it for the next step (:mod:`lstmkit.train.memory`), then :func:`main`."""
    from lstmkit.train.memory import retain_freed_memory

    retain_freed_memory()
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
