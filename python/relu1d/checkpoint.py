"""Checkpoint files: one npz archive (no pickle) holding arrays and a JSON metadata string.

Written atomically: the archive goes to a temporary file in the same folder, is flushed to disk,
then renamed over the target, so a kill at any moment leaves the previous checkpoint intact. Files
get the permissions of the user's umask. A temporary file left by a killed writer
(``<name>.<pid>.<token>.tmp``) is removed by the next save of the same path once its process is gone.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import zipfile

import numpy as np

__all__ = ["CheckpointError", "CheckpointWarning", "write_checkpoint", "read_checkpoint", "FORMAT", "FORMAT_VERSION"]

FORMAT = "relu1d-run"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a readable relu1d checkpoint (truncated, foreign or corrupt)."""


class CheckpointWarning(RuntimeWarning):
    """A checkpoint could not be written (e.g. disk full); the run itself goes on."""


def _as_path(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a file path, got {type(path).__name__}")
    path = os.fspath(path)
    return os.fsdecode(path) if isinstance(path, bytes) else path


def write_checkpoint(path, arrays: dict, meta: dict) -> str:
    """Atomically write ``arrays`` (name -> ndarray) and ``meta`` (JSON-able) to ``path``.

    A missing folder is created; a path that is a directory raises IsADirectoryError (an OSError,
    like any other failure to write) before anything is written."""
    path = _as_path(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"path: {path} is a directory; give a file name, e.g. {os.path.join(path, 'run.npz')}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION)
    payload = {name: np.asarray(a) for name, a in arrays.items()}
    payload["meta"] = np.array(json.dumps(meta))
    base = os.path.basename(path)
    _remove_stale_temporaries(folder, base)
    tmp = os.path.join(folder, f"{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # mode 0o666 filtered by the umask, as for any file the user creates
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
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


_LEGACY_TMP_AGE = 3600.0  # seconds after which a temporary file without a writer pid counts as stale


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or cannot tell: keep its file
    return True


def _remove_stale_temporaries(folder: str, base: str) -> None:
    """Delete temporary files of earlier saves of ``base`` whose writer is gone (killed mid-write)."""
    pattern = re.compile(re.escape(base) + r"\.(?:(\d+)\.[0-9a-f]{8}|[A-Za-z0-9_]{8})\.tmp\Z")
    try:
        names = os.listdir(folder)
    except OSError:
        return
    now = time.time()
    for name in names:
        match = pattern.match(name)
        if match is None:
            continue
        full = os.path.join(folder, name)
        try:
            if match.group(1) is not None:  # <base>.<pid>.<token>.tmp
                pid = int(match.group(1))
                if pid == os.getpid() or _process_alive(pid):
                    continue
            elif now - os.path.getmtime(full) < _LEGACY_TMP_AGE:  # <base>.<random>.tmp (older writers)
                continue
            os.unlink(full)
        except OSError:
            pass


def _describe_foreign(head: bytes) -> str:
    """What a file that is not a zip (npz) archive seems to be, from its first bytes."""
    if not head:
        return "an empty file"
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array (np.save), not an npz archive"
    if head[:1] == b"\x80":
        return "a Python pickle"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary file that is not an npz archive"
    return "a text file (CSV?), not an npz archive"


def read_checkpoint(path):
    """(arrays, meta) from a checkpoint, or CheckpointError saying what is wrong."""
    path = _as_path(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"path: no such checkpoint: {path}")
    if os.path.isdir(path):
        raise CheckpointError(f"path: {path} is a directory, not a relu1d checkpoint")
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise CheckpointError(f"path: cannot read {path} ({exc.strerror or exc})") from None
    if not head.startswith(b"PK\x03\x04"):
        raise CheckpointError(f"path: {path} is not a relu1d run file: it is {_describe_foreign(head)} (run "
                              f"files are npz archives written by Run.save or train(checkpoint=...))")
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
