"""Data sets the kit trains on: ``load_dataset(name)`` returns a ``DataSet``.

* ``digits``: scikit-learn's bundled handwritten digits (1797 grey 8x8 images,
  10 classes). Ships inside a dependency, so it needs no download.
* ``cifar10``: from a folder of images (``<root>/train/<class>/*.jpg`` and
  ``<root>/test/<class>/*``) or a torchvision CIFAR-10 root, downloading through
  torchvision when asked.
* ``synthetic``: seeded class-conditional images for fast tests.

All images come back as float32 (N, C, H, W), normalised per channel, with int64
labels; the test split is the global test set.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError, DataError

DATASETS = ("digits", "cifar10", "synthetic")

# The usual CIFAR-10 channel statistics of the training set (true per-pixel std,
# not the 0.2023/0.1994/0.2010 values that circulate in many repositories).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class DataSet:
    """A data set in memory: normalised float32 images, int64 labels."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    classes: tuple[str, ...]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train_x.shape[1:])

    def __repr__(self) -> str:
        return (f"DataSet({self.name!r}, train={len(self.train_y)}, test={len(self.test_y)}, "
                f"input_shape={self.input_shape}, num_classes={self.num_classes})")


def load_dataset(name: str, data_dir: str | None = None, download: bool = False,
                 seed: int = 0) -> DataSet:
    """Load data set ``name`` (one of ``DATASETS``).

    ``data_dir`` and ``download`` matter for ``cifar10`` only; ``seed`` for
    ``synthetic`` only (the real data sets have fixed test sets).
    """
    if name == "digits":
        return _digits()
    if name == "synthetic":
        return _synthetic(seed)
    if name == "cifar10":
        return _cifar10(data_dir, download)
    raise ConfigError("dataset", name, "one of " + ", ".join(DATASETS))


def _make(name, train_x, train_y, test_x, test_y, classes) -> DataSet:
    """Build a DataSet from float arrays (N, C, H, W), normalising both splits with the
    training split's own per-channel mean and std (our choice for digits and synthetic)."""
    train_x, test_x = torch.as_tensor(train_x, dtype=torch.float32), torch.as_tensor(test_x, dtype=torch.float32)
    mean, std = train_x.mean(dim=(0, 2, 3), keepdim=True), train_x.std(dim=(0, 2, 3), keepdim=True)
    return DataSet(name, (train_x - mean) / std, torch.as_tensor(train_y, dtype=torch.int64),
                   (test_x - mean) / std, torch.as_tensor(test_y, dtype=torch.int64),
                   len(classes), tuple(classes))


# --- digits -----------------------------------------------------------------

def _digits() -> DataSet:
    """Our choices: a fixed stratified 80/20 split (random_state=0, whatever the seed,
    so the global test set never changes); pixels scaled from 0..16 to 0..1, then
    normalised with the training split's mean/std."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.images.astype(np.float32)[:, None] / 16.0
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)
    return _make("digits", xtr, ytr, xte, yte, [str(c) for c in d.target_names])


# --- synthetic --------------------------------------------------------------

def _synthetic(seed: int, n_train: int = 2000, n_test: int = 500, num_classes: int = 10) -> DataSet:
    """Our recipe: each class has a smooth prototype (a random 3x4x4 pattern,
    bilinearly upsampled to 3x16x16). A sample is its class prototype with a random
    contrast (0.5..1.5), shifted by up to 2 pixels each way (wrapping), plus pixel
    noise (std 2). Balanced classes, shuffled; everything seeded by ``seed``.
    A small CNN reaches ~30 % test accuracy after one epoch and ~75 % after six
    (seed 0); a linear model on all pixels ~98 %: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.standard_normal((num_classes, 3, 4, 4), dtype=np.float32))
    protos = torch.nn.functional.interpolate(coarse, size=(16, 16), mode="bilinear", align_corners=False).numpy()
    shifts = range(-2, 3)   # every shifted copy of every prototype: (classes, 5, 5, 3, 16, 16)
    moved = np.stack([np.stack([np.roll(protos, (dy, dx), axis=(2, 3)) for dx in shifts], 1) for dy in shifts], 1)

    def draw(n):
        y = rng.permutation(np.arange(n) % num_classes)
        sy, sx = rng.integers(0, len(shifts), (2, n))
        x = moved[y, sy, sx] * rng.uniform(0.5, 1.5, (n, 1, 1, 1)).astype(np.float32)
        return x + 2.0 * rng.standard_normal(x.shape, dtype=np.float32), y

    (xtr, ytr), (xte, yte) = draw(n_train), draw(n_test)
    return _make("synthetic", xtr, ytr, xte, yte, [f"class_{k}" for k in range(num_classes)])


# --- cifar10 ----------------------------------------------------------------

