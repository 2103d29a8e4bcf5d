"""Run files and checkpoints: exact round trips, atomic writes, and clear errors for files that are
missing, truncated, corrupt or not relu1d checkpoints."""

from __future__ import annotations

import gc
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest

import relu1d
from relu1d.checkpoint import FORMAT_VERSION, read_checkpoint, write_checkpoint


def make_run(**kw):
    x, y = relu1d.make_data(20, rng=0)
    obj = relu1d.Objective(x, y, kernel=kw.pop("kernel", "fast"), threads=kw.pop("threads", None))
    th0 = relu1d.init_params(6, rng=1)
    opts = dict(lr=[(0, 0.05), (60, 0.1)], steps=150, record_every=10, sharpness_every=20, clip=2.0)
    opts.update(kw)
    return relu1d.train(obj, th0, **opts)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A valid checkpoint file and its bytes."""
    path = tmp_path_factory.mktemp("ckpt") / "good.npz"
    make_run().save(path)
    return path, path.read_bytes()


def assert_same_run(a, b):
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.theta0, b.theta0)
    assert a.theta.dtype == b.theta.dtype == np.float64
    assert a.steps == b.steps
    assert a.status == b.status
    assert a.config == b.config
    assert a.wall_time == b.wall_time
    assert a.sharpness_time == b.sharpness_time
    np.testing.assert_equal(a.final_loss, b.final_loss)
    np.testing.assert_equal(a.final_grad_norm, b.final_grad_norm)
    assert a.diverged_loss == b.diverged_loss
    assert (a.eigvec is None) == (b.eigvec is None)
    if a.eigvec is not None:
        np.testing.assert_array_equal(a.eigvec, b.eigvec)
    assert a.history.rows == b.history.rows
    for k in a.history:
        assert a.history[k].dtype == b.history[k].dtype, k
        np.testing.assert_array_equal(a.history[k], b.history[k], err_msg=k)
    np.testing.assert_array_equal(a.objective.x, b.objective.x)
    np.testing.assert_array_equal(a.objective.y, b.objective.y)
    assert a.objective.kernel == b.objective.kernel
    assert a.objective.threads == b.objective.threads


# ---------------------------------------------------------------------------------------------
# Round trips

@pytest.mark.parametrize("kw", [
    dict(),
    dict(kernel="dense", threads=1),
    dict(sharpness_every=0, clip=None, lr=0.07),          # no eigenvector, constant lr
    dict(lr=50.0, clip=None, steps=5000, record_every=1),  # diverged: diverged_loss set
    dict(steps=0),                                         # empty history
])
def test_round_trip_preserves_everything(tmp_path, kw):
    run = make_run(**kw)
    path = tmp_path / "run.npz"
    assert run.save(path) == str(path)
    back = relu1d.Run.load(path)
    assert_same_run(back, run)
    assert back.version == relu1d.__version__
    assert back.summary() == run.summary()
    assert repr(back) == repr(run)
    # the loaded objective computes the same things
    assert back.objective.loss(back.theta) == run.objective.loss(run.theta)
    if kw.get("lr") == 50.0:
        assert back.status == "diverged" and back.diverged_loss is not None
    if kw.get("sharpness_every") == 0:
        assert back.eigvec is None


def test_round_trip_unsorted_data_keeps_caller_order(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 25)  # not sorted
    y = np.sin(3 * x)
    obj = relu1d.Objective(x, y)
    run = relu1d.train(obj, relu1d.init_params(4, rng=2), lr=0.05, steps=30)
    run.save(tmp_path / "u.npz")
    back = relu1d.Run.load(tmp_path / "u.npz")
    np.testing.assert_array_equal(back.objective.x, x)
    np.testing.assert_array_equal(back.objective.y, y)
    np.testing.assert_array_equal(back.objective.residuals(back.theta), obj.residuals(run.theta))


def test_save_is_atomic_and_overwrites(tmp_path):
    folder = tmp_path / "new" / "sub"   # created on demand
    path = folder / "r.npz"
    first = make_run(steps=20)
    first.save(path)
    second = make_run(steps=40)
    second.save(str(path))
    assert sorted(os.listdir(folder)) == ["r.npz"]  # no temporary files left behind
    assert relu1d.Run.load(path).steps == 40
    assert zipfile.is_zipfile(path)
    # a plain npz: readable without pickle, metadata is JSON
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        np.testing.assert_array_equal(f["theta"], second.theta)
    assert meta["format"] == "relu1d-run"
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["steps"] == 40


def test_save_failure_leaves_previous_file(tmp_path):
    path = tmp_path / "r.npz"
    make_run(steps=20).save(path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        write_checkpoint(path, {"theta": np.zeros(4)}, {"bad": object()})  # not JSON-able
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["r.npz"]


# ---------------------------------------------------------------------------------------------
# Unreadable files

def expect_checkpoint_error(path, match=None):
    """Run.load(path) raises CheckpointError whose message names the path (and contains match)."""
    try:
        relu1d.Run.load(path)
    except relu1d.CheckpointError as exc:
        msg = str(exc)
    else:
        msg = None
    gc.collect()  # a leaked file handle would surface here as a ResourceWarning (an error)
    assert msg is not None, f"Run.load({path}) did not raise CheckpointError"
    assert str(path) in msg, msg
    if match:
        assert match in msg, msg
    return msg


def test_checkpoint_error_is_value_error():
    assert issubclass(relu1d.CheckpointError, ValueError)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        relu1d.Run.load(path)
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        relu1d.resume(path, steps=1)


@pytest.mark.parametrize("keep", [0, 1, 4, 30, 0.25, 0.5, 0.9, -22, -1])
def test_truncated_file(tmp_path, saved, keep):
    _, raw = saved
    n = keep if isinstance(keep, int) and keep >= 0 else (len(raw) + keep if isinstance(keep, int)
                                                         else int(keep * len(raw)))
    path = tmp_path / "cut.npz"
    path.write_bytes(raw[:n])
    expect_checkpoint_error(path)


@pytest.mark.parametrize("column", ["theta", "x", "history_loss", "history_step", "eigvec"])
@pytest.mark.parametrize("where", [0.0, 0.5, 0.99])
def test_flipped_byte_in_array_data_is_detected(tmp_path, saved, column, where):
    path0, raw = saved
    arrays, _ = read_checkpoint(path0)
    payload = np.ascontiguousarray(arrays[column]).tobytes()
    assert len(payload) > 0 and raw.count(payload) == 1  # stored uncompressed, found once
    off = raw.index(payload) + int(where * (len(payload) - 1))
    data = bytearray(raw)
    data[off] ^= 0x10
    path = tmp_path / "flip.npz"
    path.write_bytes(bytes(data))
    expect_checkpoint_error(path)  # zip CRC-32 mismatch: never silently different numbers


def test_foreign_npz(tmp_path):
    path = tmp_path / "foreign.npz"
    rng = np.random.default_rng(0)
    np.savez(path, a=rng.standard_normal(3), theta=rng.standard_normal(4))
    expect_checkpoint_error(path, "not a relu1d checkpoint")


def test_text_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("x,y\n1,2\n3,4\n")
    expect_checkpoint_error(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    expect_checkpoint_error(path)


def test_pickle_file(tmp_path):
    path = tmp_path / "p.npz"
    path.write_bytes(pickle.dumps({"theta": [1, 2, 3]}))
    expect_checkpoint_error(path)


def test_directory(tmp_path):
    expect_checkpoint_error(tmp_path)


def test_save_to_a_directory_is_named_and_writes_nothing_beside_it(tmp_path, saved):
    """An OSError (IsADirectoryError), as a periodic save expects of a path that became a folder."""
    run = relu1d.Run.load(saved[0])
    target = tmp_path / "runs"
    target.mkdir()
    with pytest.raises(IsADirectoryError, match=r"^path: .*runs is a directory; give a file name"):
        run.save(target)
    assert os.listdir(tmp_path) == ["runs"] and os.listdir(target) == []


@pytest.mark.parametrize("bad", [5, None, ["a.npz"]])
def test_save_and_load_need_a_path(saved, bad):
    run = relu1d.Run.load(saved[0])
    with pytest.raises(TypeError, match=r"^path: expected a file path, got "):
        run.save(bad)
    with pytest.raises(TypeError, match=r"^path: expected a file path, got "):
        relu1d.Run.load(bad)
    with pytest.raises(TypeError, match=r"^path: expected a file path, got "):
        relu1d.resume(bad, steps=1)


def test_other_format_in_meta(tmp_path, saved):
    arrays, meta = read_checkpoint(saved[0])
    path = tmp_path / "other.npz"
    np.savez(path, meta=np.array(json.dumps(dict(meta, format="something-else"))), **arrays)
    expect_checkpoint_error(path, "something-else")


def test_newer_format_version(tmp_path, saved):
    arrays, meta = read_checkpoint(saved[0])
    path = tmp_path / "newer.npz"
    np.savez(path, meta=np.array(json.dumps(dict(meta, format_version=FORMAT_VERSION + 1))), **arrays)
    expect_checkpoint_error(path, "newer")


def test_meta_not_json(tmp_path, saved):
    arrays, _ = read_checkpoint(saved[0])
    path = tmp_path / "badmeta.npz"
    np.savez(path, meta=np.array("{not json"), **arrays)
    expect_checkpoint_error(path, "metadata")


@pytest.mark.parametrize("meta_value", ["[1, 2]", "5", '"text"'])
def test_meta_not_a_dict(tmp_path, meta_value):
    path = tmp_path / "m.npz"
    np.savez(path, meta=np.array(meta_value))
    expect_checkpoint_error(path, "metadata")


@pytest.mark.parametrize("drop", ["theta", "x", "history_loss", "eigvec"])
def test_missing_array(tmp_path, saved, drop):
    arrays, meta = read_checkpoint(saved[0])
    del arrays[drop]
    path = tmp_path / "lacks.npz"
    write_checkpoint(path, arrays, meta)
    msg = expect_checkpoint_error(path)
    assert drop in msg


@pytest.mark.parametrize("change", [
    dict(meta_drop="steps"),
    dict(meta_drop="config"),
    dict(meta_drop="status"),
    dict(meta={"steps": "many"}),
    dict(config={"kernel": "gpu"}),
    dict(config={"threads": 0}),
    dict(array=("theta", np.zeros(5))),
    dict(array=("theta", np.zeros((2, 2)))),
    dict(array=("y", np.zeros(3))),
    dict(array=("x", np.array([0.0, np.nan] + [1.0] * 18))),
    dict(array=("theta", np.array(["a", "b", "c", "d"]))),
])
def test_corrupt_content(tmp_path, saved, change):
    arrays, meta = read_checkpoint(saved[0])
    if "meta_drop" in change:
        del meta[change["meta_drop"]]
    meta.update(change.get("meta", {}))
    if "config" in change:
        meta["config"] = dict(meta["config"], **change["config"])
    if "array" in change:
        name, value = change["array"]
        arrays[name] = value
    path = tmp_path / "corrupt.npz"
    write_checkpoint(path, arrays, meta)
    expect_checkpoint_error(path)


def test_resume_from_corrupt_file_raises(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_text("hello")
    with pytest.raises(relu1d.CheckpointError, match="bad.npz"):
        relu1d.resume(path, steps=10)


# ---------------------------------------------------------------------------------------------
# Formerly wrong exception types and silent acceptance: each must now raise CheckpointError

def test_npy_file(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.arange(4.0))
    expect_checkpoint_error(path)


@pytest.mark.parametrize("field, value", [(10, 99), (8, 1)], ids=["compression", "encrypted"])
def test_corrupt_zip_directory_flags(tmp_path, saved, field, value):
    data = bytearray(saved[1])
    cd = data.index(b"PK\x01\x02")  # first central-directory entry
    data[cd + field] |= value
    path = tmp_path / "flags.npz"
    path.write_bytes(bytes(data))
    expect_checkpoint_error(path)


def test_format_version_not_integer(tmp_path, saved):
    arrays, meta = read_checkpoint(saved[0])
    path = tmp_path / "fv.npz"
    np.savez(path, meta=np.array(json.dumps(dict(meta, format_version="2"))), **arrays)
    expect_checkpoint_error(path)


def test_config_not_a_dict(tmp_path, saved):
    arrays, meta = read_checkpoint(saved[0])
    path = tmp_path / "cfg.npz"
    write_checkpoint(path, arrays, dict(meta, config=[]))
    expect_checkpoint_error(path)


def test_no_file_handle_leak(tmp_path, saved):
    path = tmp_path / "cut.npz"
    path.write_bytes(saved[1][: len(saved[1]) // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            relu1d.Run.load(path)
        except relu1d.CheckpointError:
            pass
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


def test_history_columns_of_different_lengths(tmp_path, saved):
    arrays, meta = read_checkpoint(saved[0])
    arrays["history_loss"] = arrays["history_loss"][:3]
    path = tmp_path / "hist.npz"
    write_checkpoint(path, arrays, meta)
    expect_checkpoint_error(path)
