"""Label features see training labels and nothing else: poisoning every label outside train
leaves the features unchanged, asking for others raises, and no line sees its own label."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scamtrace.reputation.graph import KnownLabels, LabelLeakError, label_features
from scamtrace.reputation.sichuan import VARIANTS, GraphCache, features_for, split_protocol
from tests.reputation.synthetic import synthetic


def test_labels_outside_train_do_not_change_any_feature() -> None:
    data = synthetic()
    split = split_protocol(data.labels, seed=0)
    poisoned = data.labels.copy()
    outside = np.concatenate([split.validation, split.test])
    poisoned[outside] = 1 - poisoned[outside]
    other = dataclasses.replace(data, labels=poisoned)
    variant = VARIANTS["all"]
    clean = features_for(data, split, variant, GraphCache(data)).values
    dirty = features_for(other, split, variant, GraphCache(other)).values
    np.testing.assert_array_equal(clean, dirty)
    # the label features are not constant: they do carry the training labels
    flipped = data.labels.copy()
    flipped[split.train] = 1 - flipped[split.train]
    moved = features_for(dataclasses.replace(data, labels=flipped), split, variant,
                         GraphCache(data)).values  # fmt: skip
    assert not np.array_equal(clean, moved)


def test_guard_refuses_labels_of_validation_or_test_lines() -> None:
    data = synthetic()
    split = split_protocol(data.labels, seed=1)
    leaky = KnownLabels.take(data.labels, np.concatenate([split.train, split.test[:1]]))
    with pytest.raises(LabelLeakError, match="outside training"):
        leaky.guard(np.concatenate([split.validation, split.test]))
    KnownLabels.take(data.labels, split.train).guard(split.test)  # no overlap: no error


def test_a_known_line_never_sees_its_own_label() -> None:
    data = synthetic()
    split = split_protocol(data.labels, seed=2)
    line = int(split.train[0])
    flipped = data.labels.copy()
    flipped[line] = 1 - flipped[line]
    a = label_features(data.adjacency, KnownLabels.take(data.labels, split.train)).values
    b = label_features(data.adjacency, KnownLabels.take(flipped, split.train)).values
    np.testing.assert_array_equal(a[line], b[line])
    assert not np.array_equal(a, b)  # its neighbours do see it
