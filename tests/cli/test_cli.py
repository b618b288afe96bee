"""The command line: help, exit codes, the demo."""

import subprocess
import sys

import pytest

from lstmkit.cli.main import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "lstmkit", *args], capture_output=True, text=True, timeout=600)


def test_help_is_fast_and_lists_commands():
    # fast = without torch: asserted as "torch is not imported", not as seconds on this machine
    result = run_cli("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout and "info" in result.stdout
    # --help must not import torch (it answers in well under a second)
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, lstmkit.cli.main as m; "
         "m.build_parser(); print('torch' in sys.modules)"], capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == "False"
    # nor must the console script's own start (entry() sets the memory thresholds first)
    assert _torch_imported_by_entry(["--help"]) == (0, False)


def _torch_imported_by_entry(argv):
    """(exit status, whether torch was imported) of ``lstmkit ARGV`` run through the console
    script's entry point in a fresh interpreter."""
    code = ("import sys; import lstmkit.cli.main as m; sys.argv = ['lstmkit'] + sys.argv[1:]\n"
            "try:\n    m.entry()\nexcept SystemExit as e:\n    rc = e.code\n"
            "print('RESULT', rc, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, result.stderr
    line = lines[-1].split()
    return int(line[1]), line[2] == "True"


@pytest.mark.slow
def test_bad_input_is_reported_before_torch_loads(tmp_path):
    # a bad file answers at once (about a second), not after torch and Lightning load (~5 s on
    # a slow CPU): each command reads and checks its data first; nothing is written
    header_only = tmp_path / "header.csv"
    header_only.write_text("date,value\n")
    not_ts = tmp_path / "bad.ts"
    not_ts.write_text("x\n")
    out = tmp_path / "out"
    for argv in (["forecast", str(header_only)], ["detect", str(header_only)],
                 ["classify", str(not_ts), str(not_ts)], ["generate", str(tmp_path / "missing.txt")],
                 ["translate", str(tmp_path / "missing.tsv")]):
        assert _torch_imported_by_entry([*argv, "--out", str(out)]) == (2, False), argv
    assert not out.exists()


def test_bad_usage_exits_2_with_one_line():
    result = run_cli("demo", "--steps", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --steps must be at least 1, got 0"
    result = run_cli("nosuchcommand")
    assert result.returncode == 2
    assert result.stderr.startswith("error: argument COMMAND: invalid choice: 'nosuchcommand'")
    # argparse's own errors too: one line, naming the flag and where the options are listed
    result = run_cli("forecast", "--horizon", "0")
    assert result.returncode == 2
    assert result.stderr == ("error: argument --horizon: expected a whole number >= 1, got 0 "
                             "(see lstmkit forecast --help)\n")
    result = run_cli("classify", "--strategy", "fsdp")  # refused before any data is read
    assert result.returncode == 2 and result.stderr == (
        "error: argument --strategy: invalid choice: 'fsdp' (choose from 'auto', 'ddp', 'ddp_spawn', 'ddp_fork') "
        "(see lstmkit classify --help)\n")
    for command, flag in (("generate", "--temperature"), ("translate", "--learning-rate")):
        result = run_cli(command, flag, "inf")
        assert result.returncode == 2 and result.stderr == (
            f"error: argument {flag}: expected a positive finite number, got inf (see lstmkit {command} --help)\n")


def test_an_out_that_is_a_file_is_refused_and_left_alone(tmp_path, capsys):
    taken = tmp_path / "results.csv"
    taken.write_text("a user's file\n")
    for argv in (["forecast"], ["classify", "x.ts", "--model", "m"], ["detect"], ["lab", "adding"],
                 ["generate"], ["forecast", "--resume", str(taken)]):
        out = ["--out", str(taken)] if "--resume" not in argv else []
        assert main([*argv, *out]) == 2, argv
        assert capsys.readouterr().err == (f"error: {taken}: is a file; the run's files go into a directory: "
                                           "name a directory (a new one, or a run's) with --out\n")
    assert taken.read_text() == "a user's file\n"


def test_an_out_holding_a_model_is_said_to_be_replaced(tmp_path, capsys):
    import argparse

    from lstmkit.cli.common import holds_run_dir

    seen = []
    run = holds_run_dir("forecast")(lambda args: seen.append(args.out) or 0)
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "config.json").write_text("{}")
    assert run(argparse.Namespace(out=str(earlier), resume=None)) == 0
    assert capsys.readouterr().out == (f"note: {earlier} holds an earlier run's model; this run replaces it "
                                       "(another --out keeps it)\n")
    # a fresh directory, or resuming the run that wrote the model: nothing to say
    assert run(argparse.Namespace(out=str(tmp_path / "fresh"), resume=None)) == 0
    assert run(argparse.Namespace(out=None, resume=str(earlier))) == 0
    assert run(argparse.Namespace(out=str(earlier), resume=None, model="elsewhere")) == 0  # scores, no model
    assert capsys.readouterr().out == "" and seen == [str(earlier), str(tmp_path / "fresh"), str(earlier), str(earlier)]


@pytest.mark.slow
def test_demo_trains_and_beats_naive(capsys):
    assert main(["demo", "--steps", "60", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    lstm_rmse, naive_rmse = float(rows["lstm"][1]), float(rows["naive"][1])
    assert lstm_rmse < naive_rmse
    assert rows["lstm"][3] in ("reference", "torch", "fused")


def test_info(capsys):
    from lstmkit.nn.fused import build

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backend reference: available" in out
    assert "memory   freed memory goes back to the system" in out  # main() in this process: malloc untouched
    assert f"gemm     {build.gemm_settings()}\n" in out
    assert f"cache    {build.cache_root()} (" in out
    for family in build.EXTENSIONS:  # each with its state: built, building, not built, failed...
        assert f"         {family}: " in out


def test_info_lists_the_measured_decisions(capsys, monkeypatch, tmp_path):
    from lstmkit.nn import autotune
    from lstmkit.nn.backend import Call
    from lstmkit.nn.config import RecurrentConfig

    tuner = autotune.Tuner(tmp_path / "autotune.json", timer=lambda run, name: {"fused": 1.0, "torch": 0.5}[name])
    for grad in (True, False):
        tuner.decide(Call(RecurrentConfig(cell="lstm", input_size=8, hidden_size=8), "cpu", steps=4, batch=2,
                          grad=grad))
    monkeypatch.setattr(autotune, "_default", tuner)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "autotune off (LSTMKIT_AUTOTUNE=0" in out  # the suite's setting
    assert "2 shape classes measured here, 2 run torch" in out
    assert "lstm train T4 N2 H8 I8 P0 L1 uni" in out and ": torch (fused 1 ms, torch 0.5 ms)" in out
    autotune.reset()


def test_a_closed_pipe_ends_quietly():
    """`lstmkit info | head -1`: the reader closes the pipe before lstmkit writes; lstmkit stops
    with 141 (as a command killed by SIGPIPE) and no traceback or 'internal fault' line."""
    import os

    env = dict(os.environ, LSTMKIT_DISABLE_FUSED="1")
    proc = subprocess.Popen([sys.executable, "-m", "lstmkit", "info"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    proc.stdout.close()  # before the child has written anything (importing torch takes seconds)
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "internal fault" not in err, err
