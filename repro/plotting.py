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
           "evenly_spaced", "plot_gan_curves", "plot_seed_band", "protocol_caption", "record_caption", "show"]


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
    if x in ("epoch", "step"):  # counts: no tick between two of them
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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


def plot_grid_montage(paths: Sequence[str | Path], titles: Sequence[str], ncols: int = 2,
                      samples_per_side: int = 8, px_per_sample: int = 48, dpi: int = 100):
    """Sample-grid PNGs side by side, each titled (e.g. by epoch), drawn large enough to judge: a grid
    ``samples_per_side`` samples wide gets at least ``px_per_sample`` pixels per sample at ``dpi``,
    whatever the PNG's own resolution (nearest-neighbour, no smoothing); its height follows the PNG's
    shape, so a grid of 10 x 4 samples is not padded to a square."""
    import matplotlib.image as mpimg

    images = [mpimg.imread(str(p)) for p in paths]
    n = len(paths)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    width = samples_per_side * px_per_sample / dpi * 1.03  # inches per grid, with room for the grid lines
    height = width * max(im.shape[0] / im.shape[1] for im in images)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols * 1.04, (height + 0.35) * nrows), dpi=dpi,
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, im, t in zip(axes.flat, images, titles):
        ax.imshow(im, cmap="gray", interpolation="nearest")
        ax.set_title(t, fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.35 / (height + 0.35) / nrows * 0.9,
                        wspace=0.04, hspace=0.35 / height)
    return fig


def plot_seed_band(series: Mapping[Any, tuple[Sequence[float], Sequence[float]]], ax=None, label: str | None = None,
                   color: str | None = None):
    """Mean over seeds as a line with the seeds' min-max range shaded; ``series`` maps a seed to its
    ``(x, y)``. Points are matched by x, so seeds with different lengths still line up. The legend
    names the seed count; the caption says what the line and the band are."""
    import numpy as np

    fig, ax = _axes(ax)
    by_x: dict[float, list[float]] = {}
    for xs, ys in series.values():
        for x, y in zip(xs, ys):
            if y is not None and y == y:
                by_x.setdefault(x, []).append(y)
    xs = sorted(by_x)
    if not xs:
        return fig
    values = [np.asarray(by_x[x], dtype=float) for x in xs]
    mean = [v.mean() for v in values]
    (line,) = ax.plot(xs, mean, lw=1.8, color=color, marker="o" if len(xs) <= 3 else None, ms=4,
                      label=f"{label or 'mean'} ({len(series)} seed{'s' * (len(series) > 1)})")  # a point shows too
    ax.fill_between(xs, [v.min() for v in values], [v.max() for v in values], color=line.get_color(),
                    alpha=0.2, lw=0)
    return fig


def protocol_caption(what: str, data: str, n: int | None = None, steps: str | None = None,
                     seeds: Sequence[int] | int | str | None = None, features: str | None = None,
                     record: str | None = None, extra: str | None = None) -> str:
    """A figure caption that states its protocol: what is shown, then data, sample count N, steps,
    seeds, feature extractor and a link to the run record (Markdown; fields left as ``None`` are
    omitted)."""
    parts = [f"Data: {data}"]
    if n is not None:
        parts.append(f"N = {n:,} samples")
    if steps:
        parts.append(f"steps: {steps}")
    if isinstance(seeds, str):  # seeds that differ by model, e.g. "GAN seeds 0, 1; DDPM seeds 0-4"
        parts.append(seeds)
    elif seeds is not None:
        ss = [seeds] if isinstance(seeds, int) else list(seeds)
        parts.append(f"seed{'s' if len(ss) > 1 else ''} {', '.join(str(s) for s in ss)}")
    if features:
        parts.append(f"features: {features}")
    text = what.rstrip(".") + ". " + "; ".join(parts) + "."
    if extra:
        text += " " + extra.rstrip(".") + "."
    if record:
        text += f" Run record: [{record}]({record})."
    return text


def record_caption(record, what: str, n: int | None = None, steps: str | None = None,
                   features: str | None = None, seeds: Sequence[int] | int | str | None = None,
                   extra: str | None = None) -> str:
    """:func:`protocol_caption` for a run record: data and seed from its manifest, and a link to
    its ``manifest.json`` (relative to the notebook; the book pipeline re-bases it)."""
    m = record.manifest
    data = m.get("data", {})
    label = data.get("label", data.get("name", "?"))
    if data.get("n"):
        label += f", {data['n']:,} training {'points' if 'modes' in data else 'images'}"
    seed = m.get("params", {}).get("seed") if seeds is None else seeds
    return protocol_caption(what, label, n=n, steps=steps, seeds=seed, features=features, extra=extra,
                            record=str(Path(record.path) / "manifest.json"))


