r"""Five UCR classification problems that are defined by a generator, made here from their
published definitions (this machine has no network, and no installed wheel ships their files),
and six sets of this project's own: a large, noisier variant of one of them, long sines over
a random walk, many classes with few series each, many channels of which few tell the classes
apart, textures of noise with no shape to find, and a relation between two channels. Every univariate series is z-normalised on its own, as the UCR archive stores
them. Held out of the benchmark's mean (``bench_classify.py --datasets
CBF,SyntheticControl,TwoPatterns,BME,ShapeletSim,NoisyTwoPatterns,WanderingSines,WarpedShapes,Gestures,ARTextures,LeadLag``).

**CBF** (Cylinder-Bell-Funnel, Saito 1994; UCR: 30 training and 900 test series, 128 steps,
3 classes). With ``a ~ U{16..32}``, ``b - a ~ U{32..96}``, ``η ~ N(0, 1)`` per series and
``ε(t) ~ N(0, 1)`` per step, ``t = 1..128`` and ``χ`` the indicator of ``[a, b]``::

    cylinder(t) = (6 + η) χ(t)                      + ε(t)
    bell(t)     = (6 + η) χ(t) (t - a) / (b - a)    + ε(t)
    funnel(t)   = (6 + η) χ(t) (b - t) / (b - a)    + ε(t)

**SyntheticControl** (Alcock & Manolopoulos 1999; UCR: 300 and 300 series, 60 steps, 6 classes
of 50 each), control charts ``y(t) = m + r(t) s + pattern(t)`` with ``m = 30``, ``s = 2``,
``r(t) ~ U(-3, 3)``, ``t = 1..60``::

    normal      pattern = 0
    cyclic      pattern = A sin(2π t / T),     A ~ U(10, 15), T ~ U(10, 15)
    increasing  pattern = +g t,                g ~ U(0.2, 0.5)
    decreasing  pattern = -g t
    upward      pattern = +k [t >= t_3],       k ~ U(7.5, 20), t_3 ~ U(20, 40)
    downward    pattern = -k [t >= t_3]

**TwoPatterns** (after Geurts 2001, "Pattern extraction for time series classification"; UCR:
1000 training and 4000 test series, 128 steps, 4 classes): every series holds two step patterns
in noise, each an up step (``-5`` for its first half, ``+5`` for its second) or a down step
(the reverse); the class is the pair *in order* (up-up, up-down, down-up, down-down), so
up-down and down-up hold the same two shapes and differ only in which comes first. The
published definition draws the patterns' lengths and places at random; the draws here
(not the archive's): lengths ``l_1, l_2 ~ U{16..32}``, start ``s_1 ~ U{0..128 - l_1 - l_2}``,
``s_2 ~ U{s_1 + l_1 .. 128 - l_2}``, noise ``ε(t) ~ N(0, 1)`` everywhere else.

**BME** (Begin-Middle-End; UCR 2018: 30 training and 150 test series, 128 steps, 3 classes,
described there as: every series has a central plate, positive or negative; class *begin* has
a small positive bell early in the series, class *end* one late in it, class *middle* none).
The draws here (the archive's generator is not published with it): the plate over steps
43..85 at ``±U(1, 2)``, the bell ``b exp(-(t - c)^2 / (2 w^2))`` with ``b ~ U(1, 2)``,
``w ~ U(2, 4)`` and its centre ``c`` uniform in steps 5..37 (begin) or 91..123 (end), noise
``ε(t) ~ N(0, 0.25^2)``.

**ShapeletSim** (after the UCR archive's set of that name for shapelet methods, Hills et al.
2014: 20 training and 180 test series, 500 steps, 2 classes; the archive's generator is not
published with it, so these draws are this file's own): uniform noise ``U(0, 1)`` at every step,
and one shape of ``w = 30`` steps over it at a start ``s ~ U{0..470}``, ``τ = 0..29``::

    sine  x(s + τ) = 0.5 + 0.5 sin(4π τ / w)          (two periods)
    saw   x(s + τ) = (τ mod 15) / 14                  (two teeth)

both within the noise's range: only the shape, somewhere in the series, tells the classes apart.

**WanderingSines** (this project's own, an EigenWorms-shaped set: 128 training and 131 test series
of 18,000 steps, 6 channels, 5 classes; :func:`wandering_sines` makes other lengths): in channel c
of a class-k series a sine of frequency ``(3 + k + 0.3 c) / 1000`` cycles a step (jittered by 5 %,
random phase) over a random walk (steps ``N(0, 0.05^2)``, which wanders several times the sine's
height over the series) and white noise ``N(0, 0.5^2)``; the frequency is the class, the walk is
the same for every class.

**NoisyTwoPatterns** (this project's own, a large hard set: 3000 training and 2000 test series,
128 steps, 4 classes): TwoPatterns with its steps at ``±1.5`` *added to* the noise
``ε(t) ~ N(0, 1)`` rather than at ``±5`` in its place, so a step is about as tall as the noise
around it and many series are needed to learn the classes.

**WarpedShapes** (this project's own, shaped as UCR's FiftyWords or WordSynonyms: 240 training and
480 test series of 200 steps, 30 classes of 8 training series each): class k's prototype is the
sum of six random bumps (:func:`warped_shape_prototypes`, drawn once from their own seed, so both
parts share them); a series reads it along a smooth random time warp (speed ``exp(0.6 g(t))``, g
the linear interpolation of 8 standard normal knots), scaled by ``U(0.8, 1.2)``, with noise
``N(0, 0.4^2)``. Made to be hard for the tools beside lstmkit, not for lstmkit: its warp and noise
were set by MiniRocket's and 1-NN's accuracy (0.82 and 0.54 with Euclidean distance) before
lstmkit was run on it.

**Gestures** (this project's own, shaped as UEA's NATOPS: 180 training and 180 test series of 51
steps, 24 channels, 6 classes): a movement every class shares (3 random bumps per channel) and,
in the first 6 channels only, 2 bumps of the class's own (:func:`gesture_prototypes`), read along
one smooth random time warp for all channels, each channel scaled by ``U(0.8, 1.2)`` and shifted by
``N(0, 0.3^2)``, with noise ``N(0, 0.8^2)``; not normalised. Set as WarpedShapes was (MiniRocket
0.87 on the calibration's prototypes, another seed; 0.81-0.83 on these) before lstmkit was run on it.

**ARTextures** (this project's own, shaped as UCR's FordA or Earthquakes, where the class is the
texture of a noisy signal and no shape: 100 training and 400 test series of 300 steps, 4
classes): each series is an AR(2) process ``x_t = a_1 x_{t-1} + a_2 x_{t-2} + e_t``,
``e_t ~ N(0, 1)``, with poles ``r exp(±iπθ)`` (``a_1 = 2 r cos(πθ)``, ``a_2 = -r^2``): the class
sets ``θ`` (0.30 or 0.45: where its spectrum peaks) and ``r`` (0.95 or 0.85: how narrow the peak
is), each series jittered by ``N(0, 0.02^2)`` and ``N(0, 0.015^2)`` (``r`` at most 0.985); the
process scaled to unit std, then by a slow random envelope ``exp(0.5 g(t))`` (g the linear
interpolation of 6 standard normal knots: the loudness wanders), white noise ``N(0, 0.5^2)``
added. Set as WarpedShapes was: its noise, jitter and envelope chosen by MiniRocket's accuracy
(0.835; the series features' logistic regression 0.818, 1-NN Euclidean 0.51) before lstmkit was
run on it.

**LeadLag** (this project's own: 120 training and 400 test series of 200 steps, 2 channels, 4
classes): the class is a relation between the channels and in neither alone. A smooth signal
``s_t = 0.9 s_{t-1} + e_t`` (unit std) is channel a; channel b is the same signal shifted by
``τ ~ U{2..6}`` steps, ahead (*leads*: ``s_{t+τ}``) or behind (*lags*: ``s_{t-τ}``), and negated
in the *inverted* classes; ``N(0, 0.5^2)`` noise on both, each channel z-normalised. Every
channel on its own is the same process in every class (the series features' logistic regression:
0.27, chance 0.25); MiniRocket, whose multivariate kernels sum the channels before they
convolve, tells the sign and not the direction (0.51 with 60 training series, 0.53 with 200):
made to find out whether lstmkit reads the channels together, before it was run on it.

The training and test parts are drawn from their own seeded generators (fixed: the same sets
for every model seed).
"""

