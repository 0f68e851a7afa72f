"""Split models: each model is an ordered list of named stages, cut after one of them.

A split-FL model is cut at one layer: the stages up to and including the cut run on
the clients, the rest (ending with the classifier head) on the server's GPUs. Every
model here is built as a list of named stages; the cut points are the stage names
except the last (the head). Parameter names do not depend on the cut
(``SplitModel.full().state_dict()`` is the same for every cut of one seed), so the
same seed gives the same network whichever cut is chosen.

``cnn``: a small CNN (two 3x3 conv layers, 16 and 32 channels, then adaptive
average pooling to 4x4 and a linear head) for scikit-learn's 8x8 digits; the
adaptive pooling lets it take any small image. It is the kit's seconds-long smoke
model; the paper does not use it.

``resnet18``: torchvision's ResNet-18 with the usual CIFAR stem (3x3 conv, stride 1,
no max-pool) for 32x32 inputs. Stages ``stem``, ``layer1``..``layer4``, ``head``
(average pool, flatten, linear). The standard CIFAR-10 residual network next to the
paper's VGG-16; at full width with the CIFAR stem it trains at only about 83 samples/s
on a quiet 2-core CPU (DESIGN.md), so it is for GPU runs.

``resnet18_narrow``: the same ResNet-18 layout (same stages, torchvision's
``BasicBlock``, torchvision's initialisation) with base width 16 instead of 64
(channels 16/32/64/128), sized for classroom CPUs, with the **CIFAR stem**. Training
throughput on the kit's 2-core CPU (batch 32, 3x32x32, SGD, train mode, forward +
backward + step, warm; best of repeated runs on a machine shared with other jobs, so
roughly 0.6x of a quiet machine's figures, which DESIGN.md puts at 83 for the
full-width CIFAR-stem network and ~870 for this one), in samples/s:

    ==================  ==========  ==================================
    network             CIFAR stem  ImageNet stem (7x7/2 + max-pool)
    ==================  ==========  ==================================
    resnet18            53          436
    resnet18_narrow     499         1888
    vgg16_bn            96          (no stem)
    ==================  ==========  ==================================

The ImageNet stem is 4x faster still, but it shrinks a 32x32 image to 8x8 before the
first residual stage and learns CIFAR-10 worse (one pass over the same 20,000 random
training images, SGD lr 0.05 with momentum: 40.5% accuracy on 2,000 test images
against 45.6% with the CIFAR stem), while the CIFAR stem already gives the several
hundred samples/s a classroom run needs.

``vgg16_bn``: VGG-16 with batch norm, the paper's main model (its single-GPU
headline is VGG-16 on CIFAR-10: 86.82% for Hourglass against 80.6% for SplitFed).
torchvision's ``vgg16_bn`` convolutional features split at each max-pool into
``block1``..``block5``, then a CIFAR-style ``head`` (adaptive average pool to 1x1,
flatten, linear 512 -> classes) in place of the ImageNet 4096-wide classifier. It
needs inputs of at least 32x32 (five 2x2 max-pools).
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn
from torchvision.models import resnet18 as tv_resnet18
from torchvision.models.resnet import BasicBlock
from torchvision.models.vgg import cfgs as vgg_cfgs
from torchvision.models.vgg import make_layers as vgg_make_layers

from .errors import ConfigError

Stages = list[tuple[str, nn.Module]]


@dataclass
class SplitModel:
    """A model cut after stage ``cut_layer``: ``client`` below the cut, ``server`` above."""

    name: str
    cut_layer: str
    client: nn.Sequential
    server: nn.Sequential

    def full(self) -> nn.Sequential:
        """Client stages followed by server stages, sharing the same modules."""
        stages = [*self.client.named_children(), *self.server.named_children()]
        return nn.Sequential(OrderedDict(stages))


@dataclass(frozen=True)
class ModelSpec:
    builder: Callable[[int, int], Stages]  # (num_classes, in_channels) -> named stages
    stages: tuple[str, ...]
    default_cut: str
    description: str

    @property
    def cut_points(self) -> tuple[str, ...]:
        return self.stages[:-1]


def _init_like_torchvision(module: nn.Module) -> None:
    """torchvision's ResNet/VGG initialisation of conv and batch-norm layers."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _cnn(num_classes: int, in_channels: int) -> Stages:
    return [
        ("conv1", nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU())),
        ("conv2", nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                                nn.AdaptiveAvgPool2d(4))),
        ("head", nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, num_classes))),
    ]


def _cifar_stem(in_channels: int, width: int) -> nn.Sequential:
    conv = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(width), nn.ReLU(inplace=True))


def _pool_linear_head(features: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(features, num_classes))


def _resnet18(num_classes: int, in_channels: int) -> Stages:
    net = tv_resnet18(num_classes=num_classes)
    stem = _cifar_stem(in_channels, 64)
    _init_like_torchvision(stem)
    return [
        ("stem", stem),
        *((f"layer{i}", getattr(net, f"layer{i}")) for i in range(1, 5)),
        ("head", nn.Sequential(net.avgpool, nn.Flatten(), net.fc)),
    ]


