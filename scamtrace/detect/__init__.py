"""Detect: from a normalised case to scored entities with evidence.

Each module is one detector: SQL over the case's DuckDB tables (portable to Spark SQL), reading
earlier detectors' tables and writing its own, with a reason a person can read for every score.
Each declares what it needs and makes (``detector.Detector``); ``registry`` lists them and
derives the order they run in: linking -> lines -> spoofing -> journeys -> mules -> texts ->
complaints -> number_reputation -> centers -> networks -> assemble. ``runner.detect`` runs them
and writes the findings folder; ``settings`` holds every threshold and weight.
"""