from __future__ import annotations

import numpy as np

__all__ = ["GENERATED_SETS", "ar_textures", "bme", "cbf", "lead_lag", "load_generated", "noisy_two_patterns", "shapelet_sim", "synthetic_control",
           "two_patterns", "wandering_sines", "wandering_sines_long"]

CBF_CLASSES = ("cylinder", "bell", "funnel")
CONTROL_CLASSES = ("normal", "cyclic", "increasing", "decreasing", "upward", "downward")
TWO_PATTERN_CLASSES = ("up-up", "up-down", "down-up", "down-down")
BME_CLASSES = ("begin", "middle", "end")
SHAPELET_CLASSES = ("sine", "saw")


def _shuffled(rng: np.random.Generator, series: list[np.ndarray], labels: list[str]
              ) -> tuple[list[np.ndarray], list[str]]:
    """The series and their labels in one random order (the generator's last draw)."""
    order = rng.permutation(len(series))
    return [series[i] for i in order], [labels[i] for i in order]


def _znorm(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / x.std()


def cbf(n: int, seed: int, length: int = 128) -> tuple[list[np.ndarray], list[str]]:
    """``n`` CBF series (classes in turn, then shuffled) and their labels."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, length + 1, dtype=np.float64)
    series, labels = [], []
    for i in range(n):
        kind = CBF_CLASSES[i % 3]
        a = int(rng.integers(16, 33))
        b = a + int(rng.integers(32, 97))
        inside = ((t >= a) & (t <= b)).astype(np.float64)
        shape = {"cylinder": np.ones_like(t), "bell": (t - a) / (b - a), "funnel": (b - t) / (b - a)}[kind]
        x = (6.0 + rng.normal()) * inside * shape + rng.normal(size=length)
        series.append(_znorm(x))
        labels.append(kind)
    return _shuffled(rng, series, labels)


def synthetic_control(per_class: int, seed: int, length: int = 60) -> tuple[list[np.ndarray], list[str]]:
    """``per_class`` series of each control-chart class (shuffled) and their labels."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, length + 1, dtype=np.float64)
    series, labels = [], []
    for kind in CONTROL_CLASSES:
        for _ in range(per_class):
            y = 30.0 + 2.0 * rng.uniform(-3.0, 3.0, length)
            if kind == "cyclic":
                y += rng.uniform(10.0, 15.0) * np.sin(2 * np.pi * t / rng.uniform(10.0, 15.0))
            elif kind in ("increasing", "decreasing"):
                y += (1.0 if kind == "increasing" else -1.0) * rng.uniform(0.2, 0.5) * t
            elif kind in ("upward", "downward"):
                t3 = rng.uniform(length / 3, 2 * length / 3)
                y += (1.0 if kind == "upward" else -1.0) * rng.uniform(7.5, 20.0) * (t >= t3)
            series.append(_znorm(y))
            labels.append(kind)
    return _shuffled(rng, series, labels)


def two_patterns(n: int, seed: int, length: int = 128, added: float | None = None
                 ) -> tuple[list[np.ndarray], list[str]]:
    """``n`` TwoPatterns series (classes in turn, then shuffled) and their labels; ``added``:
    the steps at ``±added`` on top of the noise instead of ``±5`` in its place (NoisyTwoPatterns)."""
    rng = np.random.default_rng(seed)
    series, labels = [], []
    for i in range(n):
        kind = TWO_PATTERN_CLASSES[i % 4]
        l1, l2 = (int(v) for v in rng.integers(16, 33, size=2))
        s1 = int(rng.integers(0, length - l1 - l2 + 1))
        s2 = int(rng.integers(s1 + l1, length - l2 + 1))
        x = rng.normal(size=length)
        for start, size, step in ((s1, l1, kind.split("-")[0]), (s2, l2, kind.split("-")[1])):
            half = size // 2
            sign = 1.0 if step == "up" else -1.0
            if added is None:
                x[start:start + half] = -5.0 * sign
                x[start + half:start + size] = 5.0 * sign
            else:
                x[start:start + half] += -added * sign
                x[start + half:start + size] += added * sign
        series.append(_znorm(x))
        labels.append(kind)
    return _shuffled(rng, series, labels)


def bme(n: int, seed: int, length: int = 128) -> tuple[list[np.ndarray], list[str]]:
    """``n`` BME series (classes in turn, then shuffled) and their labels."""
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    third = length // 3
    series, labels = [], []
    for i in range(n):
        kind = BME_CLASSES[i % 3]
        x = rng.normal(0.0, 0.25, size=length)
        x[third:length - third] += rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 2.0)
        if kind != "middle":
            lo, hi = (5, third - 5) if kind == "begin" else (length - third + 5, length - 5)
            centre, width = rng.uniform(lo, hi), rng.uniform(2.0, 4.0)
            x += rng.uniform(1.0, 2.0) * np.exp(-((t - centre) ** 2) / (2 * width ** 2))
        series.append(_znorm(x))
        labels.append(kind)
    return _shuffled(rng, series, labels)


