"""The pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual Networks")."""

import pytest
import torch
from torch import nn

from resnet_lessons.models import (
    BasicBlock,
    IdentityPadding,
    PreActBasicBlock,
    PreActBottleneck,
    PreActCifarResNet,
    build_model,
    list_models,
    preact_cifar_resnet,
)
from resnet_lessons.models.preact import bottleneck_blocks_per_stage, preact_shortcut


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, expected", [
    ("preact_resnet20", 269_722),
    ("preact_resnet56", 853_018),
    ("preact_resnet110", 1_727_962),
    ("preact_resnet164", 1_703_258),
])
def test_parameter_counts(name, expected):
    with torch.device("meta"):
        model = build_model(name)
    assert count(model) == expected


def test_counts_round_to_the_papers_figures():
    """The paper gives 1.7M for PreAct-ResNet-110 and PreAct-ResNet-164."""
    with torch.device("meta"):
        for name in ("preact_resnet110", "preact_resnet164"):
            assert round(count(build_model(name)) / 1e6, 1) == 1.7


def test_basic_net_moves_batchnorms_but_adds_no_parameters():
    """Same count as the original with the same shortcut, but the BatchNorms sit elsewhere."""
    pre, post = build_model("preact_resnet20"), build_model("resnet20")
    assert count(pre) == count(post)
    assert count(build_model("preact_resnet20", shortcut="B")) != count(pre)
    assert pre.layer2[0].bn1.num_features == 16 and post.layer2[0].bn1.num_features == 32  # before / after conv1
    assert pre.layer1[0].bn1 is None and not hasattr(post, "bn_final")


def test_block_is_bn_relu_conv_twice_with_nothing_after_the_addition():
    torch.manual_seed(0)
    block = PreActBasicBlock(16, 16).eval()
    for bn in (block.bn1, block.bn2):  # non-trivial statistics, so a wrong order shows
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        f = block.conv1(torch.relu(block.bn1(x)))
        f = block.conv2(torch.relu(block.bn2(f)))
        out = block(x)
    torch.testing.assert_close(out, x + f)
    assert (out < 0).any(), "no ReLU after the addition: the output can be negative"
    assert [name for name, _ in block.named_children()][:4] == ["bn1", "relu", "conv1", "bn2"]


def test_original_block_is_not_the_same_function():
    """A plausible wrong answer: the original block's order gives a different output on the same weights."""
    torch.manual_seed(0)
    pre, post = PreActBasicBlock(8, 8).eval(), BasicBlock(8, 8).eval()
    post.conv1.weight.data.copy_(pre.conv1.weight)
    post.conv2.weight.data.copy_(pre.conv2.weight)
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        assert not torch.allclose(pre(x), post(x), atol=1e-3)


def test_zero_branch_makes_the_block_the_identity():
    block = PreActBasicBlock(16, 16).eval()
    nn.init.zeros_(block.conv2.weight)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(x), x)


def test_shape_changing_block_feeds_the_preactivated_input_to_the_shortcut():
    torch.manual_seed(0)
    block = PreActBasicBlock(16, 32, 2, IdentityPadding(16, 32, 2)).eval()
    nn.init.zeros_(block.conv2.weight)  # F(x) = 0: the output is the shortcut alone
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        out = block(x)
        expected = IdentityPadding(16, 32, 2)(torch.relu(block.bn1(x)))
    torch.testing.assert_close(out, expected)
    assert out.shape == (2, 32, 4, 4)


def test_bottleneck_block_shapes_and_identity():
    block = PreActBottleneck(64, 16).eval()
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        assert block(x).shape == x.shape
        nn.init.zeros_(block.conv3.weight)
        torch.testing.assert_close(block(x), x)
    down = PreActBottleneck(64, 32, 2, preact_shortcut("B", 64, 128, 2))
    assert down(x).shape == (2, 128, 4, 4)
    assert isinstance(down.downsample, nn.Conv2d), "option B here is a 1x1 conv without BatchNorm"


def test_first_block_uses_the_stems_activation_and_the_net_ends_with_bn_relu():
    for name in ("preact_resnet20", "preact_resnet164"):
        model = build_model(name)
        assert model.layer1[0].bn1 is None
        assert all(b.bn1 is not None for b in list(model.layer1)[1:] + list(model.layer2) + list(model.layer3))
        assert isinstance(model.bn_final, nn.BatchNorm2d)
        assert model.bn_final.num_features == model.fc.in_features
    names = [name for name, _ in build_model("preact_resnet20").named_children()]
    assert names == ["conv1", "bn1", "relu", "layer1", "layer2", "layer3", "bn_final", "avgpool", "fc"]


def test_canonical_names_and_output_shapes():
    model = build_model("preact_resnet20").eval()
    state = model.state_dict()
    assert "conv1.weight" in state and "bn1.weight" in state and "fc.weight" in state
    assert "layer2.0.downsample.weight" not in state  # option A has no parameters
    assert "layer2.0.downsample.weight" in build_model("preact_resnet20", shortcut="B").state_dict()
    assert "layer1.0.downsample.weight" in build_model("preact_resnet164").state_dict()  # 16 -> 64 channels
    with torch.no_grad():
        assert model(torch.randn(3, 3, 32, 32)).shape == (3, 10)
        small = preact_cifar_resnet(11, bottleneck=True, num_classes=100).eval()
        assert small(torch.randn(2, 3, 32, 32)).shape == (2, 100)


def test_a_deep_preact_net_trains_one_step():
    torch.manual_seed(0)
    model = preact_cifar_resnet(14)
    loss = nn.functional.cross_entropy(model(torch.randn(8, 3, 32, 32)), torch.randint(0, 10, (8,)))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_registry_and_bad_names():
    for name in ("preact_resnet20", "preact_resnet56", "preact_resnet110", "preact_resnet164"):
        assert name in list_models("cifar")
    assert isinstance(build_model("preact_resnet56"), PreActCifarResNet)
    with pytest.raises(ValueError, match="unknown model 'preact_resnet21'.*preact_resnet20"):
        build_model("preact_resnet21")
    with pytest.raises(TypeError, match="accepts: shortcut, num_classes"):
        build_model("preact_resnet20", zero_init_residual=True)


def test_bad_depths_and_options():
    with pytest.raises(ValueError, match=r"6n\+2"):
        preact_cifar_resnet(21)
    with pytest.raises(ValueError, match=r"9n\+2.*164"):
        preact_cifar_resnet(57, bottleneck=True)
    with pytest.raises(ValueError, match=r"9n\+2"):
        bottleneck_blocks_per_stage(True)
    with pytest.raises(ValueError, match="unknown shortcut option 'D'"):
        build_model("preact_resnet20", shortcut="D")
    with pytest.raises(ValueError, match="changes the shape of x"):
        PreActBasicBlock(16, 32, 2)
    with pytest.raises(ValueError, match=r"expected a float batch"):
        build_model("preact_resnet20")(torch.randn(3, 32, 32))
