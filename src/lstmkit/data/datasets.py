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
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from lstmkit.errors import LstmkitError

__all__ = [
    "MissingPackageError",
    "bundled_path",
    "load_air_passengers",
    "load_co2",
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