def shapelet_sim(n: int, seed: int, length: int = 500, width: int = 30) -> tuple[list[np.ndarray], list[str]]:
    """``n`` ShapeletSim series (classes in turn, then shuffled) and their labels."""
    rng = np.random.default_rng(seed)
    tau = np.arange(width, dtype=np.float64)
    teeth = width // 2
    shapes = {"sine": 0.5 + 0.5 * np.sin(4 * np.pi * tau / width), "saw": (tau % teeth) / (teeth - 1)}
    series, labels = [], []
    for i in range(n):
        kind = SHAPELET_CLASSES[i % 2]
        x = rng.uniform(0.0, 1.0, size=length)
        start = int(rng.integers(0, length - width + 1))
        x[start:start + width] = shapes[kind]
        series.append(_znorm(x))
        labels.append(kind)
    return _shuffled(rng, series, labels)


def warped_shapes(n: int, seed: int, length: int = 200) -> tuple[list[np.ndarray], list[str]]:
    """``n`` WarpedShapes series (classes in turn, then shuffled) and their labels: class k's
    prototype (:func:`warped_shape_prototypes`) read along a smooth random time warp, scaled by
    U(0.8, 1.2), with N(0, 0.4^2) noise added."""
    rng = np.random.default_rng(seed)
    prototypes = warped_shape_prototypes(length)
    grid = np.arange(length, dtype=np.float64)
    knots = np.linspace(0.0, length - 1.0, WARP_KNOTS)
    series, labels = [], []
    for i in range(n):
        k = i % len(prototypes)
        speed = np.exp(WARP_SCALE * np.interp(grid, knots, rng.normal(size=WARP_KNOTS)))
        position = np.cumsum(speed)
        position = (position - position[0]) / (position[-1] - position[0]) * (length - 1)
        x = np.interp(position, grid, prototypes[k]) * rng.uniform(0.8, 1.2) + rng.normal(0.0, 0.4, size=length)
        series.append(_znorm(x))
        labels.append(f"shape{k:02d}")
    return _shuffled(rng, series, labels)


