"""Checkpoint files: one npz archive (no pickle) holding arrays and a JSON metadata string.

Written atomically: the archive goes to a temporary file in the same folder, is flushed to disk,
then renamed over the target, so a kill at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["CheckpointError", "write_checkpoint", "read_checkpoint", "FORMAT", "FORMAT_VERSION"]

FORMAT = "relu1d-run"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a readable relu1d checkpoint (truncated, foreign or corrupt)."""


def write_checkpoint(path, arrays: dict, meta: dict) -> str:
    """Atomically write ``arrays`` (name -> ndarray) and ``meta`` (JSON-able) to ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION)
    payload = {name: np.asarray(a) for name, a in arrays.items()}
    payload["meta"] = np.array(json.dumps(meta))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path


def read_checkpoint(path):
    """(arrays, meta) from a checkpoint, or CheckpointError saying what is wrong."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"path: no such checkpoint: {path}")
    if os.path.isdir(path):
        raise CheckpointError(f"path: {path} is a directory, not a relu1d checkpoint")
    try:
        with open(path, "rb") as fh:  # our handle: closed even when np.load fails half-way
            loaded = np.load(fh, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("not an npz archive")
            with loaded as f:
                arrays = {name: f[name] for name in f.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError, NotImplementedError,
            RuntimeError) as exc:
        raise CheckpointError(f"path: {path} is not a readable relu1d checkpoint (truncated or foreign "
                              f"file: {exc})") from None
    if "meta" not in arrays:
        raise CheckpointError(f"path: {path} is not a relu1d checkpoint (no metadata)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (json.JSONDecodeError, TypeError) as exc:
        raise CheckpointError(f"path: {path} has corrupt metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"path: {path} is not a relu1d checkpoint (format {meta.get('format')!r})"
                              if isinstance(meta, dict) else f"path: {path} has corrupt metadata")
    version = meta.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"path: {path} has corrupt metadata (format_version {version!r})")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"path: {path} was written by a newer relu1d (format version "
                              f"{meta['format_version']}); upgrade relu1d to read it")
    return arrays, meta
