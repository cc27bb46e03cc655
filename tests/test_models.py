"""The model zoo: blocks, shortcut options, CIFAR and ImageNet networks, the registry, and bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models import resnet as tv_resnet

from resnet_lessons.checks import randomise_batchnorm  # the checkers' own: one randomiser for both
from resnet_lessons.models import (
    PLAIN_BLOCKS,
    RESIDUAL_BLOCKS,
    AvgPoolPadding,
    BasicBlock,
    Bottleneck,
    CifarResNet,
    CifarResNeXt,
    ConvProjection,
    IdentityPadding,
    PlainBasicBlock,
    PlainBottleneck,
    PlainResNeXtBottleneck,
    ResNet,
    ResNeXtBottleneck,
    build_model,
    cifar_resnet,
    display_name,
    list_models,
    make_layer,
    make_shortcut,
    residual_blocks,
)
from resnet_lessons.models.shortcuts import SHORTCUT_OPTIONS, check_shortcut_option


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one intra-op thread is faster, and two pytest-xdist workers on two cores don't fight."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


TINY = {"widths": (8, 16, 32, 64)}  # ImageNet layouts with few channels: the same blocks, quick to build


def image_batch(n: int = 2, size: int = 32, channels: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


def conv_order_in_forward(model: nn.Module, x: torch.Tensor) -> list[str]:
    names = {m: name for name, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)}
    order: list[str] = []
    hooks = [m.register_forward_hook(lambda m, i, o: order.append(names[m])) for m in names]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    return order


# ---------------------------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------------------------


def test_basic_block_is_torchvisions():
    torch.manual_seed(0)
    for inplanes, planes, stride in [(16, 16, 1), (16, 32, 2)]:
        ours = BasicBlock(inplanes, planes, stride,
                          make_shortcut("B", inplanes, planes, stride) if stride != 1 else None)
        ds = nn.Sequential(tv_resnet.conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes)) if stride != 1 else None
        theirs = tv_resnet.BasicBlock(inplanes, planes, stride, ds)
        randomise_batchnorm(theirs)
        ours.load_state_dict(theirs.state_dict(), strict=True)
        x = image_batch(2, 8, inplanes)
        torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))
        assert [n for n, _ in ours.named_children()][:5] == ["conv1", "bn1", "relu", "conv2", "bn2"]


def test_bottleneck_puts_the_stride_on_the_3x3_and_is_torchvisions():
    torch.manual_seed(0)
    ours = Bottleneck(256, 128, 2, make_shortcut("B", 256, 512, 2))
    assert ours.conv1.stride == (1, 1) and ours.conv2.stride == (2, 2) and ours.conv3.stride == (1, 1)
    assert ours.conv2.kernel_size == (3, 3) and ours.conv3.out_channels == 512
    ds = nn.Sequential(tv_resnet.conv1x1(256, 512, 2), nn.BatchNorm2d(512))
    theirs = tv_resnet.Bottleneck(256, 128, 2, ds)
    randomise_batchnorm(theirs)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = image_batch(2, 8, 256)
    out = ours.eval()(x)
    assert out.shape == (2, 512, 4, 4)
    torch.testing.assert_close(out, theirs.eval()(x))


def test_resnext_bottleneck_groups_only_the_3x3_as_torchvision():
    torch.manual_seed(0)
    ours = ResNeXtBottleneck(256, 64, cardinality=32, width_per_group=4)
    assert ours.conv2.groups == 32 and ours.conv1.groups == 1 and ours.conv3.groups == 1
    assert ours.conv2.in_channels == 128  # the paper's "3x3, 128, C=32"
    theirs = tv_resnet.Bottleneck(256, 64, groups=32, base_width=4)
    randomise_batchnorm(theirs)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = image_batch(2, 8, 256)
    torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))


def test_group_first_conv_is_seed_002s_quirk():
    paper = ResNeXtBottleneck(256, 64, cardinality=32, width_per_group=4)
    quirk = ResNeXtBottleneck(256, 64, cardinality=32, width_per_group=4, group_first_conv=True)
    assert quirk.conv1.groups == 32 and quirk.conv2.groups == 32
    # conv1 has 256 x 128 weights in the paper's block and 32 times fewer in the quirk's
    assert n_params(paper) - n_params(quirk) == 256 * 128 - 256 * 128 // 32
    assert quirk(image_batch(2, 4, 256)).shape == (2, 256, 4, 4)
    with torch.device("meta"):
        net = build_model("resnext50_32x4d")
        net_quirk = build_model("resnext50_32x4d", group_first_conv=True)
    first_convs = [b.conv1 for _, b in residual_blocks(net)]
    saved = sum(c.weight.numel() * (1 - 1 / 32) for c in first_convs)
    assert n_params(net) - n_params(net_quirk) == saved


@pytest.mark.parametrize(("residual", "plain", "kwargs"), [
    (BasicBlock, PlainBasicBlock, {}),
    (Bottleneck, PlainBottleneck, {}),
    (ResNeXtBottleneck, PlainResNeXtBottleneck, {"cardinality": 4, "width_per_group": 16}),
])
def test_plain_twin_differs_only_by_the_addition(residual, plain, kwargs):
    torch.manual_seed(0)
    channels = 16 * residual.expansion
    res_block, plain_block = residual(channels, 16, **kwargs), plain(channels, 16, **kwargs)
    assert [n for n, _ in res_block.named_parameters()] == [n for n, _ in plain_block.named_parameters()]
    randomise_batchnorm(res_block)
    plain_block.load_state_dict(res_block.state_dict(), strict=True)
    x = torch.relu(image_batch(2, 8, channels))
    res_block.eval(), plain_block.eval()
    with torch.no_grad():
        branch = plain_block(x)  # ReLU(F(x))
        # ReLU(F(x) + x) computed from the residual block's own layers
        out = res_block.relu(res_block.bn1(res_block.conv1(x)))
        out = res_block.bn2(res_block.conv2(out))
        if hasattr(res_block, "conv3"):
            out = res_block.bn3(res_block.conv3(res_block.relu(out)))
        torch.testing.assert_close(branch, torch.relu(out))
        torch.testing.assert_close(res_block(x), torch.relu(out + x))
    assert not isinstance(plain_block, RESIDUAL_BLOCKS) and isinstance(plain_block, PLAIN_BLOCKS)


def test_blocks_refuse_a_shape_change_without_a_shortcut():
    with pytest.raises(ValueError, match="downsample"):
        BasicBlock(16, 32, stride=2)
    with pytest.raises(ValueError, match="make_shortcut"):
        Bottleneck(64, 64)  # 64 -> 256 channels


# ---------------------------------------------------------------------------------------------
# shortcut options A, B, pool
# ---------------------------------------------------------------------------------------------


def test_option_a_subsamples_and_pads_with_zeros():
    x = image_batch(2, 8, 16)
    shortcut = IdentityPadding(16, 32, stride=2)
    out = shortcut(x)
    assert n_params(shortcut) == 0 and out.shape == (2, 32, 4, 4)
    torch.testing.assert_close(out[:, :16], x[:, :, ::2, ::2])
    assert not out[:, 16:].any()


def test_option_b_is_a_1x1_conv_and_batchnorm():
    shortcut = ConvProjection(16, 32, stride=2)
    assert isinstance(shortcut[0], nn.Conv2d) and shortcut[0].kernel_size == (1, 1) and shortcut[0].stride == (2, 2)
    assert isinstance(shortcut[1], nn.BatchNorm2d)
    assert n_params(shortcut) == 16 * 32 + 2 * 32
    assert list(shortcut.state_dict()) == ["0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                           "1.num_batches_tracked"]
    assert shortcut(image_batch(2, 8, 16)).shape == (2, 32, 4, 4)


def test_option_pool_averages_and_pads_with_zeros():
    x = image_batch(2, 8, 16)
    shortcut = AvgPoolPadding(16, 32, stride=2)
    out = shortcut(x)
    assert n_params(shortcut) == 0 and out.shape == (2, 32, 4, 4)
    torch.testing.assert_close(out[:, :16], F.avg_pool2d(x, 2))
    assert not out[:, 16:].any()
    # odd sizes stay in step with the branch's stride-2 convolution
    assert AvgPoolPadding(16, 32, 2)(image_batch(1, 7, 16)).shape[-1] == 4
    assert IdentityPadding(16, 32, 2)(image_batch(1, 7, 16)).shape[-1] == 4


def test_options_in_the_cifar_nets():
    nets = {option: cifar_resnet(20, option) for option in ("A", "B", "pool")}
    small = {option: cifar_resnet(8, option) for option in ("A", "B", "pool")}
    kinds = {"A": IdentityPadding, "B": ConvProjection, "pool": AvgPoolPadding}
    for option, net in nets.items():
        shortcuts = [(name, b.downsample) for name, b in residual_blocks(net) if b.downsample is not None]
        assert [name for name, _ in shortcuts] == ["layer2.0", "layer3.0"]
        assert all(type(s) is kinds[option] for _, s in shortcuts)
        assert small[option](image_batch()).shape == (2, 10)
    assert n_params(nets["A"]) == n_params(nets["pool"]) == 269_722
    # option B: one 1x1 conv + BN per downsampling block, 16->32 and 32->64
    assert n_params(nets["B"]) - n_params(nets["A"]) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64) == 2_752
    assert isinstance(build_model("resnet20", shortcut="b").layer2[0].downsample, ConvProjection)


@pytest.mark.parametrize("option", ["pool", "POOL", "Pool"])
def test_option_pool_in_any_case_builds_avgpoolpadding(option):
    assert check_shortcut_option(option) == "pool"
    assert SHORTCUT_OPTIONS == ("A", "B", "pool")
    assert isinstance(make_shortcut(option, 16, 32, 2), AvgPoolPadding)
    assert isinstance(cifar_resnet(8, option).layer2[0].downsample, AvgPoolPadding)
    assert isinstance(build_model("preact_resnet20", shortcut=option).layer2[0].downsample, AvgPoolPadding)


def test_option_pool_has_option_a_parameter_count():
    assert n_params(build_model("resnet20", shortcut="pool")) == n_params(build_model("resnet20")) == 269_722


@pytest.mark.parametrize("build", [
    lambda option: check_shortcut_option(option),
    lambda option: make_shortcut(option, 16, 32, 2),
    lambda option: cifar_resnet(20, shortcut=option),
    lambda option: build_model("resnet20", shortcut=option),
    lambda option: build_model("preact_resnet20", shortcut=option),
], ids=["check", "make_shortcut", "cifar_resnet", "build_model", "preact"])
@pytest.mark.parametrize("option", ["C", "c", "D"])
def test_an_unknown_option_is_refused_naming_the_valid_ones(build, option):
    """Option C (the paper's projections on every shortcut) is not built; the error lists A, B and pool."""
    with pytest.raises(ValueError) as info:
        build(option)
    message = str(info.value)
    assert f"unknown shortcut option {option!r}" in message
    assert "'A' (IdentityPadding" in message and "'B' (ConvProjection" in message
    assert "'pool' (AvgPoolPadding" in message


def test_an_unknown_option_is_refused_before_any_layer_is_built(monkeypatch):
    import resnet_lessons.models.cifar as cifar

    def no_work(*args, **kwargs):
        raise AssertionError("a layer was built before the shortcut option was checked")

    monkeypatch.setattr(cifar, "conv3x3", no_work)
    monkeypatch.setattr(cifar, "make_layer", no_work)
    with pytest.raises(ValueError, match="unknown shortcut option"):
        cifar_resnet(20, shortcut="C")


# ---------------------------------------------------------------------------------------------
# CIFAR networks
# ---------------------------------------------------------------------------------------------

PAPER_COUNTS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}