def warped_shape_prototypes(length: int = 200) -> list[np.ndarray]:
    """WarpedShapes' 30 class prototypes, the same for both parts (their own fixed seed): each
    the sum of 6 bumps ``h exp(-(t - c)^2 / (2 w^2))`` over ``t`` in [0, 1), ``c ~ U(0.05, 0.95)``,
    ``w ~ U(0.02, 0.10)``, ``h ~ N(0, 1)``."""
    rng = np.random.default_rng(PROTOTYPE_SEED)
    t = np.arange(length, dtype=np.float64) / length
    prototypes = []
    for _ in range(WARPED_CLASSES):
        x = np.zeros(length)
        for _ in range(6):
            centre, width, height = rng.uniform(0.05, 0.95), rng.uniform(0.02, 0.10), rng.normal()
            x += height * np.exp(-((t - centre) ** 2) / (2 * width ** 2))
        prototypes.append(x)
    return prototypes


WARPED_CLASSES, WARP_KNOTS, WARP_SCALE, PROTOTYPE_SEED = 30, 8, 0.6, 3000


def gestures(n: int, seed: int, length: int = 51, channels: int = 24) -> tuple[list[np.ndarray], list[str]]:
    """``n`` Gestures series ``(length, channels)`` (classes in turn, then shuffled) and their
    labels: class k's prototype (:func:`gesture_prototypes`) read along a smooth random time
    warp (the same for every channel), each channel scaled by U(0.8, 1.2) and shifted by
    N(0, 0.3^2), with N(0, 0.8^2) noise added; not normalised (as UEA's sets are stored)."""
    rng = np.random.default_rng(seed)
    prototypes = gesture_prototypes(length, channels)
    grid = np.arange(length, dtype=np.float64)
    knots = np.linspace(0.0, length - 1.0, 5)
    series, labels = [], []
    for i in range(n):
        k = i % len(prototypes)
        speed = np.exp(0.7 * np.interp(grid, knots, rng.normal(size=5)))
        position = np.cumsum(speed)
        position = (position - position[0]) / (position[-1] - position[0]) * (length - 1)
        x = np.stack([np.interp(position, grid, prototypes[k][:, c]) for c in range(channels)], axis=1)
        x = (x * rng.uniform(0.8, 1.2, size=channels) + rng.normal(0.0, 0.3, size=channels)
             + rng.normal(0.0, 0.8, size=x.shape))
        series.append(x)
        labels.append(f"gesture{k}")
    return _shuffled(rng, series, labels)


