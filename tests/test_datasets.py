"""Tests for hourglass_core.datasets."""

import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

import hourglass_core.datasets as datasets
from hourglass_core.datasets import CIFAR10_MEAN, CIFAR10_STD, DATASETS, DataSet, load_dataset
from hourglass_core.errors import ConfigError, DataError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def check_arrays(d: DataSet, n_train, n_test, shape, num_classes):
    assert d.train_x.shape == (n_train, *shape) and d.test_x.shape == (n_test, *shape)
    assert d.train_y.shape == (n_train,) and d.test_y.shape == (n_test,)
    assert d.train_x.dtype == d.test_x.dtype == torch.float32
    assert d.train_y.dtype == d.test_y.dtype == torch.int64
    assert d.input_shape == shape
    assert d.num_classes == len(d.classes) == num_classes
    assert set(d.train_y.tolist()) <= set(range(num_classes))


def same(a: DataSet, b: DataSet) -> bool:
    return all(torch.equal(getattr(a, f), getattr(b, f)) for f in ("train_x", "train_y", "test_x", "test_y"))


# --- digits and synthetic ------------------------------------------------------

def test_digits_shapes_and_normalisation():
    d = load_dataset("digits")
    check_arrays(d, 1437, 360, (1, 8, 8), 10)
    assert d.classes == tuple("0123456789")
    assert abs(d.train_x.mean().item()) < 1e-4 and abs(d.train_x.std().item() - 1) < 1e-3
    assert np.all(np.bincount(d.test_y.numpy()) >= 35)   # stratified: ~36 per class


def test_digits_split_is_fixed_whatever_the_seed():
    assert same(load_dataset("digits", seed=0), load_dataset("digits", seed=123))


def test_synthetic_shapes_balance_and_determinism():
    d = load_dataset("synthetic", seed=3)
    check_arrays(d, 2000, 500, (3, 16, 16), 10)
    assert np.all(np.bincount(d.train_y.numpy()) == 200) and np.all(np.bincount(d.test_y.numpy()) == 50)
    assert abs(d.train_x.mean().item()) < 1e-3 and abs(d.train_x.std().item() - 1) < 1e-3
    assert same(d, load_dataset("synthetic", seed=3))
    assert not torch.equal(d.train_x, load_dataset("synthetic", seed=4).train_x)


def test_synthetic_is_class_conditional_but_not_trivial():
    d = load_dataset("synthetic", seed=0)
    means = torch.stack([d.train_x[d.train_y == k].mean(0) for k in range(10)]).flatten(1)
    pred = torch.cdist(d.test_x.flatten(1), means).argmin(1)
    acc = (pred == d.test_y).float().mean().item()
    assert 0.5 < acc < 1.0, acc        # far above chance (0.1), yet not perfect


def test_unknown_dataset_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        load_dataset("mnist")
    assert e.value.param == "dataset" and "digits, cifar10, synthetic" in str(e.value)
    assert DATASETS == ("digits", "cifar10", "synthetic")


# --- cifar10 from an image folder ----------------------------------------------

def make_tree(root, classes=("cat", "airplane", "dog"), n_train=4, n_test=2, ext=".png", seed=0):
    """A tiny train/<class>/, test/<class>/ tree of random 32x32 images; returns the pixels."""
    rng = np.random.default_rng(seed)
    pixels = {}
    for split, n in (("train", n_train), ("test", n_test)):
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(a).save(root / split / c / f"{i:04d}{ext}")
                pixels[split, c, i] = a
    return pixels


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HOURGLASS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_absent_cifar10_fails_at_once_naming_path_and_fixes(tmp_path):
    missing = tmp_path / "no-data-here"
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=str(missing))
    msg = str(e.value)
    assert e.value.param == "data_dir" and isinstance(e.value, ConfigError)
    assert str(missing) in msg
    assert "--download" in msg and "--data_dir" in msg and "train/<class>/" in msg


