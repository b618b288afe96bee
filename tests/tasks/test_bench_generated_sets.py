"""The classification benchmark's generated held-out sets (benchmarks/generated_sets.py): CBF,
SyntheticControl, TwoPatterns, BME and ShapeletSim made from their published definitions; sizes, classes, the UCR
z-normalisation and each class's defining shape. No benchmark runs here."""

import numpy as np
import pytest

from benchmark_modules import benchmark_module


@pytest.fixture(scope="module")
def gen():
    with benchmark_module("generated_sets.py") as module:
        yield module


@pytest.mark.parametrize("name, sizes, length, classes",
                         [("CBF", (30, 900), 128, 3), ("SyntheticControl", (300, 300), 60, 6),
                          ("TwoPatterns", (1000, 4000), 128, 4), ("BME", (30, 150), 128, 3),
                          ("ShapeletSim", (20, 180), 500, 2), ("NoisyTwoPatterns", (3000, 2000), 128, 4)])
def test_sizes_classes_and_z_normalised(gen, name, sizes, length, classes):
    train, test = gen.load_generated(name)
    assert (len(train), len(test)) == sizes
    assert set(train.lengths.tolist()) == {length} and train.n_channels == 1
    assert len(train.classes) == classes and sorted(set(test.labels.tolist())) == train.classes
    counts = np.unique(train.labels, return_counts=True)[1]
    assert counts.min() == counts.max()  # balanced, as in the archive
    for seq in train.sequences[:20]:
        assert abs(float(seq.mean())) < 1e-5 and float(seq.std()) == pytest.approx(1.0, abs=1e-5)
    again, _ = gen.load_generated(name)  # fixed seeds: the same set every time
    np.testing.assert_array_equal(np.stack(again.sequences), np.stack(train.sequences))
    assert not np.array_equal(train.sequences[0], test.sequences[0])


def test_cbf_shapes(gen):
    """The plateau of a cylinder is flat, a bell rises over it and a funnel falls (noise aside:
    averaged over many series the first and last quarter of the event differ by the ramp)."""
    series, labels = gen.cbf(600, seed=0)
    rising = {"cylinder": [], "bell": [], "funnel": []}
    for x, kind in zip(series, labels):
        active = x > np.median(x) + 1.0  # the event, well above the noise floor
        idx = np.flatnonzero(active)
        if len(idx) > 20:
            quarter = len(idx) // 4
            rising[kind].append(x[idx[-quarter:]].mean() - x[idx[:quarter]].mean())
    assert np.mean(rising["bell"]) > 0.5 > abs(np.mean(rising["cylinder"]))
    assert np.mean(rising["funnel"]) < -0.5


def test_control_chart_trends_and_shifts(gen):
    series, labels = gen.synthetic_control(40, seed=0)
    t = np.arange(60)
    slope = {k: np.mean([np.polyfit(t, x, 1)[0] for x, lab in zip(series, labels) if lab == k])
             for k in gen.CONTROL_CLASSES}
    assert slope["increasing"] > 0.02 > abs(slope["normal"]) and slope["decreasing"] < -0.02
    assert slope["upward"] > 0.02 and slope["downward"] < -0.02


def test_two_patterns_order_is_the_class(gen):
    """Each series holds two steps (plateaus of 5 noise widths: an up step is a low run then a
    high one, a down step the reverse); read in time, the plateaus' signs with repeats merged
    spell the class: up-up -+-+, up-down -+-, down-up +-+, down-down +-+-."""
    spelled = {"-+-+": "up-up", "-+-": "up-down", "+-+": "down-up", "+-+-": "down-down"}
    series, labels = gen.two_patterns(200, seed=0)
    for x, kind in zip(series, labels):
        high, low = x > 0.9 * x.max(), x < 0.9 * x.min()  # the two plateau levels (z-normalised)
        signs = np.where(high, 1.0, -1.0)[high | low]
        merged = [signs[0]] + [s for p, s in zip(signs[:-1], signs[1:]) if s != p]
        assert spelled["".join("+" if s > 0 else "-" for s in merged)] == kind
    assert sorted(set(labels)) == sorted(gen.TWO_PATTERN_CLASSES)


def test_bme_bell_at_the_begin_or_end(gen):
    """Outside the central plate, the begin class peaks in the first third, the end class in the
    last, the middle class nowhere (its outer thirds are noise)."""
    series, labels = gen.bme(300, seed=0)
    third = 128 // 3
    for x, kind in zip(series, labels):
        floor = np.median(np.concatenate([x[:third], x[-third:]]))  # the noise level, z-normalised
        head, tail = x[:third].max() - floor, x[-third:].max() - floor
        if kind == "begin":
            assert head > tail
        elif kind == "end":
            assert tail > head
    assert sorted(set(labels)) == sorted(gen.BME_CLASSES)


