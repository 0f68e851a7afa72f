import pytest
import torch

from hourglass_core.errors import ConfigError
from hourglass_core.split_models import MODELS, build_split_model, cut_points

CIFAR = (3, 32, 32)
SHAPES = {"cnn": (1, 8, 8), "resnet18": CIFAR, "resnet18_narrow": CIFAR, "vgg16_bn": CIFAR}
NUM_CLASSES = 10


@pytest.fixture(scope="module")
def full_models():
    """One model per name at its default cut (seed 0)."""
    return {name: build_split_model(name, NUM_CLASSES, SHAPES[name]) for name in MODELS}


def test_shapes_cover_every_model():
    assert set(SHAPES) == set(MODELS)


def test_cut_points_listed():
    assert cut_points("cnn") == ("conv1", "conv2")
    assert cut_points("resnet18") == ("stem", "layer1", "layer2", "layer3", "layer4")
    assert cut_points("resnet18_narrow") == cut_points("resnet18")
    assert cut_points("vgg16_bn") == ("block1", "block2", "block3", "block4", "block5")
    defaults = {name: spec.default_cut for name, spec in MODELS.items()}
    assert defaults == {
        "cnn": "conv1", "resnet18": "layer1", "resnet18_narrow": "layer1", "vgg16_bn": "block2"
    }


@pytest.mark.parametrize("name", list(MODELS))
def test_built_stages_match_spec(name, full_models):
    m = full_models[name]
    assert m.cut_layer == MODELS[name].default_cut
    assert tuple(n for n, _ in m.full().named_children()) == MODELS[name].stages


@pytest.mark.parametrize("name,cut", [(n, c) for n in MODELS for c in cut_points(n)])
def test_client_then_server_equals_full(name, cut, full_models):
    m = build_split_model(name, NUM_CLASSES, SHAPES[name], cut_layer=cut)
    assert m.cut_layer == cut
    assert list(m.client.named_children())[-1][0] == cut
    full = m.full()
    # The cut does not change the weights: same seed, same full network at every cut.
    reference = full_models[name].full().state_dict()
    assert all(torch.equal(v, reference[k]) for k, v in full.state_dict().items())
    assert full.state_dict().keys() == reference.keys()

    x = torch.randn(2, *SHAPES[name], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for train in (False, True):  # train mode: batch norm uses the batch's statistics
            full.train(train)
            split_out = m.server(m.client(x))
            full_out = full(x)
            assert split_out.shape == (2, NUM_CLASSES)
            torch.testing.assert_close(split_out, full_out, rtol=0, atol=1e-6)


def test_full_shares_modules():
    m = build_split_model("cnn", 3, (1, 8, 8))
    assert m.full().conv1 is m.client.conv1 and m.full().head is m.server.head


@pytest.mark.parametrize("name", ["cnn", "resnet18_narrow"])
def test_seed_fixes_weights(name):
    def weights(seed):
        return build_split_model(name, NUM_CLASSES, SHAPES[name], seed=seed).full().state_dict()

    a, b, c = weights(3), weights(3), weights(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_seed_does_not_touch_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_split_model("cnn", NUM_CLASSES, (1, 8, 8), seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_cnn_takes_other_small_images():
    m = build_split_model("cnn", 10, (3, 32, 32), cut_layer="conv2")
    assert m.server(m.client(torch.zeros(4, 3, 32, 32))).shape == (4, 10)


def test_unknown_model():
    with pytest.raises(ConfigError) as e:
        build_split_model("alexnet", 10, (3, 32, 32))
    assert e.value.param == "model" and "vgg16_bn" in e.value.allowed
    with pytest.raises(ConfigError) as e:
        cut_points("alexnet")
    assert e.value.param == "model"


def test_unknown_cut():
    with pytest.raises(ConfigError) as e:
        build_split_model("vgg16_bn", 10, (3, 32, 32), cut_layer="head")
    assert e.value.param == "cut_layer" and e.value.value == "head"
    assert "block5" in e.value.allowed and "vgg16_bn" in e.value.allowed


def test_input_shape_that_does_not_fit():
    with pytest.raises(ConfigError) as e:
        build_split_model("vgg16_bn", 10, (1, 8, 8))
    assert e.value.param == "model" and "(1, 8, 8)" in e.value.allowed


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": 2.0}, "num_classes"),
        ({"input_shape": (8, 8)}, "input_shape"),
        ({"input_shape": 8}, "input_shape"),
        ({"input_shape": (1, 0, 8)}, "input_shape"),
    ],
)
def test_bad_sizes(kwargs, param):
    args = {"name": "cnn", "num_classes": 10, "input_shape": (1, 8, 8), **kwargs}
    with pytest.raises(ConfigError) as e:
        build_split_model(**args)
    assert e.value.param == param
