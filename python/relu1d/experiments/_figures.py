"""Figure helpers of the experiments: matplotlib's object API (no pyplot state, never blocks, no
backend switch), small PNGs."""

from __future__ import annotations

import numpy as np

__all__ = ["figure", "save", "neuron_curves", "DPI"]

#: Resolution of the saved PNGs (the figures are meant for docs: small files).
DPI = 80


def figure(nrows: int = 1, ncols: int = 1, *, size=(5.0, 3.6), title: str | None = None):
    """A Figure with an (nrows, ncols) array of axes, each ``size`` inches."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("the experiments' figures need matplotlib: pip install 'relu1d[plot]'") from None
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    if title:
        fig.suptitle(title)
    return fig, axes


def save(fig, path: str) -> str:
    """Write ``fig`` as a PNG at :data:`DPI` (atomic)."""
    tmp = path + ".part.png"
    fig.savefig(tmp, dpi=DPI)
    import os

    os.replace(tmp, path)
    return path


def neuron_curves(theta, t):
    """Every neuron's contribution ``v_k relu(w_k t + b_k)`` on the points ``t``: (m, len(t))."""
    from ..params import unpack

    w, b, v, _ = unpack(theta)
    return v[:, None] * np.maximum(w[:, None] * t[None, :] + b[:, None], 0.0)
