"""Training the scam-call classifier: the corpus (seed corpus, simulated worlds, the English
scam-dialogue set) and the fit that writes the packaged model.

A tool beside the runtime: it imports :mod:`scamtrace.language.classifier` and the simulator;
nothing in the runtime imports it. Build the packaged model with
``python -m scamtrace.language.training.train``.
"""
