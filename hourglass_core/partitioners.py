"""Split a data set's sample indices among federated clients.

Three methods (``PARTITIONERS``):

* ``iid``: a seeded permutation cut into ``num_clients`` near-equal parts.
* ``dirichlet``: label skew after Hsu et al. (2019), as in FedLab / NIID-Bench:
  for each class, proportions over clients are drawn from Dir(alpha) and that
  class's (shuffled) samples are cut accordingly; smaller alpha, more skew.
* ``shards``: McMahan et al. (2017): sort by label, cut into
  ``num_clients * shards_per_client`` shards, deal each client
  ``shards_per_client`` random shards (so about that many classes per client).

Every index lands in exactly one client, each client gets at least ``min_size``
samples, and the same arguments (seed included) always give the same split.

Our choices, beyond the papers:

* Dirichlet uses NIID-Bench's balancing step: while a class is dealt, clients
  that already hold more than ``N / num_clients`` samples get no more of it.
* Dirichlet weights are drawn in log space (gamma(a) = gamma(a+1) * U**(1/a)),
  so alpha down to 0.01 and below never underflows to all-zero proportions.
* Dirichlet redraws the proportions up to ``max_retries`` times until every client
  has ``min_size`` samples. If no draw succeeds (likely for tiny alpha and many
  clients), the last draw is *repaired* deterministically: the smallest clients,
  in turn, take samples from whichever client is currently largest. The same
  repair backs up ``shards`` (uneven shard sizes); ``iid`` never needs it. So
  ``partition`` always terminates, and quickly: the work is vectorised with numpy.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

PARTITIONERS = ("iid", "dirichlet", "shards")


def partition(labels: np.ndarray, num_clients: int, method: str = "dirichlet", *,
              alpha: float = 0.1, shards_per_client: int = 2, min_size: int = 2,
              seed: int = 0, max_retries: int = 100) -> list[np.ndarray]:
    """Return one sorted int64 array of sample indices per client.

    ``labels`` holds one integer class label per sample (any array-like).
    ``alpha`` is used by ``dirichlet`` only, ``shards_per_client`` by ``shards`` only.
    Raises ``ConfigError`` naming the offending parameter.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ConfigError("labels", f"array of shape {labels.shape}", "a non-empty 1-D array of class labels")
    n = labels.size
    if method not in PARTITIONERS:
        raise ConfigError("method", method, "one of " + ", ".join(PARTITIONERS))
    if not isinstance(num_clients, (int, np.integer)) or num_clients < 1:
        raise ConfigError("num_clients", num_clients, "an integer >= 1")
    if not isinstance(min_size, (int, np.integer)) or min_size < 1:
        raise ConfigError("min_size", min_size, "an integer >= 1")
    if num_clients * min_size > n:
        raise ConfigError("num_clients", num_clients,
                          f"num_clients * min_size ({num_clients} * {min_size}) must not exceed "
                          f"the number of samples ({n})")
    if method == "dirichlet" and not alpha > 0:   # also rejects NaN
        raise ConfigError("alpha", alpha, "a number > 0 (smaller is more non-IID, e.g. 0.1)")
    if method == "dirichlet" and (not isinstance(max_retries, (int, np.integer)) or max_retries < 1):
        raise ConfigError("max_retries", max_retries, "an integer >= 1")
    if method == "shards" and (not isinstance(shards_per_client, (int, np.integer))
                               or shards_per_client < 1 or num_clients * shards_per_client > n):
        raise ConfigError("shards_per_client", shards_per_client,
                          f"an integer >= 1 with num_clients * shards_per_client <= {n} samples")

    rng = np.random.default_rng(seed)
    if method == "iid":
        parts = np.array_split(rng.permutation(n), num_clients)
    elif method == "shards":
        parts = _shards(labels, num_clients, shards_per_client, rng)
    else:
        parts = _dirichlet(labels, num_clients, float(alpha), min_size, max_retries, rng)
    parts = _repair(parts, min_size)
    return [np.sort(p).astype(np.int64) for p in parts]


def _shards(labels, num_clients, per_client, rng) -> list[np.ndarray]:
    # Random order first, then a stable sort by label: samples of one class are
    # contiguous but shuffled within the class.
    perm = rng.permutation(labels.size)
    order = perm[np.argsort(labels[perm], kind="stable")]
    shards = np.array_split(order, num_clients * per_client)
    deal = rng.permutation(len(shards)).reshape(num_clients, per_client)
    return [np.concatenate([shards[s] for s in row]) for row in deal]


def _dirichlet(labels, num_clients, alpha, min_size, max_retries, rng) -> list[np.ndarray]:
    n = labels.size
    classes, y = np.unique(labels, return_inverse=True)
    by_class = [rng.permutation(np.flatnonzero(y == k)) for k in range(classes.size)]
    cap = n / num_clients
    for _ in range(max_retries):
        counts = np.zeros((classes.size, num_clients), dtype=np.int64)
        sizes = np.zeros(num_clients, dtype=np.int64)
        for k, idx in enumerate(by_class):
            # log of Gamma(alpha) draws, stable for tiny alpha
            logw = np.log(rng.standard_gamma(alpha + 1.0, num_clients)) + np.log1p(-rng.random(num_clients)) / alpha
            logw[sizes >= cap] = -np.inf       # NIID-Bench balancing; some client is always below cap
            p = np.exp(logw - logw.max())
            cuts = np.floor(np.cumsum(p / p.sum()) * idx.size).astype(np.int64)
            cuts[-1] = idx.size
            counts[k] = np.diff(cuts, prepend=0)
            sizes += counts[k]
        if sizes.min() >= min_size:
            break
    owner = np.empty(n, dtype=np.int64)
    for k, idx in enumerate(by_class):
        owner[idx] = np.repeat(np.arange(num_clients), counts[k])
    order = np.argsort(owner, kind="stable")
    return np.split(order, np.cumsum(np.bincount(owner, minlength=num_clients))[:-1])


def _repair(parts: list[np.ndarray], min_size: int) -> list[np.ndarray]:
    """Top clients up to ``min_size`` from the currently largest one (deterministic).

    Terminates because ``num_clients * min_size <= N``: while any client is short,
    the largest holds more than ``min_size`` and can give.
    """
    sizes = np.array([p.size for p in parts])
    short = np.flatnonzero(sizes < min_size)
    if short.size == 0:
        return parts
    parts = list(parts)
    for c in short:
        while sizes[c] < min_size:
            donor = int(np.argmax(sizes))
            k = int(min(min_size - sizes[c], sizes[donor] - min_size))
            parts[c] = np.concatenate([parts[c], parts[donor][-k:]])
            parts[donor] = parts[donor][:-k]
            sizes[c] += k
            sizes[donor] -= k
    return parts
