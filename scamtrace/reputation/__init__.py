"""Number reputation: score every line from its calling behaviour and from its neighbours in
the call graph, learning from whatever confirmed fraud lines exist (and working with none).

- :mod:`~scamtrace.reputation.features`: behaviour of a line from ``carrier_cdr`` / ``voip_cdr``
- :mod:`~scamtrace.reputation.graph`: structure, neighbour aggregates and label features, the
  latter only from :class:`~scamtrace.reputation.graph.KnownLabels` (the leakage guard)
- :mod:`~scamtrace.reputation.model`: the line scorer (gradient boosting, or an unsupervised
  behaviour score without labels)
- :mod:`~scamtrace.reputation.sichuan`: the Sichuan telecom-fraud benchmark (GAT-COBO protocol)
"""
