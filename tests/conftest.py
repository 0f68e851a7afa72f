"""Shared fixtures.

``cifar10_dir``: the real CIFAR-10 JPEG archive that developers and CI keep beside
the checkout (``../shared/data/cifar10-jpeg.tar.gz``, or ``$HOURGLASS_CIFAR10_ARCHIVE``),
extracted once into a cache folder and reused across runs. Tests using it skip when
the archive is absent, as it is on a user's machine.
"""

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import pytest
import torch

# The kit's test models are tiny: one intra-op thread is fastest, and torch's
# default threading degrades badly when another process shares the two cores.
torch.set_num_threads(1)


def cifar10_archive() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"
    return Path(os.environ.get("HOURGLASS_CIFAR10_ARCHIVE") or default)


@pytest.fixture(scope="session")
def cifar10_dir() -> Path:
    """Path of the extracted ``cifar10-jpeg`` folder (``train/<class>/``, ``test/<class>/``)."""
    archive = cifar10_archive()
    if not archive.is_file():
        pytest.skip(f"real CIFAR-10 archive not found at {archive} "
                    f"(set HOURGLASS_CIFAR10_ARCHIVE to its path to run this test)")
    cache = Path(os.environ.get("HOURGLASS_CACHE") or Path.home() / ".cache" / "hourglass_kit").expanduser()
    target = cache / "cifar10-jpeg"
    if not (target / "train").is_dir() or not (target / "test").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        # Extract beside the target, then rename: a concurrent run never sees half a tree.
        tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".cifar10-jpeg-"))
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
            try:
                os.rename(tmp / "cifar10-jpeg", target)
            except OSError:
                if not (target / "train").is_dir():   # not simply beaten by another run
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
