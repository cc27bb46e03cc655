"""Feature maps, CAM and Grad-CAM (resnet_lessons.interpret): the identities they rest on, and that looking
inside a model leaves it as it was."""

import pytest
import torch
from torch import nn

from resnet_lessons.interpret import (
    class_activation_map,
    feature_maps,
    first_layer_filters,
    get_layer,
    grad_cam,
    layer_names,
    normalise,
    recording,
    show_feature_maps,
    show_maps,
    upsample,
)
from resnet_lessons.models import cifar_resnet


@pytest.fixture
def net():
    """A ResNet-8 whose BatchNorm statistics are not the initial ones (a few forward passes in training mode)."""
    torch.manual_seed(0)
    model = cifar_resnet(8)
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, 32, 32))
    return model.eval()


def images(n=4, seed=1):
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def hook_count(model):
    return sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules())


def test_feature_maps_have_each_stages_resolution_and_channels(net):
    x = images()
    assert feature_maps(net, x, "conv1").shape == (4, 16, 32, 32)
    assert feature_maps(net, x, "layer1").shape == (4, 16, 32, 32)
    assert feature_maps(net, x, "layer2").shape == (4, 32, 16, 16)
    assert feature_maps(net, x, "layer3").shape == (4, 64, 8, 8)
    assert feature_maps(net, x, "layer3.0.conv1").shape == (4, 64, 8, 8)


def test_feature_maps_are_what_the_network_pools_into_fc(net):
    x = images()
    pooled = feature_maps(net, x, "layer3").mean(dim=(2, 3))
    torch.testing.assert_close(net.fc(pooled), net(x))


def test_the_logit_is_the_mean_of_the_class_activation_map_plus_the_bias(net):
    x = images()
    logits = net(x).detach()
    for c in (0, 7):
        cam = class_activation_map(net, x, target=c)
        assert cam.shape == (4, 8, 8)
        torch.testing.assert_close(cam.mean(dim=(1, 2)) + net.fc.bias[c], logits[:, c])


def test_cam_defaults_to_the_predicted_class_and_takes_one_class_per_image(net):
    x = images()
    predicted = net(x).argmax(dim=1)
    torch.testing.assert_close(class_activation_map(net, x), class_activation_map(net, x, predicted))
    per_image = class_activation_map(net, x, torch.tensor([0, 1, 2, 3]))
    torch.testing.assert_close(per_image[2], class_activation_map(net, x[2:3], 2)[0])


@pytest.mark.parametrize("plain", [False, True])
def test_grad_cam_at_the_last_stage_is_cam_scaled_by_one_over_hw_and_clipped(plain):
    # With GAP + fc, d y_c / d A_kij = w_ck / (H W) at every pixel, so Grad-CAM's weights are w_c / (H W).
    torch.manual_seed(0)
    model = cifar_resnet(8, plain=plain).eval()
    x = images(6)
    for target in (None, 3):
        cam = class_activation_map(model, x, target)
        heat = grad_cam(model, x, target, "layer3")
        assert (cam < 0).any() and (cam > 0).any()  # the clipping is tested, not vacuous
        torch.testing.assert_close(heat, torch.relu(cam) / 64)


def test_grad_cam_at_an_earlier_stage_is_not_cam_and_has_that_stages_resolution(net):
    x = images()
    assert grad_cam(net, x, 1, "layer2").shape == (4, 16, 16)
    assert grad_cam(net, x, 1, "layer1").shape == (4, 32, 32)
    assert (grad_cam(net, x, 1, "layer2") >= 0).all()


def test_grad_cam_per_image_equals_one_image_at_a_time(net):
    x = images()
    together = grad_cam(net, x, torch.tensor([0, 5, 2, 9]), "layer2")
    alone = torch.cat([grad_cam(net, x[i:i + 1], t, "layer2") for i, t in enumerate([0, 5, 2, 9])])
    torch.testing.assert_close(together, alone)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_inspecting_leaves_outputs_mode_hooks_and_gradients_as_they_were(net, mode):
    net.train(mode == "train")
    x = images()
    state = {k: v.clone() for k, v in net.state_dict().items()}  # running BatchNorm statistics too
    net.eval()
    before = net(x).detach()
    net.train(mode == "train")
    feature_maps(net, x, "layer2")
    class_activation_map(net, x)
    grad_cam(net, x, None, "layer2")
    assert net.training == (mode == "train")
    assert hook_count(net) == 0
    assert all(p.grad is None for p in net.parameters())
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, state[k])
    net.eval()
    torch.testing.assert_close(net(x), before)


