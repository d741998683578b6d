"""Detect: from a normalised case to scored entities with evidence.

Each module is one detector: SQL over the case's DuckDB tables (portable to Spark SQL), reading
earlier detectors' tables and writing its own, with a reason a person can read for every score.
``pipeline.detect`` runs them in order: linking -> lines -> spoofing -> journeys -> mules ->
reports -> centers -> networks -> evidence.
"""
