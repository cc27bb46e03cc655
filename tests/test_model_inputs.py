"""Bad model arguments and inputs get the course's clear errors, not PyTorch's raw ones."""

import pytest
import torch

from resnet_lessons.models import build_model


@pytest.mark.parametrize("name", ["resnet8", "resnext29_8x64d", "resnet18"])
@pytest.mark.parametrize("bad", [-1, 0, 1, 2.5, True])
def test_a_bad_number_of_classes_is_refused(name, bad):
    with pytest.raises(ValueError, match="num_classes must be a whole number of classes"):
        with torch.device("meta"):
            build_model(name, num_classes=bad)


def test_float64_images_are_refused_with_the_fix():
    model = build_model("resnet8").eval()
    with pytest.raises(TypeError, match=r"weights are torch.float32 but the images are torch.float64.*x.float\(\)"):
        model(torch.zeros(2, 3, 32, 32, dtype=torch.float64))
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)  # float32 is fine
    assert model.double()(torch.zeros(2, 3, 32, 32, dtype=torch.float64)).dtype == torch.float64  # both float64 too