@pytest.mark.parametrize("depth", sorted(PAPER_COUNTS))
def test_cifar_counts_are_the_papers_and_plain_twins_match(depth):
    res, plain = build_model(f"resnet{depth}"), build_model(f"plain{depth}")
    assert n_params(res) == n_params(plain) == PAPER_COUNTS[depth]
    assert [n for n, _ in res.named_parameters()] == [n for n, _ in plain.named_parameters()]
    assert len(residual_blocks(res)) == 3 * (depth - 2) // 6 and not residual_blocks(plain)


def test_resnet1202_count_without_running_it():
    model = build_model("resnet1202")  # 19M parameters: built in a second, never run
    assert n_params(model) == 19_421_274
    assert len(residual_blocks(model)) == 600


def test_cifar_names_shapes_and_any_depth():
    model = cifar_resnet(14)
    assert [n for n, _ in model.named_children()] == ["conv1", "bn1", "relu", "layer1", "layer2", "layer3",
                                                      "avgpool", "fc"]
    assert [len(model.layer1), len(model.layer2), len(model.layer3)] == [2, 2, 2]
    shapes = {}
    for name in ("layer1", "layer2", "layer3"):
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: shapes.update({name: tuple(o.shape)}))
    assert model(image_batch(2, 32)).shape == (2, 10)
    assert shapes == {"layer1": (2, 16, 32, 32), "layer2": (2, 32, 16, 16), "layer3": (2, 64, 8, 8)}
    assert cifar_resnet(8, num_classes=100)(image_batch(2, 224)).shape == (2, 100)
    assert cifar_resnet(8, plain=True)(image_batch(2, 32)).shape == (2, 10)


