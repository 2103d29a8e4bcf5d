"""TrainConfig (python/relu1d/config.py): the run's configuration, the compiled options it fills
and what a checkpoint stores."""

from __future__ import annotations

import json

import numpy as np
import pytest

import relu1d
from relu1d.checkpoint import read_checkpoint
from relu1d.config import TrainConfig

GOOD = dict(lr=[[0, 0.05], [100, 0.01]], clip=2.0, record_every=5, sharpness_every=10, grad_tol=1e-9,
            loss_tol=0.0, max_loss=1e6, sharpness_tol=1e-8, sharpness_max_iter=50, kernel="dense", threads=2)


def test_fills_the_compiled_options():
    opt = TrainConfig(**GOOD).train_options()
    assert (opt.clip, opt.record_every, opt.sharpness_every, opt.grad_tol, opt.loss_tol, opt.max_loss) == \
        (2.0, 5, 10, 1e-9, 0.0, 1e6)
    assert (opt.lanczos.tol, opt.lanczos.max_iter, opt.lanczos.k, opt.lanczos.which) == (1e-8, 50, 1, "largest")
    assert TrainConfig(**dict(GOOD, clip=None)).train_options().clip == 0.0  # 0: no clipping


def test_is_what_a_checkpoint_stores(tmp_path):
    x, y = relu1d.make_data(15, rng=0)
    run = relu1d.train(relu1d.Objective(x, y), relu1d.init_params(3, rng=1), lr=[(0, 0.05), (20, 0.02)], steps=30,
                       record_every=5, clip=3.0)
    run.save(tmp_path / "run.npz")
    _, meta = read_checkpoint(tmp_path / "run.npz")
    assert meta["config"] == json.loads(json.dumps(run.config.to_dict()))
    loaded = relu1d.Run.load(tmp_path / "run.npz").config
    assert isinstance(loaded, TrainConfig) and loaded == run.config
    assert loaded["clip"] == loaded.clip == 3.0 and dict(loaded) == run.config.to_dict()


@pytest.mark.parametrize("change, error, match", [
    (dict(record_every=0), ValueError, r"^record_every: must be >= 1"),
    (dict(sharpness_every=1.5), TypeError, r"^sharpness_every: expected an integer"),
    (dict(clip=-1.0), ValueError, r"^clip: must be > 0"),
    (dict(max_loss=float("nan")), ValueError, r"^max_loss: must be finite"),
    (dict(sharpness_tol=0.0), ValueError, r"^sharpness_tol: must be > 0"),
    (dict(kernel="gpu"), ValueError, r"^kernel: expected one of \('fast', 'dense'\)"),
    (dict(threads=0), ValueError, r"^threads: must be >= 1"),
    (dict(lr=[[5, 0.1]]), ValueError, r"^lr: the first piece must start at step 0"),
    (dict(lr="0.1"), ValueError, r"^lr: expected a list of \[start_step, lr\] pairs"),
])
def test_bad_fields_name_themselves(change, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**dict(GOOD, **change))


def test_from_dict_names_missing_and_unknown_fields():
    assert TrainConfig.from_dict(GOOD) == TrainConfig(**GOOD)
    with pytest.raises(ValueError, match=r"^config: missing fields \['max_loss'\]"):
        TrainConfig.from_dict({k: v for k, v in GOOD.items() if k != "max_loss"})
    with pytest.raises(ValueError, match=r"^config: unknown fields \['speed'\]"):
        TrainConfig.from_dict(dict(GOOD, speed=1))
    with pytest.raises(TypeError, match=r"^config: expected a mapping"):
        TrainConfig.from_dict([1, 2])


def test_replace_validates_again():
    cfg = TrainConfig(**GOOD)
    assert cfg.replace(lr=[[0, 0.2]]).lr == [[0, 0.2]] and cfg.lr == GOOD["lr"]
    with pytest.raises(ValueError, match=r"^record_every"):
        cfg.replace(record_every=-3)
    with pytest.raises(Exception):  # frozen
        cfg.clip = 1.0
    assert np.isfinite(cfg.max_loss)