def _cifar10(data_dir: str | None, download: bool) -> DataSet:
    """Look in ``data_dir`` (default ``./data``) for, in order: an image-folder tree
    (``train/`` and ``test/``, also accepted one level down in ``cifar10-jpeg/``),
    then torchvision's ``cifar-10-batches-py``; else download through torchvision
    if ``download``; else fail at once saying where we looked and how to fix it."""
    root = Path(data_dir if data_dir is not None else "./data").expanduser()
    for tree in (root, root / "cifar10-jpeg"):
        if (tree / "train").is_dir() and (tree / "test").is_dir():
            arrays = _folder_arrays(tree, data_dir)
            break
    else:
        if not (root / "cifar-10-batches-py").is_dir() and not download:
            raise DataError(
                "data_dir", data_dir,
                f"no CIFAR-10 found in {root.resolve()} (looked for train/<class>/ and test/<class>/ "
                f"image folders and for torchvision's cifar-10-batches-py). Either pass --download "
                f"where a network exists (torchvision downloads into {root}), or point --data_dir at "
                f"a folder with train/<class>/ and test/<class>/ images")
        arrays = _torchvision_arrays(root, data_dir, download)
    xtr, ytr, xte, yte, classes = arrays
    return DataSet("cifar10", _normalise_uint8(xtr), torch.as_tensor(ytr, dtype=torch.int64),
                   _normalise_uint8(xte), torch.as_tensor(yte, dtype=torch.int64), len(classes), tuple(classes))


def _normalise_uint8(a: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float32 (N, 3, H, W), in place in one buffer
    (60,000 images make 737 MB of floats; temporaries would double that)."""
    x = torch.empty((a.shape[0], 3, *a.shape[1:3]), dtype=torch.float32)
    x.copy_(torch.from_numpy(a).permute(0, 3, 1, 2))
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) * 255 for v in (CIFAR10_MEAN, CIFAR10_STD))
    return x.sub_(mean).div_(std)


def _torchvision_arrays(root: Path, data_dir, download: bool):
    from torchvision.datasets import CIFAR10

    try:
        train, test = (CIFAR10(str(root), train=t, download=download) for t in (True, False))
    except Exception as e:  # no network, damaged batches, ...
        raise DataError("data_dir", data_dir, f"torchvision could not load CIFAR-10 from {root}: {e}") from e
    return train.data, np.asarray(train.targets), test.data, np.asarray(test.targets), tuple(train.classes)


def cache_dir() -> Path:
    """Where decoded arrays are cached: ``$HOURGLASS_CACHE``, else ``~/.cache/hourglass_kit``."""
    return Path(os.environ.get("HOURGLASS_CACHE") or Path.home() / ".cache" / "hourglass_kit").expanduser()


def _list_images(tree: Path, data_dir):
    """Sorted class names (from train/), per split (files, labels), and a fingerprint
    of the tree: (file count, newest mtime)."""
    classes = sorted(e.name for e in os.scandir(tree / "train") if e.is_dir())
    splits, newest = {}, 0
    for split in ("train", "test"):
        files, labels = [], []
        for d in sorted((e for e in os.scandir(tree / split) if e.is_dir()), key=lambda e: e.name):
            if d.name not in classes:
                raise DataError("data_dir", data_dir, f"class folder {d.path} is not among the training "
                                f"classes {classes} found in {tree / 'train'}")
            imgs = sorted((e for e in os.scandir(d.path) if os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS),
                          key=lambda e: e.name)
            newest = max([newest] + [e.stat().st_mtime_ns for e in imgs])
            files += [e.path for e in imgs]
            labels += [classes.index(d.name)] * len(imgs)
        if not files:
            raise DataError("data_dir", data_dir, f"no images (*.jpg, *.png, ...) in {tree / split}/<class>/")
        splits[split] = (files, np.asarray(labels, dtype=np.int64))
    return classes, splits, (len(splits["train"][0]) + len(splits["test"][0]), newest)


def _folder_arrays(tree: Path, data_dir):
    """Decode an image-folder tree once; later calls read a cached ``.npz`` of uint8
    arrays, keyed by the resolved path, the file count and the newest mtime (so adding,
    removing or rewriting images invalidates it). The cache lives outside the data
    folder, which may be read-only."""
    tree = tree.resolve()
    classes, splits, (count, newest) = _list_images(tree, data_dir)
    key = hashlib.sha256(f"{tree}|{count}|{newest}".encode()).hexdigest()[:16]
    cached = cache_dir() / f"{tree.name}-{key}.npz"
    try:
        with np.load(cached) as z:
            return z["train_x"], z["train_y"], z["test_x"], z["test_y"], tuple(str(c) for c in z["classes"])
    except (OSError, KeyError, ValueError):
        pass  # absent or unreadable: decode
    (trf, ytr), (tef, yte) = splits["train"], splits["test"]
    xtr, xte = _decode(trf, data_dir), _decode(tef, data_dir)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".tmp", delete=False) as f:
            np.savez(f, train_x=xtr, train_y=ytr, test_x=xte, test_y=yte, classes=np.array(classes))
        os.chmod(f.name, 0o644)
        os.replace(f.name, cached)  # atomic: concurrent loaders never see half a file
    except OSError as e:
        warnings.warn(f"could not cache decoded images in {cached.parent}: {e}")
    return xtr, ytr, xte, yte, tuple(classes)


def _decode_one(path: str, data_dir) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            a = np.asarray(im.convert("RGB"))
    except Exception as e:  # truncated, not an image, ...
        raise DataError("data_dir", data_dir, f"image {path} is damaged or not an image ({e})") from e
    if a.shape != (32, 32, 3):
        raise DataError("data_dir", data_dir, f"image {path} is {a.shape[1]}x{a.shape[0]}; "
                        f"CIFAR-10 images must be 32x32")
    return a


def _decode(files: list[str], data_dir) -> np.ndarray:
    out = np.empty((len(files), 32, 32, 3), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for i, a in enumerate(pool.map(lambda f: _decode_one(f, data_dir), files)):
            out[i] = a
    return out