def test_shapelet_sim_holds_one_smooth_shape_of_its_class_in_noise(gen):
    """Somewhere in every series lie 30 steps of its class's shape, exactly (up to the series'
    z-normalisation); elsewhere the noise's steps jump (no 30-step run is that smooth)."""
    series, labels = gen.shapelet_sim(100, seed=0)
    tau = np.arange(30)
    shapes = {"sine": 0.5 + 0.5 * np.sin(4 * np.pi * tau / 30), "saw": (tau % 15) / 14}
    for x, kind in zip(series, labels):
        windows = np.lib.stride_tricks.sliding_window_view(x, 30)
        for name, shape in shapes.items():
            z = (shape - shape.mean()) / shape.std()
            wz = (windows - windows.mean(1, keepdims=True)) / windows.std(1, keepdims=True)
            best = float((wz @ z / 30).max())  # the best correlation with the shape anywhere
            assert (best > 0.999) == (name == kind), (kind, name, best)
    assert sorted(set(labels)) == sorted(gen.SHAPELET_CLASSES)


def test_the_bench_loads_them_by_name():
    with benchmark_module("bench_classify.py") as bench:
        assert {"CBF", "SyntheticControl", "TwoPatterns", "BME", "ShapeletSim"} <= set(bench.HELD_OUT)
        train, test = bench.load("SyntheticControl", split_seed=0)
        assert (len(train), len(test), train.n_channels) == (300, 300, 1)


def test_noisy_two_patterns_adds_the_steps_to_the_noise(gen):
    """The same draws as TwoPatterns, the steps at ±1.5 on top of the noise N(0, 1) instead of ±5
    in its place: the two versions of a series share their noise outside the steps, and on the
    steps the noisy one has the step's sign only as often as N(1.5, 1) is positive (0.93)."""
    clean, labels = gen.two_patterns(100, seed=3)
    noisy, noisy_labels = gen.noisy_two_patterns(100, seed=3)
    assert noisy_labels == labels
    agree = []
    for c, x in zip(clean, noisy):
        values, counts = np.unique(c, return_counts=True)
        steps = np.isin(c, values[counts > 4])  # the clean version's plateaus: runs of one value
        assert np.corrcoef(c[~steps], x[~steps])[0, 1] > 0.9
        agree.append(np.mean(np.sign(x[steps] - x.mean()) == np.sign(c[steps])))
    assert 0.85 < np.mean(agree) < 0.98


def test_wandering_sines_frequency_is_the_class(gen):
    """Six channels of 4,000 steps, each z-normalised; each channel's sine stands out of the walk and
    the noise as its spectrum's peak above the walk's low frequencies, at the class's frequency
    (3 + k + 0.3 c) / 1000 cycles a step, within four times the 5 % jitter and a bin."""
    series, labels = gen.wandering_sines(20, seed=0)
    assert len(series) == 20 and series[0].shape == (4000, 6)
    for x, kind in zip(series, labels):
        assert np.allclose(x.mean(axis=0), 0, atol=1e-6) and np.allclose(x.std(axis=0), 1, atol=1e-6)
        k = gen.WANDERING_CLASSES.index(kind)
        spectrum = np.abs(np.fft.rfft(x, axis=0))
        for c in range(6):
            peak = 10 + int(np.argmax(spectrum[10:60, c]))  # above the walk's lowest bins
            assert abs(peak / 4000 - (3 + k + 0.3 * c) / 1000) <= 0.2 * (3 + k + 0.3 * c) / 1000 + 1 / 4000
        # the walk: its lowest frequencies hold a large share beside the sine's peak (white noise
        # alone would put about 0.01 of it there)
        assert (spectrum[1:6].max(axis=0) > 0.1 * spectrum[10:60].max(axis=0)).mean() > 0.8


def test_warped_shapes_classes_share_their_prototypes_across_parts(gen):
    """WarpedShapes: 30 classes of 200 steps, 8 training series each; every series is its class's
    prototype read along a warp, so it lies nearer (in correlation) to its own prototype than the
    average other class's, in the training and the test part alike."""
    train, test = gen.load_generated("WarpedShapes")
    assert (len(train), len(test)) == (240, 480) and len(train.classes) == 30
    assert set(train.lengths.tolist()) == {200}
    prototypes = np.stack(gen.warped_shape_prototypes())
    z = (prototypes - prototypes.mean(1, keepdims=True)) / prototypes.std(1, keepdims=True)
    for part in (train, test):
        x = np.stack(part.sequences)[:, :, 0]
        corr = x @ z.T / x.shape[1]
        own = np.array([int(label[-2:]) for label in part.labels.tolist()])
        assert np.mean(corr[np.arange(len(x)), own]) > np.mean(corr) + 0.3
        for seq in part.sequences[:10]:
            assert abs(float(seq.mean())) < 1e-5 and float(seq.std()) == pytest.approx(1.0, abs=1e-5)


def test_gestures_classes_differ_in_their_first_channels_alone(gen):
    """Gestures: 24 channels, 51 steps, 6 classes; the class prototypes differ only in the first
    6 channels (the rest is the movement every class shares), and the series are not normalised."""
    train, test = gen.load_generated("Gestures")
    assert (len(train), len(test)) == (180, 180) and train.n_channels == 24 and len(train.classes) == 6
    prototypes = np.stack(gen.gesture_prototypes())  # (classes, length, channels)
    spread = prototypes.std(axis=0).mean(axis=0)  # per channel: how much the classes differ
    assert np.all(spread[:6] > 0.05) and np.allclose(spread[6:], 0.0)
    x = np.stack(train.sequences)
    assert np.abs(x.mean(axis=1)).mean() > 0.1  # per-channel offsets kept, not z-normalised


