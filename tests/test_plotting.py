"""The book's figures: grids large enough to judge, seed spread shaded, captions with the protocol."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from repro import plotting


@pytest.fixture
def grid_pngs(tmp_path):
    import matplotlib.image as mpimg

    paths = []
    for i in range(3):
        p = tmp_path / f"epoch{i:04d}.png"
        mpimg.imsave(p, np.random.default_rng(i).random((8 * 34 + 2, 8 * 34 + 2)), cmap="gray")
        paths.append(p)
    return paths


def test_grid_montage_gives_each_sample_at_least_48_pixels(grid_pngs):
    fig = plotting.plot_grid_montage(grid_pngs, ["a", "b", "c"], ncols=2)
    width_px = fig.get_size_inches()[0] * fig.dpi
    ax = fig.axes[0]
    grid_px = ax.get_window_extent().width
    assert grid_px / 8 >= 48
    assert width_px >= 2 * 8 * 48


def test_a_wide_grid_is_not_padded_to_a_square(tmp_path):
    import matplotlib.image as mpimg

    path = tmp_path / "wide.png"
    mpimg.imsave(path, np.random.default_rng(0).random((4 * 34 + 2, 10 * 34 + 2)), cmap="gray")
    fig = plotting.plot_grid_montage([path, path], ["s = 0", "s = 4"], ncols=1, samples_per_side=10)
    width, height = fig.get_size_inches()
    assert height < 1.2 * width  # two 10 x 4 grids, one above the other: about 0.8 of the width
    assert fig.axes[0].get_window_extent().width / 10 >= 48


def test_seed_band_draws_the_mean_and_shades_min_to_max():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    plotting.plot_seed_band({0: ([0, 1, 2], [1, 2, 3]), 1: ([0, 1, 2], [3, 4, 5])}, ax=ax, label="DDPM")
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [2, 3, 4]
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == 1 and band[:, 1].max() == 5
    assert line.get_label() == "DDPM (2 seeds)"
    fig, ax = plt.subplots()
    plotting.plot_seed_band({0: ([0, 1, 2], [1, 2, 3])}, ax=ax, label="GAN")
    assert ax.get_lines()[0].get_label() == "GAN (1 seed)"  # no mean or band to speak of


def test_protocol_caption_states_data_n_steps_seeds_features_and_record():
    text = plotting.protocol_caption("DDIM samples", "Fashion-MNIST (2,048 training images)", n=64,
                                     steps="K = 20", seeds=[0, 1, 2], features="classifier",
                                     record="runs/train_ddpm/manifest.json")
    for part in ("DDIM samples.", "Fashion-MNIST", "N = 64", "K = 20", "seeds 0, 1, 2", "features: classifier",
                 "(runs/train_ddpm/manifest.json)"):
        assert part in text


def test_record_caption_takes_data_and_seed_from_the_manifest():
    from types import SimpleNamespace

    rec = SimpleNamespace(path="../book/results/runs/train_gan", manifest={
        "params": {"seed": 0}, "data": {"label": "Fashion-MNIST", "n": 20000}})
    text = plotting.record_caption(rec, "Samples", n=64, steps="one generator evaluation per image")
    assert "Fashion-MNIST, 20,000 training images" in text and "seed 0" in text
    assert "(../book/results/runs/train_gan/manifest.json)" in text


def test_show_marks_a_figure_wider_than_the_text_column(monkeypatch):
    import matplotlib.pyplot as plt
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda fig, metadata: shown.append(metadata["image/png"]))
    for width in (7.5, 9.0):
        fig = plt.figure(figsize=(width, 3), dpi=100)
        plotting.show(fig, "caption")
        plt.close(fig)
    assert shown == [{"caption": "caption"}, {"caption": "caption", "wide": True}]


def test_an_epoch_axis_has_whole_epochs_as_ticks():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from repro.plotting import plot_series

    fig, ax = plt.subplots(figsize=(3, 2))  # a narrow panel, where matplotlib would tick 0, 2.5, 5, ...
    plot_series([{"epoch": e, "loss": 1.0 / (e + 1)} for e in range(12)], ["loss"], ax=ax)
    ticks = [t for t in ax.get_xticks() if 0 <= t <= 11]
    assert ticks and all(float(t).is_integer() for t in ticks)
