"""Real series for examples and for testing forecast quality, all offline.

Bundled with lstmkit (small, public; see ``bundled/README.md`` for where each came from and
what it was checked against):

* :func:`load_air_passengers`: Box & Jenkins airline passengers, monthly 1949-01 .. 1960-12,
  144 values (thousands), trend and multiplicative yearly season.
* :func:`load_nile`: annual flow of the Nile at Aswan, 1871 .. 1970, 100 values
  (10^8 m^3), a level shift around 1898 (public domain).
* :func:`load_sunspots`: yearly mean sunspot numbers, 1700 .. 2008, 309 values, an
  11-year cycle that is not a calendar season (public domain).

Loaded from statsmodels when it is installed (not bundled):

* :func:`load_co2`: weekly Mauna Loa CO2 (ppm), 1958-03 .. 2001-12, 2284 weeks with 59
  missing, trend and yearly season.
* :func:`load_us_gdp`: US real GDP, quarterly 1959Q1 .. 2009Q3, 203 values, a trend.

Every loader returns a DataFrame with columns ``ds`` (datetime64) and ``y`` (float64).

The UCR/UEA classification data sets that the optional package aeon ships in its wheel
(:func:`available_datasets`, :func:`load_dataset`) are read as
:class:`~lstmkit.data.sequences.SequenceData` from aeon's ``.ts`` files, without importing aeon.
"""

from __future__ import annotations

import difflib
import importlib.util
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from lstmkit.errors import InputError, LstmkitError

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.data.sequence_data import SequenceData

__all__ = [
    "MissingPackageError",
    "KDD_TSAD_135_NORMAL_UNTIL",
    "available_datasets",
    "bundled_path",
    "load_air_passengers",
    "load_co2",
    "load_kdd_tsad_135",
    "load_dataset",
    "load_nile",
    "load_sunspots",
    "load_us_gdp",
]


class MissingPackageError(LstmkitError, ImportError):
    """A data set needs an optional package that is not installed."""


def bundled_path(name: str):
    """The path (a ``Traversable``) of a bundled file, e.g. ``bundled_path("nile.csv")``."""
    return resources.files("lstmkit.data").joinpath("bundled", name)


def _read_bundled(name: str) -> pd.DataFrame:
    with bundled_path(name).open("r", encoding="utf-8") as fh:
        frame = pd.read_csv(fh)
    return pd.DataFrame(
        {"ds": pd.to_datetime(frame["ds"], format="%Y-%m-%d"), "y": frame["y"].astype("float64")}
    )


def load_air_passengers() -> pd.DataFrame:
    """Box & Jenkins (1976) international airline passengers, monthly totals in thousands,
    1949-01 .. 1960-12: 144 rows, ``ds`` month starts, ``y`` from 112 to 432."""
    return _read_bundled("air_passengers.csv")


def load_nile() -> pd.DataFrame:
    """Annual flow of the Nile at Aswan in 10^8 m^3, 1871 .. 1970: 100 rows, ``ds`` year
    starts (Cobb 1978; Durbin & Koopman 2001)."""
    return _read_bundled("nile.csv")


def load_sunspots() -> pd.DataFrame:
    """Yearly mean sunspot numbers, 1700 .. 2008: 309 rows, ``ds`` year starts (NOAA NGDC)."""
    return _read_bundled("sunspots.csv")


#: the last step of ``kdd_tsad_135.csv``'s anomaly-free training span (its first 1200 steps)
KDD_TSAD_135_NORMAL_UNTIL = "1970-01-01 00:19:59"


def load_kdd_tsad_135() -> pd.DataFrame:
    """UCR Anomaly Archive / KDD Cup 2021 series 135 (InternalBleeding16): 7501 rows, ``ds``
    (step i as i seconds after 1970-01-01: a step counter), ``y``, ``is_anomaly`` (1 on steps
    4187 .. 4198). The first 1200 steps (to :data:`KDD_TSAD_135_NORMAL_UNTIL`) are normal."""
    with bundled_path("kdd_tsad_135.csv").open("r", encoding="utf-8") as fh:
        frame = pd.read_csv(fh)
    return pd.DataFrame({"ds": pd.to_datetime(frame["ds"], format="%Y-%m-%d %H:%M:%S"),
                         "y": frame["y"].astype("float64"), "is_anomaly": frame["is_anomaly"].astype("int64")})


def _statsmodels_datasets(what: str):
    try:
        from statsmodels import datasets
    except ImportError:
        raise MissingPackageError(
            f"the {what} data set comes from statsmodels, which is not installed; pip install statsmodels"
        ) from None
    return datasets


