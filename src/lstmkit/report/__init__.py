"""Reports on trained models: numbers, figures and pages, kept apart.

* :mod:`~lstmkit.report.numbers`: an LSTM's trace as arrays ``(N, L, H)``, step masks, gate
  saturation (Karpathy, Johnson & Fei-Fei 2015), the analysis per layer-direction (numpy only);
* :mod:`~lstmkit.report.figures`: the figures of ``lstmkit inspect`` as PNG bytes;
* :mod:`~lstmkit.report.html`: the self-contained page ``report.html``;
* :mod:`~lstmkit.report.inspect`: :func:`~lstmkit.report.inspect.inspect_model`, which loads
  any saved estimator through the registry of :mod:`lstmkit.tasks.base`, takes its public
  ``encoder_view()``, runs the modules above in turn and writes the run directory;
* :mod:`~lstmkit.report.plots`: the forecast and lab plots, and the matplotlib setup every
  figure shares (:func:`~lstmkit.report.plots.pyplot`).

Importing this package imports none of them (nor numpy, torch or matplotlib).
"""
