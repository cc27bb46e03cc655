"""resnet_lessons.landscape: filter-normalised directions, surfaces, interpolation, roughness, figures."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from resnet_lessons import landscape as L
from resnet_lessons.lab import landscape as landscape_command
from resnet_lessons.models import build_model, cifar_resnet


def tiny_net(seed: int = 0) -> nn.Module:
    """A small conv net with BatchNorm and an fc layer; BN statistics made non-trivial."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 10),
    )
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    # filters of very different sizes, so that normalisation has something to do
    with torch.no_grad():
        model[0].weight[0] *= 10
        model[3].weight[1] *= 0.1
    return model.eval()


def batch(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_filter_normalisation_gives_each_filter_the_networks_norm():
    model = tiny_net()
    d = L.random_direction(model, seed=3)
    for name, p in model.named_parameters():
        if p.dim() < 2:
            continue
        got = d[name].flatten(1).norm(dim=1)
        want = p.detach().flatten(1).norm(dim=1)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
        assert not torch.allclose(d[name], p.detach())  # a random direction, not the weights themselves
    # a plausible wrong answer: normalising the whole tensor instead of each filter
    w = model[0].weight.detach()
    whole = torch.randn_like(w)
    whole = whole / whole.norm() * w.norm()
    assert not torch.allclose(whole.flatten(1).norm(dim=1), w.flatten(1).norm(dim=1), rtol=1e-2)


def test_batchnorm_and_bias_parameters_are_left_out():
    model = tiny_net()
    d = L.random_direction(model, seed=0)
    assert set(d) == {name for name, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        assert d[name].shape == p.shape
        if p.dim() < 2:  # BN weight and bias, fc bias
            assert torch.count_nonzero(d[name]) == 0
        else:
            assert torch.count_nonzero(d[name]) == d[name].numel()


def test_same_seed_same_directions_other_seed_other_directions():
    model = tiny_net()
    a, b, c = L.random_direction(model, 7), L.random_direction(model, 7), L.random_direction(model, 8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.allclose(a["0.weight"], c["0.weight"])
    d1, d2 = L.random_directions_2d(model, seed=7)
    assert all(torch.equal(d1[k], a[k]) for k in a)
    assert not torch.allclose(d1["0.weight"], d2["0.weight"])


def test_filter_normalize_refuses_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        L.filter_normalize(torch.randn(3, 4), torch.randn(4, 3))
    with pytest.raises(ValueError, match="zero direction"):
        L.filter_normalize(torch.randn(5), torch.randn(5))


def test_surface_at_the_origin_is_the_networks_own_loss():
    model = tiny_net()
    images, labels = batch()
    own_loss, own_acc = L.evaluate_loss(model, images, labels)
    surface = L.surface_2d(model, images, labels, L.grid(5), L.grid(3), seed=1, batch_size=16)
    assert surface.losses.shape == (3, 5)
    assert surface.centre_loss == pytest.approx(own_loss, rel=1e-5)
    assert surface.accuracies[1, 2] == pytest.approx(own_acc)
    assert surface.losses.max() > own_loss + 1e-3  # the other points are other networks


def test_surface_point_is_the_network_moved_along_the_directions():
    model = tiny_net()
    images, labels = batch()
    d1, d2 = L.random_directions_2d(model, seed=2)
    surface = L.surface_2d(model, images, labels, [0.5], [-0.25], (d1, d2))
    moved = tiny_net()
    with torch.no_grad():
        for name, p in moved.named_parameters():
            p.add_(0.5 * d1[name] - 0.25 * d2[name])
    assert surface.losses[0, 0] == pytest.approx(L.evaluate_loss(moved, images, labels)[0], rel=1e-5)


def test_weights_are_restored_after_a_surface_even_when_interrupted():
    model = tiny_net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images, labels = batch()
    L.surface_2d(model, images, labels, L.grid(3), L.grid(3))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)

    calls = {"n": 0}

    def stop_on_third_point(module, inputs, output):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    handle = model.register_forward_hook(stop_on_third_point)
    with pytest.raises(KeyboardInterrupt):
        L.surface_2d(model, images, labels, L.grid(3), L.grid(3))
    handle.remove()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_surface_computed_in_pieces_equals_one_computed_at_once():
    model = tiny_net()
    images, labels = batch()
    whole = L.surface_2d(model, images, labels, L.grid(5), L.grid(3), seed=1)
    saved = []
    calls = {"n": 0}

    def stop_in_the_second_row(module, inputs, output):
        calls["n"] += 1
        if calls["n"] == 7:  # the 2nd point of the 2nd row (one batch of 40 images per point)
            raise KeyboardInterrupt

    handle = model.register_forward_hook(stop_in_the_second_row)
    with pytest.raises(KeyboardInterrupt):
        L.surface_2d(model, images, labels, L.grid(5), L.grid(3), seed=1, after_row=saved.append)
    handle.remove()
    assert [s.meta["rows_done"] for s in saved] == [1]  # the interrupted row was not saved
    rest = L.surface_2d(model, images, labels, L.grid(5), L.grid(3), seed=1, done=saved[-1])
    np.testing.assert_allclose(rest.losses, whole.losses, rtol=1e-6)
    np.testing.assert_allclose(rest.accuracies, whole.accuracies)
    assert rest.seconds >= saved[-1].seconds
    with pytest.raises(ValueError, match="partial surface of this 3x3 grid"):  # another grid's piece
        L.surface_2d(model, images, labels, L.grid(3), L.grid(3), seed=1, done=saved[-1])


def test_surface_on_a_cifar_resnet_keeps_batchnorm_statistics_and_eval_mode():
    model = cifar_resnet(8).eval()
    images, labels = torch.randn(20, 3, 32, 32), torch.randint(0, 10, (20,))
    stats = model.bn1.running_mean.clone()
    surface = L.surface_2d(model, images, labels, L.grid(3), L.grid(3), batch_size=10)
    assert torch.equal(model.bn1.running_mean, stats) and not model.training
    assert np.isfinite(surface.losses).all()


def test_grid_needs_an_odd_count_and_directions_must_fit():
    assert list(L.grid(3)) == [-1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="odd number"):
        L.grid(10)
    model = tiny_net()
    images, labels = batch()
    other = L.random_directions_2d(build_model("resnet8"))
    with pytest.raises(ValueError, match="does not fit this network"):
        L.surface_2d(model, images, labels, L.grid(3), L.grid(3), other)
    with pytest.raises(ValueError, match="one label per image"):
        L.surface_2d(model, images, labels[:5], L.grid(3), L.grid(3))


def test_interpolation_ends_are_the_two_networks():
    a, b = tiny_net(0), tiny_net(1)
    images, labels = batch()
    line = L.interpolate(a, b, images, labels, [0.0, 0.5, 1.0])
    assert line.losses[0] == pytest.approx(L.evaluate_loss(a, images, labels)[0], rel=1e-5)
    assert line.losses[2] == pytest.approx(L.evaluate_loss(b, images, labels)[0], rel=1e-5)
    assert line.losses[1] != pytest.approx(line.losses[0], rel=1e-3)
    with pytest.raises(ValueError, match="same architecture"):
        L.interpolate(a, build_model("resnet8"), images, labels, [0.0])


def surface_of(function, n: int = 11) -> L.Surface:
    xs = ys = L.grid(n)
    a, b = np.meshgrid(xs, ys)
    z = function(a, b)
    return L.Surface(xs, ys, z, np.zeros_like(z))


def test_roughness_of_a_bowl_and_of_a_rough_surface():
    bowl = L.roughness(surface_of(lambda a, b: a**2 + 2 * b**2))
    assert bowl.loss_range == pytest.approx(3.0)
    assert bowl.centre_curvature == pytest.approx(3.0)  # (2 + 4) / 2
    assert bowl.nonconvex_fraction == 0.0
    rough = L.roughness(surface_of(lambda a, b: a**2 + 2 * b**2 + 0.3 * np.sin(12 * a) * np.cos(12 * b)))
    assert rough.nonconvex_fraction > 0.2
    saddle = L.roughness(surface_of(lambda a, b: a**2 - b**2))
    assert saddle.nonconvex_fraction == 1.0
    assert "non-convex points" in rough.line()


def test_centre_curvatures_extend_the_surfaces_own_centre_curvature():
    model = tiny_net()
    images, labels = batch()
    surface = L.surface_2d(model, images, labels, L.grid(5), L.grid(5), seed=3)
    values = L.centre_curvatures(model, images, labels, directions=4, step=0.5, seed=3)
    assert values.shape == (4,)
    # the first two directions are the surface's d1 and d2: their mean is its centre curvature
    assert values[:2].mean() == pytest.approx(L.roughness(surface).centre_curvature, rel=1e-6)
    assert len(set(np.round(values, 6))) == 4  # other directions, other readings
    before = {k: v.clone() for k, v in model.state_dict().items()}
    L.centre_curvatures(model, images, labels, directions=2, step=0.5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="2 or more directions"):
        L.centre_curvatures(model, images, labels, directions=1)


def test_centre_curvature_is_the_hessian_along_the_direction():
    # the second difference along d against autograd's Hessian-vector product, d^T H d; the step is small
    # enough that no ReLU changes sign within it (at 1e-3 some do, and the kinks dominate)
    model = tiny_net().double()
    images, labels = batch()
    images = images.double()
    d = L.random_direction(model, seed=5)
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = dict(model.named_buffers())

    def loss(p):
        logits = torch.func.functional_call(model, {**p, **buffers}, (images,))
        return torch.nn.functional.cross_entropy(logits, labels)

    direction = {k: d[k].double() for k in params}
    _, hvp = torch.func.jvp(torch.func.grad(loss), (params,), (direction,))
    exact = sum((hvp[k] * direction[k]).sum() for k in params).item()
    measured = L.centre_curvatures(model, images, labels, directions=6, step=1e-5, seed=0)[5]
    assert measured == pytest.approx(exact, rel=1e-3)


def test_compare_curvatures_needs_a_margin_beyond_the_spread():
    rng = np.random.default_rng(0)
    sharp, flat = 7 + rng.normal(0, 0.5, 20), 2 + rng.normal(0, 0.5, 20)
    assert L.compare_curvatures("plain56", sharp, "resnet56", flat).startswith(
        "plain56 sits in a clearly sharper minimum than resnet56")
    swapped = L.compare_curvatures("resnet56", flat, "plain56", sharp)
    assert swapped.startswith("plain56 sits in a clearly sharper minimum than resnet56")
    assert f"mean curvature {sharp.mean():.2f} against {flat.mean():.2f}" in swapped  # numbers in the names' order
    # a higher mean whose directions scatter widely is not a sharper minimum
    scattered = 4 + 10 * np.resize([1.0, -1.0], 20) + rng.normal(0, 0.5, 20)  # mean 4, spread 10
    assert L.compare_curvatures("plain56", scattered, "resnet56", flat).startswith("no clear difference")
    with pytest.raises(ValueError, match="2 or more curvatures"):
        L.compare_curvatures("a", [1.0], "b", [1.0, 2.0])


def test_roughness_refuses_a_grid_without_its_centre():
    s = surface_of(lambda a, b: a**2)
    s.xs = s.xs + 0.05
    with pytest.raises(ValueError, match="does not contain 0"):
        L.roughness(s)


def test_figures_and_storage(tmp_path):
    s = surface_of(lambda a, b: a**2 + b**2)
    s.meta = {"model": "bowl"}
    assert L.plot_contour(s, title="bowl").axes
    assert L.plot_surface_3d(s, max_loss=1.5).axes
    line = L.Line(np.linspace(0, 1, 5), np.arange(5.0), np.zeros(5))
    assert L.plot_interpolation({"a to b": line}).axes
    figure = L.plot_surfaces({"bowl": s, "steeper bowl": surface_of(lambda a, b: 3 * (a**2 + b**2))})
    top_row = [ax.get_title() for ax in figure.axes if ax.get_subplotspec().rowspan.start == 0]
    assert top_row == ["bowl: loss contours", "steeper bowl: loss contours"] and len(figure.axes) == 4
    path = L.save_surface(tmp_path / "bowl.json", s)
    back = L.load_surface(path)
    np.testing.assert_allclose(back.losses, s.losses)
    assert back.meta == {"model": "bowl"}


def test_the_stored_surfaces_are_found_by_name_and_say_where_they_come_from(tmp_path):
    s = surface_of(lambda a, b: a**2 + b**2)
    s.meta = {"grid": "5x5", "images": 1000, "data": {"label": "CIFAR-10 (JPEG q75 copy)"},
              "environment": {"device": "CPU (2 threads)"}, "wall_seconds": 120.0,
              "command": "python -m resnet_lessons.lab.landscape --models bowl"}
    L.save_surface(tmp_path / "landscape" / "bowl.json", s)
    found = L.stored_surfaces(["bowl", "missing"], tmp_path)
    assert list(found) == ["bowl"] and found["bowl"].losses.shape == s.losses.shape
    assert L.surface_source(found["bowl"]) == ("5x5 grid on 1,000 training images of CIFAR-10 (JPEG q75 copy), "
                                               "CPU (2 threads), 2 min: `python -m resnet_lessons.lab.landscape "
                                               "--models bowl`")


def test_images_per_second_is_positive_and_leaves_the_weights():
    model = tiny_net()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images, labels = batch()
    assert L.images_per_second(model, images, labels, repeats=1) > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_evaluation_subset_is_fixed_stratified_and_normalised():
    from resnet_lessons.data import CIFAR10Tensors

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (200, 3, 8, 8), dtype=torch.uint8, generator=g)
    labels = torch.arange(200) % 10
    data = CIFAR10Tensors(images, labels, images[:50], labels[:50], [str(i) for i in range(10)], "test data")
    x, y = L.evaluation_subset(data, 50)
    x2, _ = L.evaluation_subset(data, 50)
    assert x.shape == (50, 3, 8, 8) and x.dtype == torch.float32 and torch.equal(x, x2)
    assert torch.bincount(y).tolist() == [5] * 10
    mean, std = data.mean_std()
    raw = (images.float() / 255 - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    assert raw.mean().abs() < 1e-3 and x.dim() == 4
    with pytest.raises(ValueError, match="multiple of the 10 classes"):
        L.evaluation_subset(data, 55)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        L.evaluation_subset(data, 50, split="val")


def test_the_command_stores_a_surface_with_provenance(tmp_path, monkeypatch):
    import resnet_lessons.data as data_module
    import resnet_lessons.trained as trained_module
    from conftest import landscape_inputs

    fake, record = landscape_inputs(seed=3)

    def fake_trained(name):  # "trained": the seed-3 initialisation, moved
        torch.manual_seed(3)
        model = cifar_resnet(8)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        return model.eval(), record

    monkeypatch.setattr(data_module, "load_cifar10", lambda root=None: fake)
    monkeypatch.setattr(trained_module, "trained", fake_trained)
    assert landscape_command.main(["--models", "resnet8", "--grid", "3", "--images", "20", "--out", str(tmp_path),
                                   "--partial", str(tmp_path / "partial")]) == 0
    surface = L.load_surface(tmp_path / "resnet8.json")
    assert surface.losses.shape == (3, 3)
    meta = surface.meta
    assert meta["grid"] == "3x3" and meta["images"] == 20 and meta["model"] == "resnet8"
    assert meta["trained"]["summary"] == "a tiny test network"
    assert "device" in meta["environment"] and "commit" in meta["git"] and meta["data"]["label"] == "fake data"
    assert meta["command"].startswith("python -m resnet_lessons.lab.landscape --models resnet8")
    assert landscape_command.main(["--grid", "4", "--out", str(tmp_path)]) == 2  # an even grid: refused before any work
    assert landscape_command.main(["--line", "8", "--out", str(tmp_path)]) == 2  # alpha = 1 would not be a point

    # The line runs from the weights training started from (seed 3, rebuilt) to the trained ones.
    line = meta["interpolation"]
    assert len(line["alphas"]) == 41 and line["alphas"][0] == -0.5 and line["alphas"][-1] == 1.5
    assert line["initial"] == "torch.manual_seed(3); build_model('resnet8')"
    x, y = L.evaluation_subset(fake, 20, "train", 0, record.mean, record.std)
    torch.manual_seed(3)
    start = cifar_resnet(8).eval()
    assert line["losses"][line["alphas"].index(0.0)] == pytest.approx(L.evaluate_loss(start, x, y)[0], rel=1e-5)
    assert line["losses"][line["alphas"].index(1.0)] == pytest.approx(surface.losses[1, 1], rel=1e-5)
    assert line["largest_rise"] >= 0
    stored = L.stored_line(surface)  # what the notebook draws: the same numbers, as a Line
    np.testing.assert_allclose(stored.losses, line["losses"])
    np.testing.assert_allclose(stored.alphas, line["alphas"])
    assert stored.meta["largest_rise"] == line["largest_rise"]
    assert L.stored_line(surface_of(lambda a, b: a**2 + b**2)) is None  # a surface stored without its line

    # The curvatures along 20 directions (the default), the first two the surface's own: their mean is its
    # centre curvature.
    curvatures = meta["curvatures"]
    assert len(curvatures["values"]) == 20 and curvatures["step"] == 1.0
    assert np.mean(curvatures["values"][:2]) == pytest.approx(L.roughness(surface).centre_curvature, rel=1e-6)
    assert curvatures["command"] == meta["command"]
    np.testing.assert_array_equal(L.stored_curvatures(surface), curvatures["values"])
    assert L.stored_curvatures(surface_of(lambda a, b: a**2 + b**2)) is None


def test_the_command_adds_curvatures_to_a_stored_surface_and_leaves_its_grid(tmp_path, monkeypatch, capsys):
    import resnet_lessons.data as data_module
    import resnet_lessons.trained as trained_module
    from conftest import landscape_inputs

    fake, record = landscape_inputs(seed=3)

    def fake_trained(name):
        torch.manual_seed(3)
        return cifar_resnet(8).eval(), record

    monkeypatch.setattr(data_module, "load_cifar10", lambda root=None: fake)
    monkeypatch.setattr(trained_module, "trained", fake_trained)
    common = ["--models", "resnet8", "--grid", "3", "--images", "20", "--out", str(tmp_path),
              "--partial", str(tmp_path / "partial")]
    # nothing stored yet: refused, nothing written
    assert landscape_command.main(common + ["--curvatures-only"]) == 2
    assert "compute the surface first" in capsys.readouterr().err
    assert not (tmp_path / "resnet8.json").exists()
    assert landscape_command.main(common + ["--directions", "0"]) == 0  # a surface stored without curvatures
    before = L.load_surface(tmp_path / "resnet8.json")
    assert "curvatures" not in before.meta
    # other settings than the stored surface's: refused
    assert landscape_command.main([*common[:-4], "--images", "10", *common[-4:], "--curvatures-only"]) == 2
    assert landscape_command.main(common + ["--curvatures-only", "--directions", "4"]) == 0
    after = L.load_surface(tmp_path / "resnet8.json")
    np.testing.assert_array_equal(after.losses, before.losses)
    assert after.meta["command"] == before.meta["command"]
    assert len(after.meta["curvatures"]["values"]) == 4
    assert "--curvatures-only" in after.meta["curvatures"]["command"]
    provenance = json.loads((tmp_path / "provenance.json").read_text())
    assert "--curvatures-only" in provenance["surfaces"]["resnet8"]["curvatures"]["command"]
    assert landscape_command.main(common + ["--curvatures-only", "--directions", "1"]) == 2


def test_the_command_continues_a_partial_surface_and_refuses_to_overwrite_one(tmp_path, monkeypatch, capsys):
    import resnet_lessons.data as data_module
    import resnet_lessons.trained as trained_module
    from conftest import landscape_inputs

    fake, record = landscape_inputs(seed=3)
    torch.manual_seed(4)
    network = cifar_resnet(8).eval()
    monkeypatch.setattr(data_module, "load_cifar10", lambda root=None: fake)
    monkeypatch.setattr(trained_module, "trained", lambda name: (network, record))
    out, partial = tmp_path / "out", tmp_path / "partial"
    command = ["--models", "resnet8", "--grid", "3", "--images", "20", "--line", "0", "--out", str(out),
               "--partial", str(partial)]
    assert landscape_command.main(command) == 0
    whole = L.load_surface(out / "resnet8.json")
    assert not (partial / "resnet8.json").exists()  # deleted once the surface is stored

    # A surface stopped after its first row, as a session that ended would leave it.
    x, y = L.evaluation_subset(fake, 20, "train", 0, record.mean, record.std)
    pieces = []
    L.surface_2d(network, x, y, L.grid(3), L.grid(3), seed=0, after_row=pieces.append)
    first_row = pieces[0]
    first_row.losses[1:] = first_row.accuracies[1:] = 0.0
    first_row.meta.update({"model": "resnet8", "trained": {"sha256": record.sha256}, "grid": "3x3", "extent": 1.0,
                           "images": 20, "split": "train", "seed": 0, "data": {"label": "fake data"},
                           "command": "the first command", "started": "then", "git": {"commit": "abc"}})
    L.save_surface(partial / "resnet8.json", first_row)
    assert landscape_command.main(command) == 2  # not asked to continue it: refused, and left as it was
    assert "add --resume" in capsys.readouterr().err
    assert L.load_surface(partial / "resnet8.json").meta["rows_done"] == 1
    assert landscape_command.main([*command[:5], "10", *command[6:], "--resume"]) == 2  # other images: refused
    assert "images 20 (this command: 10)" in capsys.readouterr().err

    assert landscape_command.main([*command, "--resume"]) == 0
    resumed = L.load_surface(out / "resnet8.json")
    np.testing.assert_allclose(resumed.losses, whole.losses, rtol=1e-6)
    assert resumed.meta["command"] == "the first command" and resumed.meta["started"] == "then"
    assert resumed.meta["resumed"][0]["command"].endswith("--resume")
    assert not (partial / "resnet8.json").exists()
    provenance = json.loads((out / "provenance.json").read_text())["surfaces"]["resnet8"]
    assert provenance["started"] == "then" and len(provenance["resumed"]) == 1

    # --resume again: the finished surface is left alone, not computed again from its first row.
    before = (out / "resnet8.json").read_bytes()
    assert landscape_command.main([*command, "--resume"]) == 0
    assert "stored already" in capsys.readouterr().out
    assert (out / "resnet8.json").read_bytes() == before


def test_the_command_stopped_says_how_to_continue(tmp_path, monkeypatch, capsys):
    import resnet_lessons.data as data_module
    import resnet_lessons.trained as trained_module
    from conftest import landscape_inputs

    fake, record = landscape_inputs(seed=3)
    network = cifar_resnet(8).eval()
    monkeypatch.setattr(data_module, "load_cifar10", lambda root=None: fake)
    monkeypatch.setattr(trained_module, "trained", lambda name: (network, record))
    calls = {"n": 0}

    def stop_in_the_second_row(module, inputs, output):  # the speed measure takes 2 points, a row 3
        calls["n"] += 1
        if calls["n"] == 2 + 3 + 1:
            raise KeyboardInterrupt

    network.register_forward_hook(stop_in_the_second_row)
    partial = tmp_path / "partial"
    code = landscape_command.main(["--models", "resnet8", "--grid", "3", "--images", "20", "--line", "0",
                                   "--out", str(tmp_path / "out"), "--partial", str(partial)])
    assert code == 130 and "--resume" in capsys.readouterr().err
    assert L.load_surface(partial / "resnet8.json").meta["rows_done"] == 1
    assert not (tmp_path / "out" / "resnet8.json").exists()


def test_the_largest_rise_of_a_line_is_a_bump_not_a_plateau():
    alphas = np.linspace(-0.5, 1.5, 9)  # 0 and 1 at indices 2 and 6
    falling = L.Line(alphas, 2 - alphas, np.zeros(9))
    assert L.largest_rise(falling) == pytest.approx(0.0)
    bumped = L.Line(alphas, 2 - alphas + np.where(alphas == 0.5, 0.7, 0.0), np.zeros(9))
    assert L.largest_rise(bumped) == pytest.approx(0.7 - 0.25)  # 1.5 + 0.7 at 0.5, after 1.75 at 0.25
    # A loss that stays at chance, then drops, never goes up: its height above the straight segment between
    # the ends (about 0.9 here) is not a barrier.
    plateau = L.Line(alphas, np.array([9, 9, 2.3, 2.3, 2.3, 2.3, 0.4, 9, 9.0]), np.zeros(9))
    assert L.largest_rise(plateau) == pytest.approx(0.0)
    outside = L.Line(alphas, 2 - alphas + np.where(alphas == 1.5, 5.0, 0.0), np.zeros(9))
    assert L.largest_rise(outside) == pytest.approx(0.0)  # beyond alpha = 1 is not on the path
