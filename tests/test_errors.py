"""Library errors speak Python; the command line names the same parameters as its flags."""

import pytest

from lstmkit.cli.flags import flag_for
from lstmkit.errors import InputError, bad_value, param_ref


def test_a_parameter_reads_as_python_in_the_library_and_as_a_flag_on_the_command_line():
    err = InputError(f"data.csv: has gaps; set {param_ref('fill', 'ffill')} or {param_ref('past_covariates')}")
    assert str(err) == "data.csv: has gaps; set fill='ffill' or past_covariates"
    assert err.param == "fill"
    assert err.render(flag_for("forecast")) == "data.csv: has gaps; set --fill ffill or --covariates"


def test_numbers_keep_their_python_form_and_commands_their_own_flag_names():
    err = InputError(f"too short; use {param_ref('windows', 2)} or fewer")
    assert str(err) == "too short; use windows=2 or fewer"
    assert err.render(flag_for("forecast")) == "too short; use --backtest-windows 2 or fewer"
    assert err.render(flag_for("inspect")) == "too short; use --windows 2 or fewer"


def test_bad_value_carries_what_was_expected_and_what_came():
    err = bad_value("horizon", "a whole number >= 1", 0, source="air.csv")
    assert str(err) == "air.csv: horizon: expected a whole number >= 1; got 0"
    assert (err.param, err.expected, err.got) == ("horizon", "a whole number >= 1", 0)
    with pytest.raises(ValueError):  # InputError is a ValueError for callers that catch those
        raise err


def test_the_command_line_prints_the_flag(tmp_path, capsys):
    from lstmkit.cli.main import main

    bad = tmp_path / "neg.csv"
    bad.write_text("ds,y\n" + "".join(f"2020-{m:02d}-01,{m - 3}\n" for m in range(1, 13)) + "".join(f"2021-{m:02d}-01,{m}\n" for m in range(1, 13)) + "".join(f"2022-{m:02d}-01,{m}\n" for m in range(1, 13)))
    code = main(["forecast", str(bad), "--transform", "log", "--out", str(tmp_path / "out"),
                 "--backtest-windows", "0", "--max-epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "use --transform none" in err and "transform=" not in err
    assert not (tmp_path / "out").exists()
