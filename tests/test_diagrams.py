"""Diagrams are drawn from the modules: they name the real layers and shapes, and change with the module."""

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from resnet_lessons import diagrams
from resnet_lessons.models import BasicBlock, Bottleneck, ResNeXtBottleneck, cifar_resnet, make_shortcut


def test_residual_block_names_resnet20s_layers_and_shapes():
    d = diagrams.residual_block()
    assert isinstance(d.figure, Figure)
    assert d.labels == ["conv1: 3×3 conv, 16→16", "bn1: BatchNorm, 16", "relu: ReLU", "conv2: 3×3 conv, 16→16",
                        "bn2: BatchNorm, 16", "identity", "relu: ReLU"]
    assert set(d.shapes) == {"16×32×32"}


def test_option_b_block_draws_its_projection_and_the_halved_shape():
    block = BasicBlock(16, 32, stride=2, downsample=make_shortcut("B", 16, 32, 2))
    d = diagrams.block(block, (16, 32, 32))
    assert "conv1: 3×3 conv, 16→32, stride 2" in d.labels
    assert "downsample.0: 1×1 conv, 16→32, stride 2" in d.labels
    assert "downsample.1: BatchNorm, 32" in d.labels
    assert "identity" not in d.labels
    assert d.shapes[0] == "16×32×32" and d.shapes[-1] == "32×16×16"


def test_option_a_is_drawn_as_what_it_does():
    d = diagrams.block(cifar_resnet(20, shortcut="A").layer3[0], (32, 16, 16))
    assert "downsample: option A (no parameters):\nkeep x[:, :, ::2, ::2],\nadd 32 zero channels" in d.labels
    assert d.shapes[-1] == "64×8×8"


def test_option_pool_is_drawn_as_the_pool_shortcut():
    d = diagrams.block(cifar_resnet(20, shortcut="pool").layer3[0], (32, 16, 16))
    assert "downsample: pool shortcut (no parameters):\naverage 2×2 squares,\nadd 32 zero channels" in d.labels
    assert not [label for label in d.labels if "option C" in label]
    assert diagrams.shortcut_name(cifar_resnet(8, shortcut="pool").layer2[0]) == "option pool"


def test_a_block_with_other_channels_draws_other_numbers():
    narrow = diagrams.block(BasicBlock(16, 32, 2, make_shortcut("B", 16, 32, 2)), (16, 32, 32))
    wide = diagrams.block(BasicBlock(16, 48, 2, make_shortcut("B", 16, 48, 2)), (16, 32, 32))
    assert "conv2: 3×3 conv, 48→48" in wide.labels and "conv2: 3×3 conv, 32→32" not in wide.labels
    assert wide.shapes[-1] == "48×16×16" and narrow.shapes[-1] == "32×16×16"


def test_a_layer_added_to_a_block_appears_in_its_diagram():
    block = BasicBlock(16, 16)
    before = diagrams.block(block, (16, 8, 8)).labels
    block.conv2 = nn.Sequential(block.conv2, nn.Dropout(0.1))
    after = diagrams.block(block, (16, 8, 8)).labels
    assert "conv2.1: Dropout" in after and "conv2.1: Dropout" not in before


def test_shortcut_options_shows_identity_option_a_and_option_b():
    d = diagrams.shortcut_options()
    assert d.labels.count("identity") == 1
    assert any(label.startswith("downsample: option A") for label in d.labels)
    assert "downsample.0: 1×1 conv, 16→32, stride 2" in d.labels


def test_basic_vs_bottleneck_reads_the_channel_counts_from_the_modules():
    d = diagrams.basic_vs_bottleneck()
    for label in ["conv1: 3×3 conv, 64→64", "conv1: 1×1 conv, 256→64", "conv2: 3×3 conv, 64→64",
                  "conv3: 1×1 conv, 64→256"]:
        assert label in d.labels
    assert "256×56×56" in d.shapes
    wide = diagrams.basic_vs_bottleneck(bottleneck=Bottleneck(256, 64, 1, None, 128))  # Wide ResNet-50-2 (width 128)
    assert "conv1: 1×1 conv, 256→128" in wide.labels and "conv1: 1×1 conv, 256→64" not in wide.labels


def test_resnext_forms_follow_the_blocks_cardinality_and_width():
    d = diagrams.resnext_forms()
    assert "1×1, 256→4" in d.labels and "3×3, 4→4" in d.labels and "sum of 32 paths" in d.labels
    assert "concatenate: 32×4 = 128 channels" in d.labels
    assert "conv2: 3×3 conv, 128→128, 32 groups" in d.labels
    other = diagrams.resnext_forms(ResNeXtBottleneck(256, 64, cardinality=8, width_per_group=14))
    assert "conv2: 3×3 conv, 112→112, 8 groups" in other.labels
    assert "1×1, 256→14" in other.labels and "sum of 8 paths" in other.labels
    assert "1×1, 256→4" not in other.labels


def test_stage_map_of_resnet20_has_the_stem_three_stages_and_their_shapes():
    d = diagrams.stage_map()
    assert d.labels[0] == "conv1: 3×3 conv, 3→16"
    stages = [label for label in d.labels if label.startswith("layer")]
    assert stages == ["layer1: 3 × BasicBlock, 16 channels; first block: stride 1, shortcut identity",
                      "layer2: 3 × BasicBlock, 32 channels; first block: stride 2, shortcut option A",
                      "layer3: 3 × BasicBlock, 64 channels; first block: stride 2, shortcut option A"]
    assert d.shapes == ["3×32×32", "16×32×32", "16×32×32", "16×32×32", "16×32×32", "32×16×16", "64×8×8",
                        "64×1×1", "10"]


def test_stage_map_changes_with_the_network():
    d = diagrams.stage_map(cifar_resnet(8, shortcut="B", num_classes=100))
    assert "layer2: 1 × BasicBlock, 32 channels; first block: stride 2, shortcut option B" in d.labels
    assert d.labels[-1] == "fc: flatten, then fully connected, 64→100"
    assert d.shapes[-1] == "100"


def test_stage_map_of_a_plain_network_says_it_has_no_shortcuts():
    d = diagrams.stage_map(cifar_resnet(20, plain=True))
    assert "layer2: 3 × PlainBasicBlock, 32 channels; first block: stride 2, shortcut none" in d.labels


def test_drawing_leaves_the_module_as_it_was():
    model = cifar_resnet(8)
    model.train()
    before = model.bn1.running_mean.clone()
    diagrams.stage_map(model, (3, 16, 16))
    assert model.training
    assert torch.equal(model.bn1.running_mean, before)
    assert not model.bn1._forward_hooks


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="residual block"):
        diagrams.block(nn.Linear(3, 3), (3, 8, 8))
    with pytest.raises(ValueError, match=r"\[C, H, W\]"):
        diagrams.block(BasicBlock(16, 16), (1, 16, 8, 8))
    with pytest.raises(TypeError, match="ResNeXtBottleneck"):
        diagrams.resnext_forms(Bottleneck(256, 64))


def test_save_writes_a_png(tmp_path):
    path = diagrams.residual_block().save(tmp_path / "sub" / "fig2.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