def gesture_prototypes(length: int = 51, channels: int = 24) -> list[np.ndarray]:
    """Gestures' 6 class prototypes ``(length, channels)``, the same for both parts (their own
    fixed seed): a movement every class shares (3 bumps ``h exp(-(t - c)^2 / (2 w^2))`` per
    channel, ``h ~ N(0, 1)``, ``c ~ U(0.1, 0.9)``, ``w ~ U(0.05, 0.2)``, ``t`` in [0, 1)), and
    in the first 6 channels 2 bumps of the class's own (``h ~ N(0, 0.7^2)``,
    ``w ~ U(0.05, 0.15)``)."""
    rng = np.random.default_rng(PROTOTYPE_SEED + 1)
    t = np.arange(length, dtype=np.float64) / length

    def bump(scale: float, widest: float) -> np.ndarray:
        height = scale * rng.normal()
        centre, width = rng.uniform(0.1, 0.9), rng.uniform(0.05, widest)
        return height * np.exp(-((t - centre) ** 2) / (2 * width ** 2))

    shared = np.stack([sum(bump(1.0, 0.2) for _ in range(3)) for _ in range(channels)], axis=1)
    prototypes = []
    for _ in range(GESTURE_CLASSES):
        x = shared.copy()
        for c in range(GESTURE_MOVING):
            x[:, c] += bump(0.7, 0.15) + bump(0.7, 0.15)
        prototypes.append(x)
    return prototypes


GESTURE_CLASSES, GESTURE_MOVING = 6, 6


def noisy_two_patterns(n: int, seed: int, length: int = 128) -> tuple[list[np.ndarray], list[str]]:
    """``n`` NoisyTwoPatterns series: TwoPatterns' steps at ±1.5 added to the noise."""
    return two_patterns(n, seed, length, added=NOISY_STEP)


NOISY_STEP = 1.5