def stage_channels(name: str) -> tuple[int, int, int]:
    """What the papers give for the three stages: 16/32/64 filters (basic blocks), x4 for bottlenecks."""
    if name.startswith("resnext"):  # the ResNeXt paper's CIFAR stages output 256/512/1024 at any width
        return 256, 512, 1024
    if name == "preact_resnet164":
        return 64, 128, 256
    return 16, 32, 64


@pytest.mark.parametrize("name", [n for n in list_models("cifar") if n != "resnet50_lab10"])
def test_every_stage_of_every_cifar_net_has_the_right_shape(name):
    """layer1/2/3 give C1 x 32 x 32, C2 x 16 x 16, C3 x 8 x 8, and so does every block inside them."""
    with torch.device("meta"):  # shapes only: even ResNet-1202 and ResNeXt-29 16x64d are instant
        model = build_model(name)
        x = torch.empty(2, 3, 32, 32)
    widths = stage_channels(name)
    shapes = {}
    for stage in ("layer1", "layer2", "layer3"):
        for i, block in enumerate(getattr(model, stage)):
            block.register_forward_hook(lambda m, inp, out, key=f"{stage}.{i}": shapes.update({key: tuple(out.shape)}))
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 10)
    for stage, channels, size in zip(("layer1", "layer2", "layer3"), widths, (32, 16, 8), strict=True):
        blocks = [key for key in shapes if key.startswith(stage + ".")]
        assert blocks, stage
        for key in blocks:
            assert shapes[key] == (2, channels, size, size), (name, key, shapes[key])


