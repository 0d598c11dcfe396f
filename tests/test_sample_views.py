"""Per-class grids and nearest-neighbour rows of samples."""

from __future__ import annotations

import torch

from repro import plotting
from repro.report.sample_views import by_class, with_neighbours


def test_by_class_sorts_samples_by_predicted_class_most_confident_first():
    images = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1)
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0],
                          [0.99, 0.01, 0.0], [0.3, 0.7, 0.0], [0.55, 0.45, 0.0]])
    rows, counts = by_class(images, probs, per_class=2)
    assert counts == [4, 2, 0]
    assert rows[0].flatten().tolist() == [3.0, 0.0] and rows[1].flatten().tolist() == [1.0, 4.0]
    assert len(rows[2]) == 0  # a class no sample fell in: an empty row, shown blank


def test_with_neighbours_puts_each_sample_before_its_nearest_training_images():
    train = torch.linspace(-1, 1, 11).view(11, 1, 1, 1)
    samples = torch.tensor([-0.95, 0.42]).view(2, 1, 1, 1)
    rows = with_neighbours(samples, train, k=2, features=lambda x: x.reshape(len(x), -1) * 3)
    assert [len(r) for r in rows] == [5, 5]
    assert torch.allclose(rows[0].flatten()[:3], torch.tensor([-0.95, -1.0, -0.8]))
    assert torch.allclose(rows[1].flatten()[1:3], torch.tensor([0.4, 0.6]))


def test_image_rows_figure_has_one_axis_per_cell():
    fig = plotting.plot_image_rows([torch.zeros(3, 1, 4, 4), torch.zeros(1, 3, 4, 4)], ["a", "b"])
    assert len(fig.axes) == 6  # 2 rows x 3 columns, blanks included
