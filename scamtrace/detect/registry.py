"""Every detector, in one list, and the order they run in (derived from what each needs).

The list is in the order they were written to run; :func:`~scamtrace.detect.detector.in_order`
keeps it wherever the declarations allow, so a new detector only has to say what it reads and
makes to find its place.
"""

from __future__ import annotations

from scamtrace.core import contract
from scamtrace.detect import (
    assemble,
    centers,
    complaints,
    journeys,
    labels,
    lines,
    linking,
    list_runs,
    mules,
    networks,
    number_reputation,
    sim_boxes,
    spoofing,
    texts,
)
from scamtrace.detect.detector import Detector, in_order

#: Tables every opened case holds: the contract's inputs (empty where the case lacks one) and
#: the rows set aside while reading them.
CASE_TABLES = (*contract.INPUT_TABLES, "rejected")

DETECTORS: tuple[Detector, ...] = (
    labels.DETECTOR,
    linking.DETECTOR,
    lines.DETECTOR,
    spoofing.DETECTOR,
    list_runs.DETECTOR,
    sim_boxes.DETECTOR,
    journeys.DETECTOR,
    mules.DETECTOR,
    texts.DETECTOR,
    complaints.DETECTOR,
    number_reputation.DETECTOR,
    centers.DETECTOR,
    networks.DETECTOR,
    assemble.DETECTOR,
)

#: The order ``detect`` runs them in.
ORDER = in_order(DETECTORS, CASE_TABLES)


def detector(name: str) -> Detector:
    """The detector called ``name``."""
    for d in DETECTORS:
        if d.name == name:
            return d
    raise KeyError(name)
