"""Figures of the report, drawn from run records (see :mod:`repro.records`).

Every function takes data (rows of a record, tensors) and an optional matplotlib ``Axes``, draws
one figure and returns the ``Figure``; notebooks only call them. Styles are set once by
:func:`use_style`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import matplotlib.pyplot as plt

__all__ = ["use_style", "plot_series", "plot_grid_montage", "plot_scatter_2d", "plot_tradeoff", "mark_epoch",
           "evenly_spaced", "plot_gan_curves"]


def use_style() -> None:
    """Seaborn's paper style with readable fonts; figures sized for the book's column."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (7.5, 3.6),
                         "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9})


def _axes(ax):
    if ax is None:
        fig, ax = plt.subplots()
        return fig, ax
    return ax.figure, ax


def plot_series(rows: Sequence[Mapping[str, Any]], keys: Iterable[str], x: str = "epoch", ax=None,
                title: str | None = None, ylabel: str | None = None, logy: bool = False,
                labels: Mapping[str, str] | None = None):
    """Line plot of columns ``keys`` of ``rows`` against column ``x`` (missing values skipped)."""
    fig, ax = _axes(ax)
    for k in keys:
        pts = [(r[x], r[k]) for r in rows if r.get(k) is not None and r.get(x) is not None]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o" if len(pts) <= 30 else None, ms=3, lw=1.5,
                    label=(labels or {}).get(k, k))
    ax.set_xlabel(x)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False)
    return fig


def mark_epoch(ax, epoch: float | None, label: str, color: str = "crimson") -> None:
    """A vertical dashed line at ``epoch`` (e.g. where the collapse rule fired)."""
    if epoch is not None:
        ax.axvline(epoch, ls="--", color=color, lw=1.2, label=label)
        ax.legend(frameon=False)


def plot_grid_montage(paths: Sequence[str | Path], titles: Sequence[str], ncols: int = 4, size: float = 2.4):
    """Sample-grid PNGs side by side, each titled (e.g. by epoch)."""
    import matplotlib.image as mpimg

    n = len(paths)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, p, t in zip(axes.flat, paths, titles):
        ax.imshow(mpimg.imread(str(p)), cmap="gray", interpolation="nearest")
        ax.set_title(t, fontsize=9)
    fig.tight_layout()
    return fig


def plot_scatter_2d(points, centers=None, ax=None, title: str | None = None, lim: float | None = None):
    """Samples of a 2D model as dots, mixture centres as crosses."""
    fig, ax = _axes(ax)
    p = points.detach().cpu().numpy() if hasattr(points, "detach") else points
    ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.35, lw=0)
    if centers is not None:
        c = centers.cpu().numpy() if hasattr(centers, "cpu") else centers
        ax.scatter(c[:, 0], c[:, 1], marker="x", s=30, color="crimson", lw=1.2)
    if lim is not None:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return fig


def plot_tradeoff(rows: Sequence[Mapping[str, Any]], x: str, y: str, group: str, ax=None,
                  xlabel: str | None = None, ylabel: str | None = None, logx: bool = True, title: str | None = None):
    """One line per ``group`` value of ``y`` against ``x`` (e.g. FID against steps, per sampler)."""
    fig, ax = _axes(ax)
    groups: dict[Any, list] = {}
    for r in rows:
        if r.get(x) is not None and r.get(y) is not None:
            groups.setdefault(r[group], []).append((r[x], r[y]))
    for g, pts in groups.items():
        pts.sort()
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker="o", ms=4, label=str(g))
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    ax.legend(frameon=False)
    return fig


def evenly_spaced(items: Sequence[Any], k: int) -> list[Any]:
    """At most ``k`` items, evenly spaced, always including the first and the last."""
    n = len(items)
    if n <= k:
        return list(items)
    return [items[round(i * (n - 1) / (k - 1))] for i in range(k)]


def plot_gan_curves(iterations: Sequence[Mapping[str, Any]], epochs: Sequence[Mapping[str, Any]],
                    collapse_epoch: int | None = None):
    """GAN losses and discriminator outputs per iteration (light) with per-epoch means (dark, at each
    epoch's last step); a dashed line where the collapse rule fired."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    panels = [(("loss_D", "loss_G"), "losses", "loss"), (("D_x", "D_G_z"), "discriminator outputs", "mean")]
    labels = {"loss_D": "D loss", "loss_G": "G loss", "D_x": "D(x)", "D_G_z": "D(G(z))"}
    for ax, (keys, title, ylabel) in zip(axes, panels):
        for i, k in enumerate(keys):
            color = f"C{i}"
            steps = [r["step"] for r in iterations]
            ax.plot(steps, [r[k] for r in iterations], color=color, alpha=0.25, lw=0.6)
            ax.plot([r["step"] for r in epochs], [r[k] for r in epochs], color=color, lw=1.8, label=labels[k])
        if collapse_epoch is not None:
            at = [r["step"] for r in epochs if r["epoch"] == collapse_epoch]
            if at:
                ax.axvline(at[0], ls="--", color="crimson", lw=1.2, label="collapse rule")
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig
