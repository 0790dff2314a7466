"""Figure helpers: the arithmetic behind the pictures."""

from __future__ import annotations

import numpy as np

from mnist_vae.runs import figures
from tests.helpers import drawn_figures, figure_text


def test_tile_places_images_in_row_major_order_with_gutters():
    images = np.stack([np.full((2, 3), value, "float32") for value in (0.1, 0.2, 0.3)])
    canvas = figures.tile(images, rows=2, cols=2, pad=1)
    assert canvas.shape == (2 * 3 + 1, 2 * 4 + 1)
    assert canvas[1, 1] == np.float32(0.1) and canvas[1, 5] == np.float32(0.2)
    assert canvas[4, 1] == np.float32(0.3) and canvas[4, 5] == 0.0  # an empty cell is blank
    assert (canvas[0] == np.float32(figures.GUTTER_INK)).all()  # gutters: a little ink


def test_reconstruction_pairs_touch_and_pairs_stand_apart():
    originals = np.full((3, 2, 2), 0.5, "float32")
    recons = np.full((3, 2, 2), 0.9, "float32")
    canvas = figures.pair_mosaic(originals, recons, cols=2, gap=3)
    assert canvas.shape == (2 * (2 + 3) + 3, 2 * (5 + 3) + 3)
    assert canvas[3, 3] == np.float32(0.5) and canvas[3, 6] == np.float32(0.9)  # pair 1
    assert canvas[3, 5] == np.float32(figures.GUTTER_INK)  # 1-pixel gutter inside the pair
    assert canvas[3, 11] == np.float32(0.5)  # the next pair, 3 pixels on
    assert canvas[3, 9] == 0.0  # blank between pairs


def test_close_labels_are_spread_apart_and_far_ones_stay():
    points = np.array([[0.5, 0.5], [0.51, 0.5], [0.1, 0.9]])
    placed = figures.spread_labels(points, 0.06)
    assert np.hypot(*(placed[1] - placed[0])) >= 0.06 - 1e-6
    np.testing.assert_allclose(placed[2], points[2])
    np.testing.assert_allclose(placed[:2].mean(axis=0), points[:2].mean(axis=0), atol=1e-9)


def test_the_first_epoch_does_not_set_the_scale_once_there_are_three():
    spike = [np.array([340.0, 212.0, 207.0, 200.0])]
    low, high = figures.focus_limits(spike)
    assert low < 200.0 and 212.0 < high < 240.0
    assert figures.focus_limits([np.array([340.0, 212.0])]) is None  # too short to tell
    assert figures.focus_limits([np.array([210.0, 209.0, 208.0])]) is None  # nothing to hide