def _basic_layer(in_planes: int, planes: int, stride: int) -> nn.Sequential:
    """Two BasicBlocks, the first with a 1x1 projection if the shape changes (as torchvision)."""
    down = None
    if stride != 1 or in_planes != planes:
        conv = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
        down = nn.Sequential(conv, nn.BatchNorm2d(planes))
    return nn.Sequential(BasicBlock(in_planes, planes, stride, down), BasicBlock(planes, planes))


def _resnet18_narrow(num_classes: int, in_channels: int) -> Stages:
    width = 16
    widths = [width, 2 * width, 4 * width, 8 * width]
    stages: Stages = [("stem", _cifar_stem(in_channels, width))]
    in_planes = width
    for i, planes in enumerate(widths, start=1):
        stages.append((f"layer{i}", _basic_layer(in_planes, planes, stride=1 if i == 1 else 2)))
        in_planes = planes
    stages.append(("head", _pool_linear_head(in_planes, num_classes)))
    for _, stage in stages:
        _init_like_torchvision(stage)
    return stages


def _vgg16_bn(num_classes: int, in_channels: int) -> Stages:
    cfg = vgg_cfgs["D"]
    features = vgg_make_layers(cfg, batch_norm=True)
    if in_channels != 3:
        features[0] = nn.Conv2d(in_channels, cfg[0], 3, padding=1)
    _init_like_torchvision(features)
    stages: Stages = []
    block: list[nn.Module] = []
    for layer in features:
        block.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            stages.append((f"block{len(stages) + 1}", nn.Sequential(*block)))
            block = []
    stages.append(("head", _pool_linear_head(512, num_classes)))
    return stages


_RESNET_STAGES = ("stem", "layer1", "layer2", "layer3", "layer4", "head")

MODELS: dict[str, ModelSpec] = {
    "cnn": ModelSpec(
        _cnn, ("conv1", "conv2", "head"), "conv1",
        "small 2-conv CNN for 8x8 digits or any small image"),
    "resnet18": ModelSpec(
        _resnet18, _RESNET_STAGES, "layer1",
        "ResNet-18, CIFAR stem, for 32x32 images (GPU-sized)"),
    "resnet18_narrow": ModelSpec(
        _resnet18_narrow, _RESNET_STAGES, "layer1",
        "ResNet-18, width 16, CIFAR stem, for 32x32 images (CPU-sized)"),
    "vgg16_bn": ModelSpec(
        _vgg16_bn, ("block1", "block2", "block3", "block4", "block5", "head"), "block2",
        "VGG-16 with batch norm and a CIFAR head, for 32x32 images (the paper's main model)"),
}


def _spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ConfigError("model", name, f"one of {', '.join(MODELS)}")
    return MODELS[name]


def cut_points(name: str) -> tuple[str, ...]:
    """The stage names model ``name`` can be cut after (every stage but the head)."""
    return _spec(name).cut_points


def build_split_model(
    name: str,
    num_classes: int,
    input_shape: tuple[int, int, int],
    cut_layer: str | None = None,
    seed: int = 0,
) -> SplitModel:
    """Build model ``name`` for inputs of shape (C, H, W), cut after ``cut_layer``.

    ``cut_layer`` defaults to the model's default cut. ``seed`` fixes the initial
    weights; the cut does not change them.
    """
    spec = _spec(name)
    cut = spec.default_cut if cut_layer is None else cut_layer
    if cut not in spec.cut_points:
        allowed = f"one of {', '.join(spec.cut_points)} for model {name}"
        raise ConfigError("cut_layer", cut, allowed)
    if not _is_int(num_classes) or num_classes < 1:
        raise ConfigError("num_classes", num_classes, "an integer >= 1")
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
            and all(_is_int(d) and d >= 1 for d in input_shape)):
        allowed = "three positive integers (channels, height, width)"
        raise ConfigError("input_shape", input_shape, allowed)
    input_shape = tuple(int(d) for d in input_shape)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        stages = spec.builder(num_classes, input_shape[0])
    split = [n for n, _ in stages].index(cut) + 1
    client, server = OrderedDict(stages[:split]), OrderedDict(stages[split:])
    model = SplitModel(name, cut, nn.Sequential(client), nn.Sequential(server))
    _check_input_fits(model, input_shape)
    return model


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_input_fits(model: SplitModel, input_shape: tuple[int, int, int]) -> None:
    """Dry forward of a zero batch of 2 in eval mode; a ConfigError if the model cannot take it."""
    full = model.full().eval()
    try:
        with torch.no_grad():
            full(torch.zeros(2, *input_shape))
    except (RuntimeError, ValueError) as exc:
        allowed = f"a model that accepts input shape {input_shape} ({exc})"
        raise ConfigError("model", model.name, allowed) from None
    finally:
        full.train()
