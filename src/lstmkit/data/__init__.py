"""Data for lstmkit: reading and validating time series, scaling, windowing, bundled series.

Importing this package imports pandas and numpy but never torch.
"""

from lstmkit.data.datasets import (
    MissingPackageError,
    bundled_path,
    load_air_passengers,
    load_co2,
    load_nile,
    load_sunspots,
    load_us_gdp,
)
from lstmkit.data.scalers import SeriesScaler
from lstmkit.data.timeseries import (
    FILL_METHODS,
    ColumnRoles,
    TimeSeriesData,
    check_future_covariates,
    check_min_length,
    normalize_freq,
    read_timeseries,
    season_length_for,
)
from lstmkit.data.windows import SeriesArrays, Windows, last_windows, make_windows, windows_at

__all__ = [
    "FILL_METHODS",
    "ColumnRoles",
    "MissingPackageError",
    "SeriesArrays",
    "SeriesScaler",
    "TimeSeriesData",
    "Windows",
    "bundled_path",
    "check_future_covariates",
    "check_min_length",
    "last_windows",
    "load_air_passengers",
    "load_co2",
    "load_nile",
    "load_sunspots",
    "load_us_gdp",
    "make_windows",
    "normalize_freq",
    "read_timeseries",
    "season_length_for",
    "windows_at",
]