def test_image_folder_loads_and_is_cached(tmp_path, cache, monkeypatch):
    root = tmp_path / "imgs"
    pixels = make_tree(root)
    d = load_dataset("cifar10", data_dir=str(root))
    check_arrays(d, 12, 6, (3, 32, 32), 3)
    assert d.classes == ("airplane", "cat", "dog")           # sorted folder names
    assert d.train_y.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    # lossless PNG: pixels come back exactly, normalised with the CIFAR-10 constants
    x = torch.from_numpy(pixels["test", "dog", 1]).permute(2, 0, 1).float() / 255
    want = (x - torch.tensor(CIFAR10_MEAN).view(3, 1, 1)) / torch.tensor(CIFAR10_STD).view(3, 1, 1)
    assert torch.allclose(d.test_x[5], want, atol=1e-5)
    assert len(list(cache.glob("*.npz"))) == 1

    # second load reads the cache and decodes nothing
    monkeypatch.setattr(datasets, "_decode_one", lambda *a: pytest.fail("decoded again"))
    assert same(d, load_dataset("cifar10", data_dir=str(root)))
    monkeypatch.undo()
    monkeypatch.setenv("HOURGLASS_CACHE", str(cache))

    # a new image changes the fingerprint: decoded afresh, cached under a new key
    Image.fromarray(pixels["train", "cat", 0]).save(root / "train" / "cat" / "9999.png")
    assert len(load_dataset("cifar10", data_dir=str(root)).train_y) == 13
    assert len(list(cache.glob("*.npz"))) == 2


def test_folder_one_level_down_and_jpeg(tmp_path, cache):
    make_tree(tmp_path / "cifar10-jpeg", ext=".jpg")
    d = load_dataset("cifar10", data_dir=str(tmp_path))
    check_arrays(d, 12, 6, (3, 32, 32), 3)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_image_is_named(tmp_path, cache, damage):
    make_tree(tmp_path, ext=".jpg")
    bad = tmp_path / "train" / "dog" / "0002.jpg"
    bad.write_bytes(b"not an image" if damage == "garbage" else bad.read_bytes()[:300])
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert str(bad) in str(e.value) and "damaged" in str(e.value)


def test_wrong_image_size_is_named(tmp_path, cache):
    make_tree(tmp_path)
    odd = tmp_path / "test" / "cat" / "0000.png"
    Image.new("RGB", (28, 30)).save(odd)
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert str(odd) in str(e.value) and "32x32" in str(e.value)


def test_unknown_test_class_is_an_error(tmp_path, cache):
    make_tree(tmp_path)
    (tmp_path / "test" / "unicorn").mkdir()
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert "unicorn" in str(e.value)


def test_folder_without_images_is_an_error(tmp_path, cache):
    for split in ("train", "test"):
        (tmp_path / split / "cat").mkdir(parents=True)
    (tmp_path / "train" / "cat" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", data_dir=str(tmp_path))
    assert "no images" in str(e.value) and str(tmp_path / "train") in str(e.value)


# --- cifar10 through torchvision (faked: no network in tests) --------------------

class FakeCIFAR10:
    calls = []

    def __init__(self, root, train, download):
        FakeCIFAR10.calls.append((root, train, download))
        n = 6 if train else 3
        self.data = np.full((n, 32, 32, 3), 128, dtype=np.uint8)
        self.targets = list(range(n))
        self.classes = list(CIFAR10_CLASSES)


def test_torchvision_root_and_download(tmp_path, monkeypatch):
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    FakeCIFAR10.calls.clear()
    d = load_dataset("cifar10", data_dir=str(tmp_path), download=True)
    check_arrays(d, 6, 3, (3, 32, 32), 10)
    assert d.classes == CIFAR10_CLASSES
    assert FakeCIFAR10.calls == [(str(tmp_path), True, True), (str(tmp_path), False, True)]

    (tmp_path / "cifar-10-batches-py").mkdir()            # an existing torchvision root
    load_dataset("cifar10", data_dir=str(tmp_path))
    assert FakeCIFAR10.calls[-1] == (str(tmp_path), False, False)


def test_torchvision_failure_is_a_data_error(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*a, **k):
        raise RuntimeError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DataError, match="network unreachable"):
        load_dataset("cifar10", data_dir=str(tmp_path), download=True)


# --- the real archive (developers and CI only) -----------------------------------

def test_real_cifar10_archive(cifar10_dir):
    t = time.perf_counter()
    d = load_dataset("cifar10", data_dir=str(cifar10_dir))
    print(f"\nloaded real CIFAR-10 in {time.perf_counter() - t:.1f} s")
    check_arrays(d, 50_000, 10_000, (3, 32, 32), 10)
    assert d.classes == CIFAR10_CLASSES
    assert np.all(np.bincount(d.train_y.numpy(), minlength=10) == 5000)
    assert np.all(np.bincount(d.test_y.numpy(), minlength=10) == 1000)
    mean = d.train_x.mean(dim=(0, 2, 3))
    std = d.train_x.std(dim=(0, 2, 3))
    assert torch.all(mean.abs() < 0.05) and torch.all((std - 1).abs() < 0.05), (mean, std)