def test_recording_removes_its_hook_also_when_the_block_raises(net):
    with recording(net, "layer3") as rec:
        assert hook_count(net) == 1
        net(images())
    assert rec.output.shape == (4, 64, 8, 8)
    assert hook_count(net) == 0
    with pytest.raises(RuntimeError, match="stop"):
        with recording(net, "layer2"):
            raise RuntimeError("stop")
    assert hook_count(net) == 0
    with pytest.raises(ValueError):
        feature_maps(net, torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "layer2")
    assert hook_count(net) == 0 and not net.training


def test_a_bad_layer_name_is_refused_with_the_valid_names(net):
    with pytest.raises(ValueError, match=r"no layer named 'layer4'.*'layer1', 'layer2', 'layer3'.*layer_names"):
        feature_maps(net, images(), "layer4")
    with pytest.raises(ValueError, match="no layer named"):
        grad_cam(net, images(), 0, "")
    assert "layer3.0.conv1" in layer_names(net)
    assert get_layer(net, "layer3.0.conv1") is net.layer3[0].conv1


def test_bad_images_and_targets_are_refused_before_any_work(net):
    with pytest.raises(ValueError, match=r"float tensor \[N, 3, H, W\].*x\[None\]"):
        class_activation_map(net, images()[0])
    with pytest.raises(ValueError, match="uint8"):
        grad_cam(net, (images() * 50).to(torch.uint8))
    with pytest.raises(ValueError, match=r"one per image \(\[4\]\), each in 0..9"):
        class_activation_map(net, images(), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="0..9"):
        grad_cam(net, images(), 10)


def test_cam_refuses_layers_that_are_not_pooled_into_fc(net):
    with pytest.raises(ValueError, match="'layer2' outputs .* takes 64 features"):
        class_activation_map(net, images(), features="layer2")
    with pytest.raises(ValueError, match="Use grad_cam"):
        class_activation_map(net, images(), fc="layer3")


class NoPooling(nn.Module):
    """Convolutions, then a linear layer on all the pixels: no global average pooling, so no CAM."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1))
        self.fc = nn.Linear(8 * 16 * 16, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.features(x)).flatten(1))


def test_cam_needs_gap_and_fc_but_grad_cam_works_without_them():
    torch.manual_seed(0)
    model = NoPooling()
    with pytest.raises(ValueError, match="takes 2048 features"):
        class_activation_map(model, images(), features="features")
    assert grad_cam(model, images(), 0, "features").shape == (4, 16, 16)


def test_upsample_and_first_layer_filters(net):
    maps = torch.arange(4.0).view(1, 2, 2)
    assert upsample(maps, 32).shape == (1, 32, 32)
    filters = first_layer_filters(net)
    assert filters.shape == (16, 3, 3, 3)
    assert filters.amin(dim=(1, 2, 3)).allclose(torch.zeros(16))
    assert filters.amax(dim=(1, 2, 3)).allclose(torch.ones(16))
    with pytest.raises(ValueError, match="not a convolution of RGB"):
        first_layer_filters(net, "layer1.0.conv1")


def test_the_pictures_draw(net):
    import matplotlib.pyplot as plt

    uint8 = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    figure = show_maps(uint8, grad_cam(net, images(3), None, "layer2"), ["a", "b", "c"], ncols=2)
    assert len(figure.axes) == 4
    plt.close(figure)
    figure = show_feature_maps(feature_maps(net, images(1), "layer1")[0], count=16)
    assert len(figure.axes) == 16
    plt.close(figure)


def test_a_frozen_model_still_gets_grad_cam(net):
    for p in net.parameters():
        p.requires_grad_(False)
    assert grad_cam(net, images(), 0, "layer3").shape == (4, 8, 8)


def test_an_output_changed_in_place_by_the_blocks_relu_is_refused_not_misread(net):
    # bn1's output is overwritten by the block's ReLU(inplace=True): its maps would silently be the ReLU's.
    assert isinstance(net.layer2[0].relu, nn.ReLU) and net.layer2[0].relu.inplace
    for inspect in (lambda: grad_cam(net, images(), 0, "layer2.0.bn1"),
                    lambda: feature_maps(net, images(), "layer2.0.bn1")):
        with pytest.raises(ValueError, match="changed in place .* 'layer2.0'"):
            inspect()
    assert hook_count(net) == 0
    assert grad_cam(net, images(), 0, "layer2.0").shape == (4, 16, 16)
    assert feature_maps(net, images(), "layer2.0.relu").shape == (4, 32, 16, 16)


def test_normalise_gives_what_the_loader_gives():
    from resnet_lessons.loader import DeviceLoader

    uint8 = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    loader = DeviceLoader(uint8, torch.zeros(5, dtype=torch.int64), 5, mean, std, train=False, channels_last=False)
    (batch, _), = list(loader)
    torch.testing.assert_close(normalise(uint8, mean, std), batch)
