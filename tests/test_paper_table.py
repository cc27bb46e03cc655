"""The ResNet paper's Table 1, rebuilt from the package's ImageNet networks."""

import pytest

from resnet_lessons.models import build_model
from resnet_lessons.paper_table import imagenet_table, stage_notation, stage_output_sizes


@pytest.fixture(scope="module")
def nets():
    return {18: build_model("resnet18"), 50: build_model("resnet50")}


def test_stage_sizes_follow_the_paper_and_leave_the_mode_alone(nets):
    model = nets[18].train()
    sizes = stage_output_sizes(model)
    assert sizes == {"conv1": "112×112", "layer1": "56×56", "layer2": "28×28", "layer3": "14×14", "layer4": "7×7"}
    assert model.training and not model.conv1._forward_hooks  # mode restored, hooks removed


def test_stage_notation_of_basic_and_bottleneck_stages(nets):
    assert stage_notation(nets[18].layer1) == "[3×3, 64; 3×3, 64] × 2"
    assert stage_notation(nets[50].layer1) == "[1×1, 64; 3×3, 64; 1×1, 256] × 3"
    assert stage_notation(nets[50].layer3) == "[1×1, 256; 3×3, 256; 1×1, 1024] × 6"


def test_imagenet_table_rows(nets):
    rows = imagenet_table(nets).splitlines()
    assert rows[0] == "| layer name | output size | 18-layer | 50-layer |"
    assert rows[2] == "| conv1 | 112×112 | 7×7, 64, stride 2 | 7×7, 64, stride 2 |"
    assert rows[3].startswith("| conv2_x | 56×56 | 3×3 max pool, stride 2<br>[3×3, 64; 3×3, 64] × 2 |")
    assert rows[6] == "| conv5_x | 7×7 | [3×3, 512; 3×3, 512] × 2 | [1×1, 512; 3×3, 512; 1×1, 2048] × 3 |"
    assert "average pool, 1000-d fc, softmax" in rows[7]
    assert rows[8] == "| multiply-adds |  | 1.81×10⁹ | 4.09×10⁹ |"  # the paper: 1.8 and 3.8 (its v1 layout) ×10⁹