def test_module_order_is_forward_order():
    for model in [cifar_resnet(8, "B"), ResNet(Bottleneck, [2, 2, 2, 2], **TINY), cifar_resnet(8, plain=True)]:
        registered = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        assert conv_order_in_forward(model, image_batch(1, 32)) == registered


def test_seed_001_variant():
    model = build_model("resnet50_lab10")
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    assert [model.layer1[0].conv1.in_channels, model.layer2[0].conv2.stride, model.layer3[0].conv2.stride] == [
        16, (1, 1), (2, 2)]
    shapes = {}
    model.layer4.register_forward_hook(lambda m, i, o: shapes.update(layer4=tuple(o.shape)))
    assert model(image_batch(2, 32)).shape == (2, 10)
    assert shapes["layer4"] == (2, 512, 8, 8)
    assert model.fc.in_features == 128 * 4


def test_resnext29_counts():
    with torch.device("meta"):
        assert n_params(build_model("resnext29_8x64d")) == 34_426_698
        assert n_params(build_model("resnext29_16x64d")) == 68_155_210
        model = build_model("resnext29_8x64d")
    assert [model.layer1[0].conv2.in_channels, model.layer2[0].conv2.in_channels,
            model.layer3[0].conv2.in_channels] == [512, 1024, 2048]
    assert [model.layer1[0].conv2.groups, model.layer3[2].bn3.num_features] == [8, 1024]


def test_small_cifar_resnext_runs():
    model = CifarResNeXt(depth=11, cardinality=2, width_per_group=4)
    assert model(image_batch(2, 32)).shape == (2, 10)
    quirk = CifarResNeXt(depth=11, cardinality=2, width_per_group=4, group_first_conv=True)
    assert n_params(quirk) < n_params(model)


# ---------------------------------------------------------------------------------------------
# ImageNet networks against torchvision
# ---------------------------------------------------------------------------------------------

IMAGENET = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
            "wide_resnet50_2"]


