"""The command line: help, exit codes, the demo."""

import subprocess
import sys

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


def test_bad_usage_exits_2_with_one_line():
    result = run_cli("demo", "--steps", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --steps must be at least 1, got 0"
    result = run_cli("nosuchcommand")
    assert result.returncode == 2


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
    assert f"cache    {build.cache_root()} (" in out
    for family in build.EXTENSIONS:  # each with its state: built, building, not built, failed...
        assert f"         {family}: " in out