def wandering_sines(n: int, seed: int, length: int = 4000, channels: int = 6
                    ) -> tuple[list[np.ndarray], list[str]]:
    """``n`` WanderingSines series ``(length, channels)`` (classes in turn, then shuffled) and
    their labels: in channel c of a class-k series a sine of frequency (3 + k + 0.3 c) / 1000
    cycles a step (times 1 + N(0, 0.05^2), a random phase) over a random walk of N(0, 0.05^2)
    steps and white noise N(0, 0.5^2); each channel z-normalised."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    series, labels = [], []
    for i in range(n):
        k = i % len(WANDERING_CLASSES)
        x = np.empty((length, channels))
        for c in range(channels):
            f = (3 + k + 0.3 * c) / 1000 * (1 + 0.05 * rng.normal())
            x[:, c] = _znorm(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
                             + np.cumsum(rng.normal(0, 0.05, length)) + rng.normal(0, 0.5, length))
        series.append(x)
        labels.append(WANDERING_CLASSES[k])
    return _shuffled(rng, series, labels)


WANDERING_CLASSES = ("f3", "f4", "f5", "f6", "f7")
#: WanderingSines' length in the benchmark: UEA's EigenWorms' (at 4,000 steps the defaults
#: classify it as well as MiniRocket; at 18,000 they fit the walks: benchmarks/README.md)
WANDERING_LENGTH = 18000


def wandering_sines_long(n: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    """:func:`wandering_sines` at :data:`WANDERING_LENGTH` steps (the benchmark's set)."""
    return wandering_sines(n, seed, length=WANDERING_LENGTH)
#: ARTextures' classes: (θ, r) of the AR(2) poles r exp(±iπθ)
AR_CLASSES = {"low-narrow": (0.30, 0.95), "low-broad": (0.30, 0.85), "high-narrow": (0.45, 0.95),
              "high-broad": (0.45, 0.85)}
AR_BURN_IN = 100  # steps run before the series starts, so it starts in the process' steady state


def _autoregression(coefficients: tuple[float, ...], length: int, rng: np.random.Generator) -> np.ndarray:
    """``length`` steps of ``x_t = Σ_j a_j x_{t-j} + e_t``, ``e_t ~ N(0, 1)``, after
    :data:`AR_BURN_IN` steps from rest, scaled to unit std."""
    e = rng.normal(size=length + AR_BURN_IN)
    x = np.zeros(length + AR_BURN_IN)
    for t in range(len(coefficients), len(x)):
        x[t] = sum(a * x[t - 1 - j] for j, a in enumerate(coefficients)) + e[t]
    return x[AR_BURN_IN:] / x[AR_BURN_IN:].std()


def ar_textures(n: int, seed: int, length: int = 300) -> tuple[list[np.ndarray], list[str]]:
    """``n`` ARTextures series (classes in turn, then shuffled) and their labels: an AR(2) process
    with the class's poles (:data:`AR_CLASSES`, θ jittered by N(0, 0.02^2), r by N(0, 0.015^2),
    r at most 0.985) at unit std, times a slow envelope exp(0.5 g(t)) (6 knots), plus N(0, 0.5^2)
    noise, z-normalised."""
    rng = np.random.default_rng(seed)
    names = list(AR_CLASSES)
    grid, knots = np.arange(length), np.linspace(0.0, length - 1.0, 6)
    series, labels = [], []
    for i in range(n):
        k = names[i % len(names)]
        theta, radius = AR_CLASSES[k]
        theta, radius = theta + 0.02 * rng.normal(), min(0.985, radius + 0.015 * rng.normal())
        x = _autoregression((2 * radius * np.cos(np.pi * theta), -radius * radius), length, rng)
        x = x * np.exp(0.5 * np.interp(grid, knots, rng.normal(size=len(knots)))) + rng.normal(0.0, 0.5, length)
        series.append(_znorm(x))
        labels.append(k)
    return _shuffled(rng, series, labels)


LEAD_LAG_CLASSES = ("leads", "lags", "inverted-leads", "inverted-lags")
LEAD_LAG_SHIFTS = (2, 6)  # τ ~ U{2..6} steps


def lead_lag(n: int, seed: int, length: int = 200) -> tuple[list[np.ndarray], list[str]]:
    """``n`` LeadLag series ``(length, 2)`` (classes in turn, then shuffled) and their labels:
    channel a a smooth AR(1) signal s (coefficient 0.9, unit std), channel b the same signal
    ``τ ~ U{2..6}`` steps ahead (leads) or behind (lags), negated in the inverted classes,
    N(0, 0.5^2) noise on both, each channel z-normalised."""
    rng = np.random.default_rng(seed)
    lo, hi = LEAD_LAG_SHIFTS
    series, labels = [], []
    for i in range(n):
        k = i % len(LEAD_LAG_CLASSES)
        tau = int(rng.integers(lo, hi + 1))
        signal = _autoregression((0.9,), length + 2 * hi, rng)
        a = signal[hi:hi + length]
        shift = tau if k % 2 == 0 else -tau  # leads: b_t = s_{t+τ}; lags: b_t = s_{t-τ}
        b = signal[hi + shift:hi + shift + length] * (-1.0 if k >= 2 else 1.0)
        x = np.stack([a, b], axis=1) + rng.normal(0.0, 0.5, size=(length, 2))
        series.append((x - x.mean(axis=0)) / x.std(axis=0))
        labels.append(LEAD_LAG_CLASSES[k])
    return _shuffled(rng, series, labels)


SENSOR_CLASSES = ("source1", "source2", "source3", "source4")
SENSOR_CHANNELS = 480  # a wide array: more values per step than the first convolution has filters
SENSOR_ARRAY_SEED = 7  # the array's mixing matrix: one for the train and test parts alike


def sensor_array(n: int, seed: int, length: int = 150, channels: int = SENSOR_CHANNELS
                 ) -> tuple[list[np.ndarray], list[str]]:
    """``n`` SensorArray series ``(length, channels)`` (classes in turn, then shuffled) and their
    labels: four latent sources, each a smooth AR(1) signal (coefficient 0.9, unit std); in a
    class-k series source k also carries a burst, ``sin(2π t / 12) exp(-(t - t_0)^2 / (2 · 8^2))``
    times 2.5 at a centre ``t_0 ~ U[20, length - 20)``; the channels are ``x = A s + N(0, 1)``, A
    ``(channels, 4)`` N(0, 1) entries drawn once with :data:`SENSOR_ARRAY_SEED` (the same array
    for every series, as a sensor array's geometry), each channel z-normalised. Which source
    bursts, seen through the array's mixture, is the class (as MEG or EEG classes that differ by
    where the activity is)."""
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(SENSOR_ARRAY_SEED).normal(size=(channels, len(SENSOR_CLASSES)))
    t = np.arange(length)
    series, labels = [], []
    for i in range(n):
        k = i % len(SENSOR_CLASSES)
        sources = np.stack([_autoregression((0.9,), length, rng) for _ in SENSOR_CLASSES], axis=1)
        centre = rng.uniform(20, length - 20)
        sources[:, k] += 2.5 * np.sin(2 * np.pi * t / 12) * np.exp(-(t - centre) ** 2 / (2 * 8.0 ** 2))
        x = sources @ mixing.T + rng.normal(size=(length, channels))
        series.append((x - x.mean(axis=0)) / x.std(axis=0))
        labels.append(SENSOR_CLASSES[k])
    return _shuffled(rng, series, labels)


#: name -> (generator, training size argument, test size argument): sizes as in the UCR archive
#: (SyntheticControl's per class; WanderingSines as UEA's EigenWorms, 128 and 131)
GENERATED_SETS = {"CBF": (cbf, 30, 900), "SyntheticControl": (synthetic_control, 50, 50),
                  "TwoPatterns": (two_patterns, 1000, 4000), "BME": (bme, 30, 150),
                  "ShapeletSim": (shapelet_sim, 20, 180),
                  "NoisyTwoPatterns": (noisy_two_patterns, 3000, 2000),
                  "WanderingSines": (wandering_sines_long, 128, 131),
                  "WarpedShapes": (warped_shapes, 240, 480), "Gestures": (gestures, 180, 180),
                  "ARTextures": (ar_textures, 100, 400), "LeadLag": (lead_lag, 120, 400),
                  "SensorArray": (sensor_array, 120, 200)}
TRAIN_SEED, TEST_SEED = 1000, 2000


def load_generated(name: str):
    """The training and test parts of a generated set as lstmkit ``SequenceData``."""
    from lstmkit.data.sequences import SequenceData, sort_labels

    make, n_train, n_test = GENERATED_SETS[name]
    parts = []
    for size, seed, split in ((n_train, TRAIN_SEED, "train"), (n_test, TEST_SEED, "test")):
        series, labels = make(size, seed)
        names = np.array(labels, dtype=str)
        channels = 1 if series[0].ndim == 1 else series[0].shape[1]
        parts.append(SequenceData([s.astype(np.float32).reshape(len(s), channels) for s in series], names,
                                  [str(c) for c in sort_labels(labels)],
                                  ["value"] if channels == 1 else [f"channel{c}" for c in range(channels)],
                                  source=f"{name} (generated) {split}",
                                  ids=np.array([str(i) for i in range(len(series))])))
    return parts[0], parts[1]
