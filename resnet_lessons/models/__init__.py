"""Every network of the course, written out block by block.

- :mod:`.shortcuts`: the shortcut options A (:class:`IdentityPadding`), B (:class:`ConvProjection`) and "pool".
- :mod:`.blocks`: :class:`BasicBlock`, :class:`Bottleneck`, :class:`ResNeXtBottleneck` and their plain twins.
- :mod:`.cifar`: ResNet-20 ... 1202 and plain twins (:func:`cifar_resnet` for any depth 6n+2), ResNeXt-29.
- :mod:`.preact`: the pre-activation ResNets, PreAct-ResNet-20/56/110/164 (:func:`preact_cifar_resnet`).
- :mod:`.imagenet`: ResNet-18 ... 152, ResNeXt-50/101, Wide ResNet-50-2, state_dict-compatible with torchvision.
- :mod:`.vgg`: the small modules whose parameters seed lesson 004 counts.
- :mod:`.registry`: :func:`build_model`, :func:`list_models` and :func:`display_name` (one name per model).
"""

from .blocks import (
    PLAIN_BLOCKS,
    RESIDUAL_BLOCKS,
    BasicBlock,
    Bottleneck,
    PlainBasicBlock,
    PlainBottleneck,
    PlainResNeXtBottleneck,
    ResNeXtBottleneck,
    block_stride,
    bottleneck_width,
    check_block_class,
    check_input,
    conv1x1,
    conv3x3,
    init_weights,
    make_layer,
    residual_blocks,
)
from .cifar import CifarResNet, CifarResNeXt, blocks_per_stage, cifar_resnet
from .imagenet import ResNet
from .preact import PreActBasicBlock, PreActBottleneck, PreActCifarResNet, preact_cifar_resnet
from .registry import build_model, display_name, list_models
from .shortcuts import SHORTCUT_OPTIONS, AvgPoolPadding, ConvProjection, IdentityPadding, make_shortcut
from .vgg import BiasBottleneck, TwoConvBlock, resnet_stem, vgg_front

__all__ = [
    "PLAIN_BLOCKS", "RESIDUAL_BLOCKS", "SHORTCUT_OPTIONS", "AvgPoolPadding", "BasicBlock", "BiasBottleneck",
    "Bottleneck", "CifarResNeXt", "CifarResNet", "ConvProjection", "IdentityPadding", "PlainBasicBlock",
    "PlainBottleneck", "PlainResNeXtBottleneck", "PreActBasicBlock", "PreActBottleneck", "PreActCifarResNet",
    "ResNeXtBottleneck", "ResNet", "TwoConvBlock", "block_stride", "blocks_per_stage", "bottleneck_width",
    "build_model", "display_name", "check_block_class", "check_input", "cifar_resnet", "conv1x1", "conv3x3",
    "init_weights", "list_models", "make_layer", "make_shortcut", "preact_cifar_resnet", "residual_blocks",
    "resnet_stem", "vgg_front",
]