def test_ar_textures_classes_are_their_spectra(gen):
    """ARTextures: 4 classes of 300 steps, 100/400 series, z-normalised; the class sets where the
    AR(2) spectrum peaks (θ) and how narrow the peak is (r): the lag-1 autocorrelation of the
    high-θ classes lies below the low-θ ones', and the narrow peaks ring longer (lag-10
    autocorrelation further from 0) than the broad ones at the same θ."""
    train, test = gen.load_generated("ARTextures")
    assert (len(train), len(test)) == (100, 400) and set(train.lengths.tolist()) == {300}
    assert sorted(train.classes) == sorted(gen.AR_CLASSES)
    x = np.stack(test.sequences)[:, :, 0]
    np.testing.assert_allclose(x.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=1), 1.0, atol=1e-4)

    def acf(lag):
        return (x[:, lag:] * x[:, :-lag]).mean(axis=1)

    by = {k: test.labels == k for k in gen.AR_CLASSES}
    lag1 = {k: acf(1)[m].mean() for k, m in by.items()}
    assert max(lag1["high-narrow"], lag1["high-broad"]) < min(lag1["low-narrow"], lag1["low-broad"])
    lag10 = {k: np.abs(acf(10)[m]).mean() for k, m in by.items()}
    assert lag10["low-narrow"] > lag10["low-broad"] and lag10["high-narrow"] > lag10["high-broad"]
    # the process itself, before the envelope and noise: a1 = 2 r cos(πθ), a2 = -r²
    theta, r = gen.AR_CLASSES["low-narrow"]
    assert 2 * r * np.cos(np.pi * theta) == pytest.approx(1.1167, abs=1e-4)


def test_lead_lag_classes_are_the_channels_relation(gen):
    """LeadLag: 2 channels, 200 steps, 4 classes; channel b is channel a's signal shifted by 2..6
    steps, ahead or behind, negated in the inverted classes: the lagged cross-correlation of a
    class peaks at the sign and side its name says, while each channel alone is the same process."""
    train, test = gen.load_generated("LeadLag")
    assert (len(train), len(test)) == (120, 400) and train.n_channels == 2
    x = np.stack(test.sequences)  # (n, 200, 2)
    np.testing.assert_allclose(x.std(axis=1), 1.0, atol=1e-4)

    def behind(lag):  # per series: corr(a_t, b_{t - lag}); leads (b_t = s_{t + τ}): b_{t - τ} = a_t
        return (x[:, lag:, 0] * x[:, : x.shape[1] - lag, 1]).mean(axis=1)

    def ahead(lag):  # per series: corr(a_t, b_{t + lag}); lags (b_t = s_{t - τ}): b_{t + τ} = a_t
        return (x[:, : x.shape[1] - lag, 0] * x[:, lag:, 1]).mean(axis=1)

    for name, sign, matched, other in (("leads", 1, behind, ahead), ("lags", 1, ahead, behind),
                                       ("inverted-leads", -1, behind, ahead), ("inverted-lags", -1, ahead, behind)):
        m = test.labels == name
        near, far = (np.mean([sign * f(lag)[m].mean() for lag in range(2, 7)]) for f in (matched, other))
        assert near > 0.3 and near > far + 0.1
    lag1 = [(x[test.labels == k, 1:, 0] * x[test.labels == k, :-1, 0]).mean() for k in gen.LEAD_LAG_CLASSES]
    assert max(lag1) - min(lag1) < 0.05  # channel a alone: the same process in every class


def test_sensor_array_class_is_the_source_that_bursts(gen):
    """SensorArray: 480 channels, 150 steps, 4 classes; every channel a mixture of four sources by
    one array, the same in both parts: projected back on the array (least squares), the source of
    the series' class holds the burst, most often the largest 12-step oscillation of the four (the
    sources' own AR(1) wander has some power there too)."""
    train, test = gen.load_generated("SensorArray")
    assert (len(train), len(test)) == (120, 200) and train.n_channels == gen.SENSOR_CHANNELS == 480
    x = np.stack(test.sequences)  # (n, 150, 480)
    np.testing.assert_allclose(x.std(axis=1), 1.0, atol=1e-4)
    mixing = np.random.default_rng(gen.SENSOR_ARRAY_SEED).normal(size=(480, 4))
    sources = x @ np.linalg.pinv(mixing).T  # (n, 150, 4), up to each channel's scaling
    t = np.arange(150)
    wave = np.exp(-2j * np.pi * t / 12)
    power = np.abs(np.einsum("nts,t->ns", sources, wave))  # the 12-step oscillation in each source
    found = np.array(gen.SENSOR_CLASSES)[power.argmax(axis=1)]
    assert np.mean(found == test.labels) > 0.75  # chance: 0.25
