"""Property tests for hourglass_core.partitioners."""

import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hourglass_core.errors import ConfigError
from hourglass_core.partitioners import PARTITIONERS, partition


@st.composite
def cases(draw):
    n = draw(st.integers(1, 400))
    num_classes = draw(st.integers(1, 12))
    labels = np.random.default_rng(draw(st.integers(0, 2**16))).integers(0, num_classes, n)
    min_size = draw(st.integers(1, 5))
    num_clients = draw(st.integers(1, max(1, min(60, n // min_size))))
    min_size = min(min_size, n // num_clients)
    kw = dict(method=draw(st.sampled_from(PARTITIONERS)),
              alpha=draw(st.sampled_from([0.01, 0.1, 0.5, 1.0, 100.0])),
              shards_per_client=draw(st.integers(1, max(1, min(4, n // num_clients)))),
              min_size=min_size, seed=draw(st.integers(0, 2**31)))
    return labels, num_clients, kw


def check_split(parts, n, num_clients, min_size):
    assert len(parts) == num_clients
    for p in parts:
        assert p.dtype == np.int64
        assert np.all(np.diff(p) > 0)          # sorted, no duplicates
        assert p.size >= min_size
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(n))


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_index_exactly_once_and_min_size(case):
    labels, num_clients, kw = case
    check_split(partition(labels, num_clients, **kw), labels.size, num_clients, kw["min_size"])


@settings(max_examples=60, deadline=None)
@given(cases())
def test_same_seed_same_split(case):
    labels, num_clients, kw = case
    a, b = partition(labels, num_clients, **kw), partition(labels, num_clients, **kw)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), alpha=st.sampled_from([0.05, 0.1, 1.0]),
       num_clients=st.integers(3, 20))
def test_dirichlet_different_seed_different_split(seed, alpha, num_clients):
    labels = np.arange(1000) % 10
    a = partition(labels, num_clients, "dirichlet", alpha=alpha, seed=seed)
    b = partition(labels, num_clients, "dirichlet", alpha=alpha, seed=seed + 1)
    assert not all(np.array_equal(x, y) for x, y in zip(a, b))


CIFAR_LABELS = np.repeat(np.arange(10), 5000)


@settings(max_examples=4, deadline=2000)   # ms per example, worst case measured ~0.1 s
@given(method=st.sampled_from(PARTITIONERS), alpha=st.sampled_from([0.01, 0.1]),
       num_clients=st.sampled_from([10, 100, 1000]), seed=st.integers(0, 2**31))
def test_terminates_quickly_at_cifar_scale(method, alpha, num_clients, seed):
    t = time.perf_counter()
    parts = partition(CIFAR_LABELS, num_clients, method, alpha=alpha, seed=seed)
    assert time.perf_counter() - t < 2.0
    check_split(parts, CIFAR_LABELS.size, num_clients, 2)


def test_worst_case_alpha_001_1000_clients():
    t = time.perf_counter()
    parts = partition(CIFAR_LABELS, 1000, "dirichlet", alpha=0.01, seed=0)
    assert time.perf_counter() - t < 2.0
    check_split(parts, CIFAR_LABELS.size, 1000, 2)


def test_methods_have_their_character():
    labels = CIFAR_LABELS
    iid = partition(labels, 10, "iid")
    assert {p.size for p in iid} == {5000}
    assert all(np.unique(labels[p]).size == 10 for p in iid)
    shards = partition(labels, 100, "shards", shards_per_client=2)
    assert max(np.unique(labels[p]).size for p in shards) <= 2
    skewed = partition(labels, 10, "dirichlet", alpha=0.01)
    mild = partition(labels, 10, "dirichlet", alpha=100.0)
    classes = lambda parts: np.mean([np.unique(labels[p]).size for p in parts])  # noqa: E731
    assert classes(skewed) < 5 < classes(mild)


@pytest.mark.parametrize("kwargs, param", [
    (dict(num_clients=0), "num_clients"),
    (dict(num_clients=11), "num_clients"),              # 11 * 2 > 20 samples
    (dict(num_clients=2, alpha=0.0), "alpha"),
    (dict(num_clients=2, alpha=-1.0), "alpha"),
    (dict(num_clients=2, min_size=0), "min_size"),
    (dict(num_clients=2, method="pathological"), "method"),
    (dict(num_clients=2, method="shards", shards_per_client=0), "shards_per_client"),
    (dict(num_clients=5, method="shards", shards_per_client=5), "shards_per_client"),
])
def test_bad_arguments_name_the_parameter(kwargs, param):
    with pytest.raises(ConfigError) as e:
        partition(np.arange(20) % 4, **kwargs)
    assert e.value.param == param
    assert param in str(e.value)
