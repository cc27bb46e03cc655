"""Checkers of notebook 08: right answers pass, plausible wrong ones are named, placeholders are not answered."""

import pytest
import torch

from resnet_lessons.checks.interpret import check_cam, check_grad_cam
from resnet_lessons.interpret import feature_maps, grad_cam, recording
from resnet_lessons.models import cifar_resnet


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = cifar_resnet(8)
    with torch.no_grad():
        model(torch.randn(16, 3, 32, 32))  # BatchNorm statistics that are not the initial ones
    model.eval()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    predicted = int(model(x).argmax())
    target = (predicted + 1) % 10
    return model, x, target


def by_hand(model, x, target):
    maps = feature_maps(model, x, "layer3")[0]
    return torch.einsum("k,khw->hw", model.fc.weight[target].detach(), maps)


def test_a_right_cam_passes_in_either_shape(setup, capsys):
    model, x, target = setup
    assert check_cam(by_hand(model, x, target), model, x, target)
    assert check_cam(by_hand(model, x, target)[None], model, x, target)
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize("mistake, message", [
    (lambda m, x, t: feature_maps(m, x, "layer3")[0].mean(dim=0), "plain mean"),
    (lambda m, x, t: by_hand(m, x, int(m(x).argmax())), "predicted class"),
    (lambda m, x, t: torch.relu(by_hand(m, x, t)), "clipped"),
    (lambda m, x, t: by_hand(m, x, t) + m.fc.bias[t].detach(), "includes the bias"),
    (lambda m, x, t: by_hand(m, x, t) / 64, "divided by the number of pixels"),
    (lambda m, x, t: torch.nn.functional.interpolate(by_hand(m, x, t)[None, None], size=32)[0, 0], "32 x 32"),
    (lambda m, x, t: by_hand(m, x, t).T, "differs from"),
])
def test_wrong_cams_are_named(setup, capsys, mistake, message):
    model, x, target = setup
    with torch.no_grad():
        answer = mistake(model, x, target)
    verdict = check_cam(answer, model, x, target)
    assert not verdict and verdict.answered
    assert message in capsys.readouterr().out


def test_an_unanswered_cam_is_not_answered(setup, capsys):
    model, x, target = setup
    verdict = check_cam(None, model, x, target)
    assert not verdict and not verdict.answered
    assert "Not answered yet" in capsys.readouterr().out


def student_grad_cam(model, x, target, layer, relu=True, average=True, backward=False):
    model.eval()
    with recording(model, layer) as rec:
        logits = model(x)
    score = logits[:, target].sum()
    if backward:
        score.backward(inputs=[*model.parameters(), rec.output], retain_graph=True)
        gradients = rec.output.grad
    else:
        (gradients,) = torch.autograd.grad(score, rec.output)
    alpha = gradients.mean(dim=(2, 3)) if average else gradients.sum(dim=(2, 3))
    heat = torch.einsum("nk,nkhw->nhw", alpha, rec.output.detach())
    return torch.relu(heat) if relu else heat


def test_a_right_grad_cam_passes_and_leaves_the_model_in_its_mode(setup, capsys):
    model, _, _ = setup
    x = torch.randn(3, 3, 32, 32)
    model.train()
    assert check_grad_cam(student_grad_cam, model, x, "layer2")
    assert model.training
    model.eval()
    assert check_grad_cam(student_grad_cam, model, x, "layer1")
    assert capsys.readouterr().out.count("Correct") == 2


@pytest.mark.parametrize("kwargs, fn, message", [
    ({"relu": False}, None, "Grad-CAM keeps only the positive part"),
    ({"average": False}, None, "256 times too large"),
    ({"backward": True}, None, "left gradients on the model's parameters"),
    ({}, lambda m, x, t, layer: torch.relu(feature_maps(m, x, layer).mean(dim=1)), "plain mean of the maps"),
    ({}, lambda m, x, t, layer: grad_cam(m, x, None, layer), "predicted class"),
    ({}, lambda m, x, t, layer: grad_cam(m, x, t, "layer3"), "should have shape (3, 16, 16)"),
    ({}, lambda m, x, t, layer: 1 / 0, "raised ZeroDivisionError"),
])
def test_wrong_grad_cams_are_named(setup, capsys, kwargs, fn, message):
    model, _, _ = setup
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    fn = fn or (lambda m, x, t, layer: student_grad_cam(m, x, t, layer, **kwargs))
    verdict = check_grad_cam(fn, model, x, "layer2")
    assert not verdict
    assert message in capsys.readouterr().out
    assert all(p.grad is None for p in model.parameters())


def test_a_grad_cam_placeholder_is_not_answered(setup, capsys):
    model, _, _ = setup
    x = torch.randn(2, 3, 32, 32)
    assert not check_grad_cam(None, model, x).answered
    assert not check_grad_cam(lambda m, x, t, layer: None, model, x).answered
    assert capsys.readouterr().out.count("Not answered yet") == 2
