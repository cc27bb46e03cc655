"""Parameter and operation counts: formulas against PyTorch and torchinfo, seed lesson 004, torchvision's FLOPs."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from resnet_lessons.counting import (
    LayerRow,
    batchnorm_params,
    compare_table,
    conv_params,
    count_flops,
    count_macs,
    count_parameters,
    count_parameters_by_formula,
    layer_rows,
    layer_table,
    linear_params,
    summary,
)
from resnet_lessons.models import (
    BiasBottleneck,
    CifarResNeXt,
    TwoConvBlock,
    build_model,
    cifar_resnet,
    resnet_stem,
    vgg_front,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one intra-op thread is faster, and two pytest-xdist workers on two cores don't fight."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------
# formulas
# ---------------------------------------------------------------------------------------------


def test_conv_formula():
    assert conv_params(3, 64, 3, bias=True) == 3 * 64 * 3 * 3 + 64 == 1_792
    assert conv_params(3, 64, 7) == 9_408
    assert conv_params(128, 128, 3, groups=32) == 4 * 128 * 9 == 4_608
    assert conv_params(16, 32, (1, 3), bias=True) == 16 * 32 * 3 + 32
    for layer in [nn.Conv2d(12, 24, 3, groups=4, bias=True), nn.Conv2d(5, 7, (3, 1), bias=False)]:
        expected = conv_params(layer.in_channels, layer.out_channels, layer.kernel_size, layer.groups,
                               layer.bias is not None)
        assert count_parameters(layer) == expected
    assert linear_params(2048, 1000) == count_parameters(nn.Linear(2048, 1000)) == 2_049_000
    assert batchnorm_params(64) == count_parameters(nn.BatchNorm2d(64)) == 128


def test_conv_formula_refuses_groups_that_do_not_divide():
    with pytest.raises(ValueError, match="Valid groups: 1, 2, 4, 8, 16, 32, 64"):
        conv_params(64, 64, 3, groups=5)


# ---------------------------------------------------------------------------------------------
# seed lesson 004
# ---------------------------------------------------------------------------------------------

SEED_004 = {
    "VGG's first four convs": (vgg_front, (1, 3, 224, 224), 260_160),
    "ResNet's 7x7 stem": (resnet_stem, (1, 3, 224, 224), 9_472),
    "plain two-conv block 64->64": (TwoConvBlock, (1, 64, 56, 56), 73_856),
    "bottleneck 64->64": (BiasBottleneck, (1, 64, 56, 56), 45_248),
    "projecting bottleneck 64->128": (lambda: BiasBottleneck(64, 64, 128, stride=2), (1, 64, 56, 56), 57_728),
}


@pytest.mark.parametrize("name", list(SEED_004))
def test_seed_004_counts(name):
    build, size, expected = SEED_004[name]
    module = build()
    assert count_parameters(module) == count_parameters_by_formula(module) == expected
    assert summary(module, size).total_params == expected
    assert layer_table(module, size).splitlines()[-1].startswith(f"total: {expected:,} by formula, {expected:,}")


def test_seed_004_formulas_as_the_lesson_writes_them():
    assert (conv_params(3, 64, 3, bias=True) + conv_params(64, 64, 3, bias=True)
            + conv_params(64, 128, 3, bias=True) + conv_params(128, 128, 3, bias=True)) == 260_160
    assert conv_params(3, 64, 7, bias=True) == 9_472
    assert 2 * conv_params(64, 64, 3, bias=True) == 73_856
    assert conv_params(64, 64, 1, bias=True) * 2 + conv_params(64, 64, 3, bias=True) == 45_248
    assert (conv_params(64, 64, 1, bias=True) + conv_params(64, 64, 3, bias=True)
            + 2 * conv_params(64, 128, 1, bias=True)) == 57_728
    assert count_parameters(resnet_stem(bias=False)) == 9_408
    out = BiasBottleneck(64, 64, 128, stride=2)(torch.zeros(1, 64, 56, 56))
    assert out.shape == (1, 128, 28, 28)


def test_compare_table_side_by_side():
    table = compare_table({"VGG front": vgg_front(), "ResNet stem": resnet_stem()}, (1, 3, 224, 224))
    lines = table.splitlines()
    assert lines[0].split() == ["model", "input", "output", "parameters", "multiply-adds"]
    assert "260,160" in lines[2] and "[1, 128, 56, 56]" in lines[2] and "4.71 G" in lines[2]
    assert "9,472" in lines[3] and "118.0 M" in lines[3]
    blocks = {"two convs": TwoConvBlock(), "bottleneck": BiasBottleneck(), "stage": cifar_resnet(8)}
    sizes = {"two convs": (64, 56, 56), "bottleneck": (64, 56, 56), "stage": (1, 3, 32, 32)}
    table = compare_table(blocks, sizes)
    assert "73,856" in table and "45,248" in table and "231.2 M" in table and "[1, 10]" in table


# ---------------------------------------------------------------------------------------------
# whole networks: formula = numel = torchinfo
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [
    lambda: cifar_resnet(20),
    lambda: cifar_resnet(20, "B"),
    lambda: cifar_resnet(20, plain=True),
    lambda: CifarResNeXt(depth=11, cardinality=4, width_per_group=4, group_first_conv=True),
], ids=["resnet20-A", "resnet20-B", "plain20", "resnext11-quirk"])
def test_formula_numel_and_torchinfo_agree(model):
    model = model()
    stats = summary(model, (1, 3, 32, 32))
    assert count_parameters_by_formula(model) == count_parameters(model) == stats.total_params
    rows = layer_rows(model, (1, 3, 32, 32))
    assert all(isinstance(r, LayerRow) and r.ok for r in rows)
    # multiply-adds by formula, layer by layer, add up to what torch's flop counter finds
    assert sum(r.macs or 0 for r in rows) == count_macs(model, (1, 3, 32, 32))


def test_every_family_by_formula():
    """One network of each kind (the others repeat the same layers): formula sum = sum(p.numel())."""
    small = [build_model(name) for name in ("resnet20", "plain20", "resnet50_lab10")] + [cifar_resnet(8, "B")]
    with torch.device("meta"):  # shapes only
        large = [build_model(name) for name in ("resnext29_8x64d", "resnet18", "resnet50", "wide_resnet50_2",
                                                 "plain34")]
        large.append(build_model("resnext50_32x4d", group_first_conv=True))
    for model in small + large:
        assert count_parameters_by_formula(model) == count_parameters(model)


def test_layer_table_reads_like_the_paper():
    table = layer_table(cifar_resnet(8), (1, 3, 32, 32))
    assert "layer2.0.conv1  Conv2d" in table and "16 x 32 x 3 x 3" in table and "[1, 32, 16, 16]" in table
    assert "fc" in table and "64 x 10 + 10" in table and "DIFFERENT" not in table
    grouped = layer_table(CifarResNeXt(depth=11, cardinality=8, width_per_group=4))
    assert "(32 / 8) x 32 x 3 x 3" in grouped


def test_trainable_only():
    model = cifar_resnet(8)
    for p in model.fc.parameters():
        p.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == count_parameters(model) - 650


# ---------------------------------------------------------------------------------------------
# FLOPs and multiply-adds
# ---------------------------------------------------------------------------------------------

TORCHVISION_WEIGHTS = {
    "resnet18": torchvision.models.ResNet18_Weights,
    "resnet34": torchvision.models.ResNet34_Weights,
    "resnet50": torchvision.models.ResNet50_Weights,
    "resnet101": torchvision.models.ResNet101_Weights,
    "resnet152": torchvision.models.ResNet152_Weights,
    "resnext50_32x4d": torchvision.models.ResNeXt50_32X4D_Weights,
    "resnext101_32x8d": torchvision.models.ResNeXt101_32X8D_Weights,
    "wide_resnet50_2": torchvision.models.Wide_ResNet50_2_Weights,
}


def test_multiply_adds_match_torchvisions_gflops():
    """torchvision's docs list multiply-adds as "GFLOPS": ResNet-50 4.09, ResNeXt-50 32x4d 4.23."""
    assert TORCHVISION_WEIGHTS["resnet50"].DEFAULT.meta["_ops"] == pytest.approx(4.09, abs=0.01)
    assert TORCHVISION_WEIGHTS["resnext50_32x4d"].DEFAULT.meta["_ops"] == pytest.approx(4.23, abs=0.01)
    with torch.device("meta"):  # shapes only: the counter needs no real arithmetic
        for name in ("resnet18", "resnet34", "resnet50", "resnext50_32x4d", "wide_resnet50_2"):
            weights = TORCHVISION_WEIGHTS[name]
            model = build_model(name)
            macs = count_macs(model, (1, 3, 224, 224))
            assert macs / 1e9 == pytest.approx(weights.DEFAULT.meta["_ops"], rel=0.01), name
            assert count_parameters(model) == weights.DEFAULT.meta["num_params"], name


def test_flops_are_two_per_multiply_add_and_grow_with_the_batch():
    model = cifar_resnet(8)
    flops = count_flops(model, (1, 3, 32, 32))
    assert flops == 2 * count_macs(model, (3, 32, 32))
    assert count_flops(model, (4, 3, 32, 32)) == 4 * flops
    # the first conv alone: 32 x 32 outputs x 16 filters x 27 multiply-adds each
    assert count_macs(model.conv1, (1, 3, 32, 32)) == 32 * 32 * 16 * 27


def test_counting_leaves_the_model_as_it_was():
    model = cifar_resnet(8).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_flops(model, (2, 3, 32, 32))
    layer_table(model, (2, 3, 32, 32))
    summary(model, (2, 3, 32, 32))
    compare_table({"m": model}, (2, 3, 32, 32))
    assert model.training and all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_bad_input_size():
    for size in [(32, 32), (1, 3, 32, 32, 1), (1, 3, 0, 32), "32"]:
        with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
            count_flops(cifar_resnet(8), size)


def test_summary_prints_unit_letters_not_enum_names():
    text = str(summary(cifar_resnet(20), (1, 3, 32, 32)))
    assert "Units." not in text
    assert "Total mult-adds (M): " in text
