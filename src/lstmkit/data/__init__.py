"""Data for lstmkit: reading and validating time series, scaling, windowing, bundled series;
labelled sequences for classification (:mod:`lstmkit.data.sequences`) and text for the
character-level language model (:mod:`lstmkit.data.text`).

Importing this package imports pandas and numpy but never torch.
"""

from lstmkit.data.datasets import (
    MissingPackageError,
    bundled_path,
    load_air_passengers,
    load_co2,
    load_kdd_tsad_135,
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
from lstmkit.data.sequences import (
    SequenceData,
    available_datasets,
    check_trainable,
    load_dataset,
    read_sequences,
    stratified_folds,
    stratified_split,
)
from lstmkit.data.sequence_arrays import sequences_from_arrays
from lstmkit.data.text import Vocabulary, default_corpus, read_text, split_text

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
    "load_kdd_tsad_135",
    "load_nile",
    "load_sunspots",
    "load_us_gdp",
    "make_windows",
    "normalize_freq",
    "read_timeseries",
    "season_length_for",
    "windows_at",
    "SequenceData",
    "available_datasets",
    "check_trainable",
    "load_dataset",
    "read_sequences",
    "sequences_from_arrays",
    "stratified_folds",
    "stratified_split",
    "Vocabulary",
    "default_corpus",
    "read_text",
    "split_text",
]
