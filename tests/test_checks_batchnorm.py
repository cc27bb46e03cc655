"""The BatchNorm primer's checker: right answers pass, the usual slips are named, placeholders are not answered."""

import torch
import torch.nn.functional as F

from resnet_lessons.checks.batchnorm import check_batchnorm


def good(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    return gamma.view(1, -1, 1, 1) * (x - mean) / torch.sqrt(var + eps) + beta.view(1, -1, 1, 1)


def test_a_correct_batchnorm_passes(capsys):
    assert check_batchnorm(good)
    assert capsys.readouterr().out.startswith("Correct:")


def test_pytorchs_own_batchnorm_passes_too():
    assert check_batchnorm(lambda x, g, b, eps: F.batch_norm(x, None, None, g, b, training=True, eps=eps))


def test_placeholders_are_not_answered_yet_and_do_not_raise(capsys):
    def todo(x, gamma, beta, eps=1e-5):
        return None  # TODO

    for placeholder in (None, ..., todo):
        verdict = check_batchnorm(placeholder)
        assert not verdict and not verdict.answered
        assert capsys.readouterr().out.startswith("Not answered yet:")


def test_unbiased_variance_is_rejected_and_named(capsys):
    def unbiased(x, gamma, beta, eps=1e-5):
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = x.var(dim=(0, 2, 3), keepdim=True)  # torch's default: unbiased
        return gamma.view(1, -1, 1, 1) * (x - mean) / torch.sqrt(var + eps) + beta.view(1, -1, 1, 1)

    assert not check_batchnorm(unbiased)
    assert "unbiased variance" in capsys.readouterr().out


def test_statistics_over_the_wrong_dimensions_are_rejected_and_named(capsys):
    def batch_only(x, gamma, beta, eps=1e-5):
        mean, var = x.mean(dim=0, keepdim=True), x.var(dim=0, unbiased=False, keepdim=True)
        return gamma.view(1, -1, 1, 1) * (x - mean) / torch.sqrt(var + eps) + beta.view(1, -1, 1, 1)

    assert not check_batchnorm(batch_only)
    assert "batch only (dim 0)" in capsys.readouterr().out


def test_a_missing_eps_is_rejected_and_named(capsys):
    assert not check_batchnorm(lambda x, g, b, eps: good(x, g, b, eps=0.0))
    assert "leaves out eps" in capsys.readouterr().out


def test_swapped_gamma_and_beta_are_named(capsys):
    assert not check_batchnorm(lambda x, g, b, eps: good(x, b, g, eps))
    assert "swaps gamma and beta" in capsys.readouterr().out


def test_an_unknown_mistake_says_where_it_differs(capsys):
    assert not check_batchnorm(lambda x, g, b, eps: good(x, g, b, eps) + 0.1)
    assert "differs from PyTorch's BatchNorm by up to 0.1" in capsys.readouterr().out


def test_broken_code_gives_a_verdict_not_an_exception(capsys):
    def broken(x, gamma, beta, eps=1e-5):
        return x.mean(dim=(0, 2, 3)) * gamma.view(1, -1, 1, 1) + undefined_name  # noqa: F821

    assert not check_batchnorm(broken)
    assert "raised NameError" in capsys.readouterr().out


def test_a_wrong_shape_is_explained(capsys):
    assert not check_batchnorm(lambda x, g, b, eps: x.mean(dim=(0, 2, 3)))
    assert "keeps the shape" in capsys.readouterr().out
