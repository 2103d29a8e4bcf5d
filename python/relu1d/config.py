"""The configuration of a GD run: one object that fills the compiled trainer's options and is what a
checkpoint stores (as the JSON of :meth:`TrainConfig.to_dict`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from . import _core
from ._validate import as_float, as_int, as_threads
from .schedule import StepSize

__all__ = ["TrainConfig"]


@dataclasses.dataclass(frozen=True)
class TrainConfig(Mapping):
    """The unchanging options of a run (read ``config.clip`` or ``config["clip"]``).

    Attributes
    ----------
    lr : list of [start_step, lr] pairs, or None
        The step-size schedule (:meth:`relu1d.StepSize.to_json`); None when it was a Python
        callable, which cannot be saved.
    clip : float or None
        Gradient-norm clipping threshold (None: no clipping).
    record_every, sharpness_every : int
        Record a history row every this many steps; measure the sharpness every this many (0:
        never; measured steps are recorded too).
    grad_tol, loss_tol : float
        Converged when ``||grad|| <= grad_tol`` or ``loss <= loss_tol``.
    max_loss : float
        Diverged when the loss exceeds this (or is not finite).
    sharpness_tol, sharpness_max_iter : float, int
        Lanczos tolerance and step limit of each sharpness measurement.
    kernel : str
        One of :data:`relu1d.KERNELS`.
    threads : int or None
        Threads of the kernel (None: the library chooses; results never depend on it).
    """

    lr: list | None
    clip: float | None
    record_every: int
    sharpness_every: int
    grad_tol: float
    loss_tol: float
    max_loss: float
    sharpness_tol: float
    sharpness_max_iter: int
    kernel: str = "fast"
    threads: int | None = None

    def __post_init__(self):
        check = object.__setattr__
        if self.lr is not None:
            if not isinstance(self.lr, (list, tuple)) or not all(isinstance(p, (list, tuple)) for p in self.lr):
                raise ValueError(f"lr: expected a list of [start_step, lr] pairs, got {self.lr!r}")
            check(self, "lr", StepSize([tuple(p) for p in self.lr]).to_json())
        check(self, "clip", None if self.clip is None else as_float(self.clip, "clip", positive=True))
        check(self, "record_every", as_int(self.record_every, "record_every", minimum=1))
        check(self, "sharpness_every", as_int(self.sharpness_every, "sharpness_every", minimum=0))
        check(self, "grad_tol", as_float(self.grad_tol, "grad_tol", nonnegative=True))
        check(self, "loss_tol", as_float(self.loss_tol, "loss_tol", nonnegative=True))
        check(self, "max_loss", as_float(self.max_loss, "max_loss", positive=True))
        check(self, "sharpness_tol", as_float(self.sharpness_tol, "sharpness_tol", positive=True))
        check(self, "sharpness_max_iter", as_int(self.sharpness_max_iter, "sharpness_max_iter", minimum=1))
        if self.kernel not in _core.KERNELS:
            raise ValueError(f"kernel: expected one of {tuple(_core.KERNELS)}, got {self.kernel!r}")
        check(self, "threads", as_threads(self.threads) or None)

    # -- the compiled side and the file ----------------------------------------------------------
    def train_options(self) -> "_core.TrainOptions":
        """The compiled trainer's options (everything but the schedule, kernel and threads)."""
        return _core.TrainOptions(clip=self.clip or 0.0, record_every=self.record_every,
                                  sharpness_every=self.sharpness_every, grad_tol=self.grad_tol,
                                  loss_tol=self.loss_tol, max_loss=self.max_loss, sharpness_tol=self.sharpness_tol,
                                  sharpness_max_iter=self.sharpness_max_iter)

    def to_dict(self) -> dict:
        """A JSON-able dict, field name -> value (what a checkpoint stores)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data) -> "TrainConfig":
        """The config saved by :meth:`to_dict`; ValueError/TypeError naming a missing or bad field."""
        if not isinstance(data, Mapping):
            raise TypeError(f"config: expected a mapping, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"config: unknown fields {unknown}")
        required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise ValueError(f"config: missing fields {missing}")
        return cls(**{name: data[name] for name in names if name in data})

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # -- read-only mapping access: config["clip"] --------------------------------------------------
    def __getitem__(self, name):
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self):
        return iter(self.__dataclass_fields__)

    def __len__(self):
        return len(self.__dataclass_fields__)