def test_interpolation_codes_run_from_start_to_end():
    start, end = np.zeros((2, 3)), np.ones((2, 3))
    codes = figures.interpolation_codes(start, end, steps=5)
    assert codes.shape == (10, 3)
    np.testing.assert_allclose(codes[:5, 0], [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(codes[4], end[0]) and np.testing.assert_allclose(codes[5], start[1])


def test_loss_figure_of_one_epoch_and_interpolation_figure_are_written(tmp_path):
    history = {"loss": [300.0], "val_loss": [250.0], "kl": [3.0], "val_kl": [2.5]}
    assert figures.save_loss_curves(history, tmp_path / "loss.png").stat().st_size > 0
    images = np.random.default_rng(0).random((2 * 4, 28, 28))
    ends = np.random.default_rng(1).random((2, 28, 28))
    assert figures.save_interpolations(ends, images, ends, tmp_path / "i.png").stat().st_size > 0


def test_two_dimensional_codes_are_shown_as_they_are():
    codes = np.random.default_rng(0).normal(size=(50, 2))
    points, label, centre, components = figures.project_2d(codes)
    np.testing.assert_array_equal(points, codes)
    assert label == "z" and centre is None and components is None


def test_larger_codes_are_projected_on_their_principal_components():
    rng = np.random.default_rng(0)
    codes = np.column_stack([rng.normal(0, 5, 500), rng.normal(0, 2, 500), rng.normal(0, 0.1, 500)])
    points, label, _, components = figures.project_2d(codes)
    assert points.shape == (500, 2) and "PCA of the 3-D means" in label
    assert abs(components[0, 0]) > 0.99 and abs(components[1, 1]) > 0.99
    assert points[:, 0].std() > points[:, 1].std()


def test_latent_grid_spans_the_codes_central_range():
    codes = np.random.default_rng(0).uniform([-3, 1], [1, 2], size=(20_000, 2))
    grid = figures.latent_grid_codes(codes, size=5)
    assert grid.shape == (25, 2)
    np.testing.assert_allclose([grid[:, 0].min(), grid[:, 0].max()], [-2.96, 0.96], atol=0.02)
    np.testing.assert_allclose([grid[:, 1].min(), grid[:, 1].max()], [1.01, 1.99], atol=0.01)
    assert grid[0, 1] > grid[-1, 1] and grid[0, 0] < grid[4, 0]  # top row is high z2


def test_latent_grid_of_a_collapsed_posterior_still_has_extent():
    grid = figures.latent_grid_codes(np.full((100, 2), 0.3), size=3)
    np.testing.assert_allclose(np.unique(grid[:, 0]), [-1.7, 0.3, 2.3], atol=1e-6)


def test_figures_are_written_atomically(tmp_path):
    path = figures.save_image_grid(
        np.random.default_rng(0).random((6, 28, 28)), tmp_path / "g.png", cols=3
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]


def test_the_most_active_dimensions_are_those_whose_codes_vary_most():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(500, 4)) * np.array([0.1, 3.0, 0.0, 1.0])
    assert list(figures.most_active_dimensions(codes, 3)) == [1, 3, 0]


def test_traversal_codes_sweep_one_dimension_per_row_over_the_datas_range():
    codes = np.column_stack([np.linspace(-1, 1, 101), np.linspace(10, 20, 101), np.zeros(101)])
    base = np.array([0.5, 12.0, 0.0], "float32")
    swept = figures.latent_traversal_codes(base, codes, np.array([1, 0]), steps=3, coverage=100)
    assert swept.shape == (6, 3)
    np.testing.assert_allclose(swept[:3], [[0.5, 10, 0], [0.5, 15, 0], [0.5, 20, 0]])
    np.testing.assert_allclose(swept[3:], [[-1, 12, 0], [0, 12, 0], [1, 12, 0]])


def test_traversal_figure_is_written(tmp_path):
    images = np.random.default_rng(0).random((2 * 5, 28, 28)).astype("float32")
    path = figures.save_latent_traversals(images, np.array([4, 0]), 5, tmp_path / "t.png")
    assert path.stat().st_size > 1000


def test_a_long_runs_loss_figure_reads_its_epochs_on_a_log_scale(tmp_path, monkeypatch):
    """Thousands of epochs: the late progress is readable, not a flat line under epoch 1's."""
    epochs = np.arange(1, figures.LONG_RUN_EPOCHS + 200)
    history = {"loss": list(90.0 + 300.0 / epochs), "val_loss": list(91.0 + 300.0 / epochs)}
    drawn = drawn_figures(monkeypatch, figures)
    figures.save_loss_curves(history, tmp_path / "loss.png")
    axis = drawn[0].axes[0]
    assert axis.get_xscale() == "log" and axis.get_xlabel() == "epoch (log scale)"
    low, high = axis.get_ylim()
    skip = figures.LONG_RUN_SKIP
    assert low < 90.0 + 300.0 / epochs[-1] and 91.0 + 300.0 / (skip + 1) < high < 125.0
    assert f"epochs 1-{skip} off scale" in figure_text(drawn[0])

    short = {"loss": history["loss"][:20], "val_loss": history["val_loss"][:20]}
    figures.save_loss_curves(short, tmp_path / "short.png")
    assert drawn[1].axes[0].get_xscale() == "linear"
    assert "epoch 1 off scale" in figure_text(drawn[1])


def test_the_first_epochs_set_no_scale_when_skipped():
    low, high = figures.focus_limits([np.array([340.0, 212.0, 207.0, 200.0])], skip=2)
    assert low < 200.0 and 207.0 < high < 212.0
    assert figures.focus_limits([np.array([340.0, 212.0, 207.0])], skip=2) is None