def fill_weights(model: nn.Module, seed: int = 0) -> None:
    """Fill every tensor with random-looking values, fast (He-scaled weights, random BatchNorm statistics).

    Drawing 346M normal numbers for the eight networks would take most of the test's time; tiling a small
    random pool from a different offset for each tensor is a copy, and still tells every tensor apart.
    """
    pool = torch.randn(1 << 16, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for i, (name, t) in enumerate(model.state_dict().items()):
            if not t.is_floating_point():
                t.zero_()
                continue
            n = t.numel()
            values = pool.roll(-i * 7919).repeat(n // pool.numel() + 1)[:n].view_as(t)
            if name.endswith("running_var"):
                t.copy_(0.5 + values.abs())
            elif t.dim() == 1:
                t.copy_(0.5 + 0.5 * values.abs() if name.endswith("weight") else 0.2 * values)
            else:
                t.copy_(values * (2 / (n // t.shape[0])) ** 0.5)


@pytest.mark.parametrize("name", IMAGENET)
def test_torchvision_state_dict_round_trip(name):
    """torchvision's state_dict loads into ours with strict=True, ours into torchvision's, same outputs."""
    with torch.device("meta"):  # shapes only; the weights are filled below
        theirs = getattr(torchvision.models, name)()
    theirs = theirs.to_empty(device="cpu")
    fill_weights(theirs)
    if name in ("resnet18", "resnext50_32x4d"):  # built for real, as a user would
        ours = build_model(name)
        ours.load_state_dict(theirs.state_dict(), strict=True)
    else:  # built as shapes only, then given torchvision's tensors (load_state_dict still checks every shape)
        with torch.device("meta"):
            ours = build_model(name)
        ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    assert n_params(ours) == n_params(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = image_batch(1, 32)
    with torch.no_grad():
        expected = theirs.eval()(x)
        torch.testing.assert_close(ours.eval()(x), expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def test_imagenet_counts_and_shapes():
    with torch.device("meta"):
        assert n_params(build_model("resnet50")) == 25_557_032
        assert n_params(build_model("resnext50_32x4d")) == 25_028_904
        resnet18_10 = n_params(build_model("resnet18", num_classes=10))
    model = build_model("resnet18")
    assert model(image_batch(2, 224)).shape == (2, 1000)
    assert model(image_batch(2, 32)).shape == (2, 1000)
    plain = build_model("plain18", num_classes=10)
    projections = sum(n_params(b.downsample) for _, b in residual_blocks(model) if b.downsample is not None)
    # the paper's plain-18: the same layers without the three 1x1 projections of the shortcuts
    assert n_params(plain) == resnet18_10 - projections
    assert plain(image_batch(2, 32)).shape == (2, 10)


# ---------------------------------------------------------------------------------------------
# what stored results and checkpoints depend on: parameter counts and state_dict keys and shapes
# ---------------------------------------------------------------------------------------------

# (name, build_model kwargs, parameters, sha256 of "key:shape" lines, first 16 hex digits), recorded with the
# code of commit fcd9e83, before the models' forward passes and block attributes were rewritten. A change
# here means stored histories and saved checkpoints no longer match their networks.
STATE_DICT_FINGERPRINTS = [
    ('resnet8', {}, 75290, '955cfbbab96a266a'),
    ('resnet14', {}, 172506, 'ed5b9e28b3ccd8a3'),
    ('resnet20', {}, 269722, '2d1ebde4d7a547fe'),
    ('resnet32', {}, 464154, 'bf4235bbeb11afce'),
    ('resnet44', {}, 658586, '5566718b179d48db'),
    ('resnet56', {}, 853018, '11c7068e5f3ca8f8'),
    ('resnet110', {}, 1727962, '242f47ba46363069'),
    ('resnet1202', {}, 19421274, 'a58e384429d13a59'),
    ('plain8', {}, 75290, '955cfbbab96a266a'),
    ('plain14', {}, 172506, 'ed5b9e28b3ccd8a3'),
    ('plain20', {}, 269722, '2d1ebde4d7a547fe'),
    ('plain32', {}, 464154, 'bf4235bbeb11afce'),
    ('plain44', {}, 658586, '5566718b179d48db'),
    ('plain56', {}, 853018, '11c7068e5f3ca8f8'),
    ('plain110', {}, 1727962, '242f47ba46363069'),
    ('preact_resnet20', {}, 269722, '72c55ccffe0bdabb'),
    ('preact_resnet56', {}, 853018, '2725868ed8122b23'),
    ('preact_resnet110', {}, 1727962, '3328be9d67870fbf'),
    ('preact_resnet164', {}, 1703258, '9b9733a109d72409'),
    ('resnext11_2x4d', {}, 761290, '8901f1a85b3dd72d'),
    ('resnext29_8x4d', {}, 1717578, '84259699142962f4'),
    ('resnext29_8x64d', {}, 34426698, 'cbb07f1de8e22154'),
    ('resnext29_16x64d', {}, 68155210, '557754a178ec4ef3'),
    ('resnet50_lab10', {}, 1484186, '879b88eba671ff04'),
    ('resnet18', {}, 11689512, '3e58b0798c806a0c'),
    ('resnet34', {}, 21797672, '97e365907d64da74'),
    ('resnet50', {}, 25557032, '781bb16f43b8f96f'),
    ('resnet101', {}, 44549160, '708e8813e2eb3461'),
    ('resnet152', {}, 60192808, '9e3321003337a848'),
    ('resnext50_32x4d', {}, 25028904, '7140c3dbddac5382'),
    ('resnext101_32x8d', {}, 88791336, 'd8d4f6f347fc1097'),
    ('wide_resnet50_2', {}, 68883240, '31ec3ad967f7b3b9'),
    ('plain18', {}, 11515688, '09aae227314acfcd'),
    ('plain34', {}, 21623848, 'd398e244efc08153'),
    ('resnet20', {'shortcut': 'B'}, 272474, '301aa5a51c650404'),
    ('resnet20', {'shortcut': 'pool'}, 269722, '2d1ebde4d7a547fe'),
    ('resnext50_32x4d', {'group_first_conv': True}, 16640552, '7c424c2188911835'),
]


def _fingerprint(model: nn.Module) -> str:
    import hashlib

    text = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize(("name", "kwargs", "parameters", "fingerprint"), STATE_DICT_FINGERPRINTS,
                         ids=[f"{n}{'-' + '-'.join(map(str, k.values())) if k else ''}" for n, k, *_ in
                              STATE_DICT_FINGERPRINTS])
def test_parameter_counts_and_state_dict_keys_are_unchanged(name, kwargs, parameters, fingerprint):
    with torch.device("meta"):
        model = build_model(name, **kwargs)
    assert (n_params(model), _fingerprint(model)) == (parameters, fingerprint)


def test_every_registered_network_has_a_fingerprint():
    assert {n for n, k, *_ in STATE_DICT_FINGERPRINTS if not k} == set(list_models())


# ---------------------------------------------------------------------------------------------
# a student's own block class
# ---------------------------------------------------------------------------------------------


class StudentBlock(nn.Module):
    """A residual block written from scratch, with other layer names: make_layer and ResNet take it."""

    expansion = 1
    has_shortcut = True

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.first = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.first_bn = nn.BatchNorm2d(planes)
        self.second = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.second_bn = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.first(x)
        out = self.first_bn(out)
        out = torch.relu(out)
        out = self.second(out)
        out = self.second_bn(out)
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + identity)


class StudentPlainBlock(StudentBlock):
    has_shortcut = False

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__(inplanes, planes, stride)

    def forward(self, x):
        out = torch.relu(self.first_bn(self.first(x)))
        return torch.relu(self.second_bn(self.second(out)))


def test_a_students_block_builds_a_stage_and_a_network():
    stage = make_layer(StudentBlock, 16, 32, 3, stride=2, shortcut="B")
    assert isinstance(stage[0].downsample, ConvProjection) and stage[1].downsample is None
    assert stage(image_batch(2, 8, 16)).shape == (2, 32, 4, 4)
    plain = make_layer(StudentPlainBlock, 16, 32, 2, stride=2)
    assert plain(image_batch(2, 8, 16)).shape == (2, 32, 4, 4)
    model = ResNet(StudentBlock, [2, 2, 2, 2], **TINY)
    reference = ResNet(BasicBlock, [2, 2, 2, 2], **TINY)
    assert n_params(model) == n_params(reference)
    assert [name for name, _ in residual_blocks(model)] == [name for name, _ in residual_blocks(reference)]
    assert model(image_batch(2, 64)).shape == (2, 1000)
    with pytest.raises(ValueError, match="zero_init_residual needs shortcuts"):
        ResNet(StudentPlainBlock, [1, 1, 1, 1], zero_init_residual=True, **TINY)


def test_a_block_class_without_its_attributes_is_refused_with_what_to_add():
    class NoAttributes(nn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()

    with pytest.raises(TypeError, match="needs the class attribute.s. expansion and has_shortcut"):
        make_layer(NoAttributes, 16, 16, 2)
    with pytest.raises(TypeError, match="a block class .a subclass of nn.Module, not an instance"):
        ResNet(BasicBlock(16, 16), [1, 1, 1, 1])


def test_plain_nets_take_no_shortcut_option():
    for name in [n for n in list_models() if n.startswith("plain")]:
        with pytest.raises(TypeError, match=f"{name} is a plain network: it has no shortcuts"):
            build_model(name, shortcut="A")
    with pytest.raises(ValueError, match="takes no shortcut option"):
        cifar_resnet(20, "A", plain=True)
    assert build_model("plain20").shortcut is None and cifar_resnet(20).shortcut == "A"


def test_one_name_for_the_bottleneck_width():
    wide = Bottleneck(256, 64, width_per_group=128)  # Wide ResNet-50-2's layer1 blocks: 3x3 of 128 channels
    assert wide.conv2.in_channels == 128 and PlainBottleneck(256, 64, width_per_group=128).conv2.in_channels == 128
    for block in (BasicBlock(16, 16), wide, ResNeXtBottleneck(256, 64)):
        assert not hasattr(block, "stride")  # the convolutions hold the stride


# ---------------------------------------------------------------------------------------------
# initialisation: torchvision's (He-normal, fan_out; BatchNorm 1 and 0; zero-init of the last BN where asked)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "zero_init_residual"), [("resnet18", False), ("resnet18", True),
                                                          ("resnet50", True)])
def test_initialisation_is_torchvisions_to_the_bit(name, zero_init_residual):
    """Same seed, same modules in the same order, same init calls: the same tensors as torchvision's."""
    torch.manual_seed(0)
    ours = build_model(name, zero_init_residual=zero_init_residual)
    torch.manual_seed(0)
    theirs = getattr(torchvision.models, name)(zero_init_residual=zero_init_residual)
    theirs_state = theirs.state_dict()
    for key, value in ours.state_dict().items():
        assert torch.equal(value, theirs_state[key]), key


def _he_fan_out_std(conv: nn.Conv2d) -> float:
    fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()  # out_channels x k x k
    return (2 / fan_out) ** 0.5


@pytest.mark.parametrize("make", [lambda: cifar_resnet(20, "B"), lambda: cifar_resnet(20, plain=True),
                                  lambda: CifarResNeXt(depth=11, cardinality=2, width_per_group=4)])
def test_cifar_nets_use_he_normal_fan_out_and_fresh_batchnorm(make):
    torch.manual_seed(0)
    model = make()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    # Where in != out channels, fan_in and fan_out differ (the stem: 27 vs 144, a ratio of 2.3 in the std).
    telling = [c for c in convs if c.weight.shape[1] * c.groups != c.weight.shape[0]]
    assert telling
    for conv in telling:
        assert conv.weight.std().item() == pytest.approx(_he_fan_out_std(conv), rel=0.2), conv
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


def test_zero_init_residual_zeroes_exactly_the_last_batchnorm_of_each_branch():
    torch.manual_seed(0)
    model = cifar_resnet(14, "B", zero_init_residual=True)
    for name, bn in model.named_modules():
        if isinstance(bn, nn.BatchNorm2d):
            assert torch.all(bn.weight == (0 if name.endswith(".bn2") else 1)), name
    bottlenecks = CifarResNeXt(depth=11, cardinality=2, width_per_group=4, zero_init_residual=True)
    for name, bn in bottlenecks.named_modules():
        if isinstance(bn, nn.BatchNorm2d):
            assert torch.all(bn.weight == (0 if name.endswith(".bn3") else 1)), name


# ---------------------------------------------------------------------------------------------
# zero_init_residual
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [
    lambda: cifar_resnet(8, zero_init_residual=True),
    lambda: cifar_resnet(14, "B", zero_init_residual=True),
    lambda: cifar_resnet(14, "pool", zero_init_residual=True),
    lambda: build_model("resnet18", zero_init_residual=True),
    lambda: ResNet(Bottleneck, [2, 2, 2, 2], zero_init_residual=True, **TINY),
    lambda: ResNet(ResNeXtBottleneck, [2, 2, 2, 2], zero_init_residual=True, widths=(16, 32, 64, 128),
                   block_kwargs={"cardinality": 4, "width_per_group": 8}),
    lambda: CifarResNeXt(depth=20, cardinality=2, width_per_group=4, zero_init_residual=True),
    lambda: build_model("resnet50_lab10", zero_init_residual=True),
], ids=["resnet8-A", "resnet14-B", "resnet14-pool", "resnet18", "bottleneck", "resnext", "resnext20", "lab10"])
def test_zero_init_residual_makes_shape_keeping_blocks_identities(model):
    model = model()
    kept = [(name, b) for name, b in residual_blocks(model) if b.downsample is None]
    assert kept
    for name, block in kept:
        x = torch.relu(image_batch(2, 4, block.conv1.in_channels))
        for mode in (True, False):
            with torch.no_grad():
                torch.testing.assert_close(block.train(mode)(x), x, msg=f"{name} is not the identity")
    # and without it, they are not
    block = residual_blocks(build_model("resnet18"))[0][1]
    x = torch.relu(image_batch(2, 4, 64))
    with torch.no_grad():
        assert not torch.allclose(block.eval()(x), x)


# ---------------------------------------------------------------------------------------------
# registry and bad input
# ---------------------------------------------------------------------------------------------


def test_registry_lists_every_network():
    names = list_models()
    for name in ["resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202", "plain20", "plain32",
                 "plain44", "plain56", "plain110", "resnext29_8x64d", "resnext29_16x64d", *IMAGENET]:
        assert name in names
    assert set(list_models("cifar")) | set(list_models("imagenet")) == set(names)
    assert isinstance(build_model("resnet8"), CifarResNet) and isinstance(build_model("resnet18"), ResNet)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown model 'resnet21'") as info:
        build_model("resnet21")
    assert "resnet20" in str(info.value) and "Valid names" in str(info.value)
    with pytest.raises(TypeError, match="accepts: shortcut, num_classes, zero_init_residual"):
        build_model("resnet20", widht=2)


def test_bad_depth():
    with pytest.raises(ValueError, match=r"6n\+2.*20 and 26"):
        cifar_resnet(21)
    for depth in (2, 0, 7.0, "20"):
        with pytest.raises(ValueError, match=r"6n\+2"):
            cifar_resnet(depth)
    with pytest.raises(ValueError, match=r"9n\+2"):
        CifarResNeXt(depth=28)


def test_bad_shortcut_option():
    with pytest.raises(ValueError, match="'A'.*'B'.*'pool'"):
        cifar_resnet(20, shortcut="D")
    with pytest.raises(ValueError, match="valid options"):
        make_shortcut(None, 16, 32, 2)
    with pytest.raises(TypeError, match="no shortcuts"):
        build_model("plain20", shortcut="B")
    with pytest.raises(ValueError, match="plain"):
        cifar_resnet(20, plain=True, zero_init_residual=True)


def test_cardinality_must_divide_the_width():
    with pytest.raises(ValueError, match=r"does not divide.*\(100 in, 32 out\).*Valid values here: 1, 2, 4\."):
        ResNeXtBottleneck(100, 64, cardinality=8, width_per_group=4, downsample=make_shortcut("B", 100, 256),
                          group_first_conv=True)
    with pytest.raises(ValueError, match="does not divide"):
        CifarResNeXt(depth=11, cardinality=3, width_per_group=4, group_first_conv=True)  # 64 stem channels
    with pytest.raises(ValueError, match="whole number"):
        ResNeXtBottleneck(256, 8, cardinality=32, width_per_group=4)  # 8 * 4 / 64 = 0.5 channels per group
    with pytest.raises(ValueError, match="positive whole number"):
        ResNeXtBottleneck(256, 64, cardinality=0)


def test_bad_images():
    model = cifar_resnet(8)
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\].*unsqueeze"):
        model(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match=r"3 channels.*\(2, 1, 32, 32\)"):
        model(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="permute"):
        model(torch.randn(2, 32, 32, 3))
    with pytest.raises(TypeError, match="uint8"):
        model(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(TypeError, match="ndarray|list"):
        model([[0.0]])
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        build_model("resnet18")(torch.randn(1, 1, 3, 32, 32))


def test_bad_network_arguments():
    with pytest.raises(ValueError, match="four positive"):
        ResNet(BasicBlock, [2, 2, 2])
    with pytest.raises(TypeError, match="Conv2d needs the class attribute"):
        ResNet(nn.Conv2d, [2, 2, 2, 2])
    with pytest.raises(ValueError, match="stem"):
        ResNet(BasicBlock, [2, 2, 2, 2], stem="tiny")


@pytest.mark.parametrize(("name", "shown"), [("plain56", "plain-56"), ("resnet110", "resnet-110"),
                                             ("preact_resnet20", "preact-resnet-20"),
                                             ("resnext29_8x4d", "resnext-29 (8x4d)")])
def test_one_name_per_model_and_the_shown_name_derived_from_it(name, shown):
    assert display_name(name) == shown
    with pytest.raises(ValueError, match="unknown model 'plain-56'"):
        display_name("plain-56")  # the shown name is not a model name