COLUMN_PX = 800  # the book's text column at 100 dpi; a wider figure gets the page's full width


def show(fig, caption: str, name: str | None = None) -> None:
    """Display ``fig`` with its caption (and ``name``, its label for ``{numref}``) attached to the image
    output; the book pipeline (``repro.report.book_cells``) turns them into the figure's
    ``<figcaption>`` and label (made unique by its page), and gives a figure wider than the text column
    (:data:`COLUMN_PX`) the page's full width, so that it is not shrunk to fit."""
    from IPython.display import display

    from .report.tables import check_name

    meta = {"caption": caption}
    if name:
        meta["name"] = check_name(name)
    if fig.get_figwidth() * fig.dpi > COLUMN_PX:
        meta["wide"] = True
    display(fig, metadata={"image/png": meta})
    plt.close(fig)


def plot_scatter_2d(points, centers=None, ax=None, title: str | None = None, lim: float | None = None,
                    radius: float | None = None):
    """Samples of a 2D model as dots over the mixture's modes: with ``radius`` (e.g. 3 standard
    deviations, the high-quality region) each mode is an open circle of that radius, else a cross."""
    from matplotlib.patches import Circle

    fig, ax = _axes(ax)
    p = points.detach().cpu().numpy() if hasattr(points, "detach") else points
    if centers is not None:
        c = centers.cpu().numpy() if hasattr(centers, "cpu") else centers
        if radius is None:
            ax.scatter(c[:, 0], c[:, 1], marker="x", s=30, color="crimson", lw=1.2)
        for x, y in (c if radius is not None else []):
            ax.add_patch(Circle((x, y), radius, fill=False, color="crimson", lw=0.8, zorder=3))
    ax.scatter(p[:, 0], p[:, 1], s=3, alpha=0.5, lw=0, zorder=2)
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


def plot_path(rows: Sequence[Mapping[str, Any]], x: str, y: str, group: str, order: str, ax=None,
              xlabel: str | None = None, ylabel: str | None = None, title: str | None = None):
    """One line per ``group`` value through its (``x``, ``y``) points in the order of ``order`` (e.g. a
    guidance scale), each point labelled with its ``order`` value; rows whose ``order`` is None are
    single points (e.g. a GAN or real data beside the guidance curves)."""
    fig, ax = _axes(ax)
    groups: dict[Any, list] = {}
    for r in rows:
        if r.get(x) is not None and r.get(y) is not None:
            groups.setdefault(r[group], []).append(r)
    for i, (g, pts) in enumerate(groups.items()):
        pts.sort(key=lambda r: -1 if r.get(order) is None else r[order])
        xs, ys = [r[x] for r in pts], [r[y] for r in pts]
        single = all(r.get(order) is None for r in pts)
        ax.plot(xs, ys, marker="*" if single else "o", ms=11 if single else 5, ls="none" if single else "-",
                color=f"C{i}", label=str(g))
        for r in pts:
            if r.get(order) is not None:
                ax.annotate(f"{r[order]:g}", (r[x], r[y]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_image_rows(rows: Sequence[Any], row_labels: Sequence[str], columns: int | None = None,
                    px_per_image: int = 48, dpi: int = 100, column_labels: Sequence[str] | None = None):
    """Rows of images (each a tensor N x C x H x W in [-1, 1]) in one figure, each row labelled on the
    left, every image drawn at ``px_per_image`` pixels (nearest-neighbour); a short row leaves blanks."""
    columns = columns or max((len(r) for r in rows), default=1)
    side = px_per_image / dpi
    label_w = 1.6
    fig = plt.figure(figsize=(label_w + side * columns * 1.04, side * len(rows) * 1.04 + 0.3), dpi=dpi)
    width = fig.get_figwidth()
    for i, (images, label) in enumerate(zip(rows, row_labels)):
        for j in range(columns):
            top = 1 - (0.3 + (i + 1) * side * 1.04) / fig.get_figheight()
            ax = fig.add_axes([(label_w + j * side * 1.04) / width, top, side / width, side / fig.get_figheight()])
            ax.axis("off")
            if j < len(images):
                img = ((images[j].detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()
                ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=1,
                          interpolation="nearest")
            if i == 0 and column_labels and j < len(column_labels):
                ax.set_title(column_labels[j], fontsize=8)
        fig.text((label_w - 0.1) / width, 1 - (0.3 + (i + 0.5) * side * 1.04) / fig.get_figheight(), label,
                 ha="right", va="center", fontsize=9)
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
