"""Reusable figures. Every function draws into (and returns) a Matplotlib figure, so a
notebook shows it and a test can inspect it without a screen."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def use_style() -> None:
    """The course's plot style: readable sizes, light grid, no top/right spines."""
    import matplotlib

    matplotlib.rcParams.update(
        {
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 90,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "legend.frameon": False,
            "image.cmap": "viridis",
        }
    )


def _figure(ax=None, **kwargs):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(**kwargs)
        return fig, ax
    return ax.figure, ax


def loss_curves(
    histories: Mapping[str, Sequence[float]] | Sequence[float],
    *,
    title: str = "Training loss",
    xlabel: str = "epoch",
    ylabel: str = "loss",
    log: bool = False,
    ax=None,
):
    """One line per named history (a Keras ``History.history`` dict works as it is)."""
    fig, ax = _figure(ax)
    if not isinstance(histories, Mapping):
        histories = {"loss": histories}
    for name, values in histories.items():
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, label=name, marker="o" if len(values) < 30 else None)
    if log:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(histories) > 1:
        ax.legend()
    return fig


def image_grid(
    images: np.ndarray,
    labels: Sequence[str] | None = None,
    *,
    columns: int = 8,
    cmap: str = "gray",
    size: float = 1.3,
    title: str | None = None,
):
    """Images [n, h, w] or [n, h, w, c] in a grid, each with an optional label."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    n = len(images)
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    columns = max(1, min(columns, n))
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + (0.4 if title else 0)), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < n:
            image = images[k]
            if image.ndim == 3 and image.shape[-1] == 1:
                image = image[..., 0]
            ax.imshow(image, cmap=cmap if image.ndim == 2 else None)
            if labels is not None:
                ax.set_title(str(labels[k]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def curves(
    x: np.ndarray,
    ys: Mapping[str, np.ndarray],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    log: bool = False,
    ax=None,
):
    """Several named curves over the same x (activations, gradient norms, schedules...)."""
    fig, ax = _figure(ax)
    for name, y in ys.items():
        ax.plot(x, y, label=name)
    if log:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if len(ys) > 1:
        ax.legend()
    return fig


def heatmap(
    values: np.ndarray,
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    xticklabels: Sequence[str] | None = None,
    yticklabels: Sequence[str] | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
    ax=None,
):
    """A matrix as an image (attention weights, gate activations, confusion matrices)."""
    fig, ax = _figure(ax)
    image = ax.imshow(np.asarray(values), aspect="auto", cmap=cmap)
    ax.grid(False)
    if xticklabels is not None:
        ax.set_xticks(range(len(xticklabels)), xticklabels, rotation=90 if len(xticklabels) > 12 else 0)
    if yticklabels is not None:
        ax.set_yticks(range(len(yticklabels)), yticklabels)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if colorbar:
        fig.colorbar(image, ax=ax)
    return fig


def decision_boundary(
    predict,
    X: np.ndarray,
    y: np.ndarray,
    *,
    title: str = "",
    resolution: int = 150,
    padding: float = 0.5,
    ax=None,
):
    """Shade ``predict(points)`` (probability of class 1 for points [n, 2]) over the plane
    around the 2-D inputs ``X``, draw the 0.5 contour and the labelled points."""
    fig, ax = _figure(ax)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).ravel()
    lo, hi = X.min(axis=0) - padding, X.max(axis=0) + padding
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    p = np.asarray(predict(np.column_stack([gx.ravel(), gy.ravel()])), dtype=float).reshape(gx.shape)
    image = ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.7)
    if p.min() < 0.5 < p.max():
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.5)
    for label, marker in [(0, "o"), (1, "s")]:
        pts = X[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], marker=marker, s=80, edgecolors="k",
                   c="tab:blue" if label == 0 else "tab:red", label=f"class {label}", zorder=3)
    ax.grid(False)
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    fig.colorbar(image, ax=ax, label="P(class 1)")
    return fig


def embedding_projection(
    points: np.ndarray,
    labels: Sequence[str],
    *,
    title: str = "",
    fontsize: int = 7,
    ax=None,
):
    """Words placed at their 2-D coordinates (a PCA or t-SNE projection of embeddings)."""
    fig, ax = _figure(ax)
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(f"need one (x, y) per label, got {points.shape} for {len(labels)} labels")
    ax.scatter(points[:, 0], points[:, 1], s=6, color="tab:blue", alpha=0.5)
    for (x, y), label in zip(points, labels):
        ax.annotate(str(label), (x, y), fontsize=fontsize, alpha=0.85)
    ax.set(title=title, xticks=[], yticks=[])
    return fig


def optimizer_paths(
    f,
    paths: Mapping[str, np.ndarray],
    *,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    minimum: Sequence[float] | None = None,
    log_levels: bool = True,
    title: str = "",
    ax=None,
):
    """Contours of a 2-D function ``f(x, y)`` (NumPy, broadcasting) with one optimizer path
    per name (arrays [steps + 1, 2]); the start is a dot, a star marks ``minimum``."""
    fig, ax = _figure(ax)
    xs, ys = np.linspace(*xlim, 300), np.linspace(*ylim, 300)
    X, Y = np.meshgrid(xs, ys)
    Z = f(X, Y)
    if log_levels:
        shifted = Z - Z.min() + 1e-3
        ax.contour(X, Y, np.log10(shifted), levels=25, cmap="Greys", linewidths=0.6)
    else:
        ax.contour(X, Y, Z, levels=25, cmap="Greys", linewidths=0.6)
    for name, path in paths.items():
        path = np.asarray(path, dtype=float)
        ax.plot(path[:, 0], path[:, 1], marker=".", markersize=2.5, linewidth=1.2, label=name)
    if len(paths):
        start = np.asarray(next(iter(paths.values())), dtype=float)[0]
        ax.plot(*start, "ko", markersize=5)
    if minimum is not None:
        ax.plot(*minimum, "k*", markersize=12)
    ax.set(xlim=xlim, ylim=ylim, title=title, xlabel="$x$", ylabel="$y$")
    ax.grid(False)
    ax.legend(fontsize=8, loc="best")
    return fig


def roc_and_confusion(
    fpr: np.ndarray,
    tpr: np.ndarray,
    point: tuple[float, float],
    confusion: np.ndarray,
    *,
    auc: float | None = None,
    title: str = "",
    class_names: Sequence[str] = ("negative", "positive"),
):
    """A ROC curve with one operating point marked (and the chance diagonal), next to the
    confusion matrix at that point (rows: true class, columns: prediction)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    left.plot(fpr, tpr, label="ROC" + (f" (AUC = {auc:.3f})" if auc is not None else ""))
    left.plot([0, 1], [0, 1], linestyle=":", color="gray", label="chance")
    left.plot([point[0]], [point[1]], "o", color="C3", label="threshold")
    left.vlines(point[0], point[0], point[1], color="C3", linestyle="--", label="Youden's J = TPR − FPR")
    left.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))
    left.legend(loc="lower right", fontsize=8)
    confusion = np.asarray(confusion)
    right.imshow(confusion, cmap="Blues")
    right.grid(False)
    for (i, j), count in np.ndenumerate(confusion):
        right.text(j, i, str(int(count)), ha="center", va="center",
                   color="white" if count > confusion.max() / 2 else "black")
    right.set(xticks=[0, 1], yticks=[0, 1], xticklabels=[f"pred. {c}" for c in class_names],
              yticklabels=[f"true {c}" for c in class_names])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def conv_feature_maps(
    image: np.ndarray,
    maps: np.ndarray,
    *,
    columns: int = 8,
    title: str | None = None,
    size: float = 1.2,
):
    """An input image [h, w] next to its feature maps [k, h', w'] (one panel per channel,
    each on its own colour scale)."""
    import matplotlib.pyplot as plt

    maps = np.asarray(maps)
    if maps.ndim != 3 or len(maps) == 0:
        raise ValueError("maps must have shape [channels, height, width]")
    columns = max(1, min(columns, len(maps)))
    rows = int(np.ceil(len(maps) / columns))
    fig, axes = plt.subplots(rows, columns + 1, figsize=(size * (columns + 1), size * rows + (0.4 if title else 0)),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    axes[0, 0].imshow(np.asarray(image), cmap="gray")
    axes[0, 0].set_title("input", fontsize=8)
    for k, feature in enumerate(maps):
        ax = axes[k // columns, 1 + k % columns]
        ax.imshow(feature, cmap="magma")
        ax.set_title(f"map {k}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