def load_co2() -> pd.DataFrame:
    """Weekly atmospheric CO2 at Mauna Loa in ppm (Keeling & Whorf), 1958-03-29 ..
    2001-12-29: 2284 rows (week ending Saturday, frequency ``W-SAT``), 59 ``y`` missing
    (NaN, left as they are: read it with a ``fill``). Needs statsmodels."""
    data = _statsmodels_datasets("co2").co2.load_pandas().data
    return pd.DataFrame({"ds": pd.DatetimeIndex(data.index), "y": data["co2"].astype("float64").to_numpy()})


def load_us_gdp() -> pd.DataFrame:
    """US real GDP (billions of chained 2005 dollars), quarterly 1959Q1 .. 2009Q3: 203 rows,
    ``ds`` quarter starts (FRED via statsmodels' macrodata). Needs statsmodels."""
    data = _statsmodels_datasets("US GDP").macrodata.load_pandas().data
    years = data["year"].astype(int).astype(str)
    months = ((data["quarter"].astype(int) - 1) * 3 + 1).map("{:02d}".format)
    ds = pd.to_datetime(years + "-" + months + "-01", format="%Y-%m-%d")
    return pd.DataFrame({"ds": ds, "y": data["realgdp"].astype("float64").to_numpy()})


# --------------------------------------------------------------------------- aeon's data sets


def _aeon_data_dir() -> Path:
    spec = importlib.util.find_spec("aeon")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(
            "the UCR/UEA data sets come with aeon, which is not installed; pip install aeon "
            "(or pip install 'lstmkit[datasets]')"
        )
    root = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    if not root.is_dir():
        raise MissingPackageError(f"aeon is installed but has no data folder {root}; reinstall it: pip install --force-reinstall aeon")
    return root


@lru_cache(maxsize=4)
def _aeon_datasets(root: str) -> dict[str, tuple[str, str]]:
    """``{name: (train_path, test_path)}`` of the classification data sets under ``root``."""
    out: dict[str, tuple[str, str]] = {}
    for train in sorted(Path(root).glob("*/*_TRAIN.ts")):
        name = train.name[: -len("_TRAIN.ts")]
        test = train.with_name(f"{name}_TEST.ts")
        if test.is_file() and _is_classification(train):
            out[name] = (str(train), str(test))
    return out


def _is_classification(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                s = line.strip().lower()
                if s.startswith("@classlabel"):
                    return s.split()[1:2] == ["true"]
                if s.startswith("@targetlabel") or s == "@data":
                    return False
    except (OSError, UnicodeDecodeError):
        return False
    return False


def available_datasets() -> list[str]:
    """The names of the UCR/UEA classification data sets the installed aeon ships.

    Raises:
        MissingPackageError: aeon is not installed.
    """
    return sorted(_aeon_datasets(str(_aeon_data_dir())), key=str.lower)


def load_dataset(name: str, split: str = "train") -> SequenceData:
    """A UCR/UEA classification data set shipped (offline) in aeon's wheel, read with
    :func:`read_sequences` from aeon's ``.ts`` file (aeon itself is not imported).

    With aeon 1.6 these are ACSF1, ArrowHead, BasicMotions, Covid3Month_disc, GunPoint,
    ItalyPowerDemand, JapaneseVowels, JapaneseVowels_eq, OSULeaf, PickupGestureWiimoteZ,
    PickupGestureWiimoteZ_eq and UnitTest; see :func:`available_datasets`.

    Args:
        name: the data set, e.g. ``"JapaneseVowels"`` (any case).
        split: ``"train"`` or ``"test"``.

    Raises:
        MissingPackageError: aeon is not installed (pip install aeon).
        InputError: an unknown name (listing the available ones) or split.
    """
    from lstmkit.data.sequences import read_sequences

    split_l = str(split).lower()
    if split_l not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}", param="split",
                         expected="'train' or 'test'", got=split)
    sets = _aeon_datasets(str(_aeon_data_dir()))
    key = {k.lower(): k for k in sets}.get(str(name).lower())
    if key is None:
        close = difflib.get_close_matches(str(name), list(sets), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(
            f"unknown data set {name!r}{hint}; the installed aeon ships: {', '.join(sorted(sets, key=str.lower))}"
        )
    train, test = sets[key]
    path = train if split_l == "train" else test
    data = read_sequences(path, format="ts")
    data.source = Path(path).name
    return data
