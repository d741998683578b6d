"""One OpenMP thread for the small fits here, as the benchmark and detect use: threads that
wait on each other on a busy 2-core machine make a 0.1 s fit take seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield
