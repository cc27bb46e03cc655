"""Files that are never half-written and never silently wrong: atomic writes of a file or a folder, clean-up
after killed writes, checksums of tensors, and a check, before any work, that a folder can hold a file."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import torch

TMP_SUFFIX = ".tmp"


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``path`` (making its folder) for writing; on success it replaces ``path``.

        with atomic_write("history.json", "w") as f:
            json.dump(values, f)

    A rename is atomic, so a crash, a full disk or Ctrl-C while writing leaves the old file (or none), never
    half a file. The temporary file, ``<name>.<random>.tmp``, is removed when the write fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # on the disk before the rename, so a power cut cannot leave an empty file
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; give it the usual permissions
        os.replace(tmp, path)
    except BaseException:  # includes KeyboardInterrupt: never leave the temporary file behind
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def replaced_folder(folder: str | os.PathLike, keep_old: bool = True) -> Iterator[Path]:
    """Yield a temporary folder next to ``folder``; when the block ends without an error, it becomes ``folder``.

        with replaced_folder("results/depth") as new:
            write_json(new / "summary.json", summary)

    keep_old: the new folder starts as a copy of the old one (change some files, keep the rest); False starts
    it empty. If the block raises (Ctrl-C included), ``folder`` is left exactly as it was.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.new-"))
    old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old-")) / folder.name
    try:
        if keep_old and folder.is_dir():
            shutil.copytree(folder, new, dirs_exist_ok=True)
        yield new
        os.chmod(new, 0o755)  # mkdtemp makes the folder private; give it the usual permissions
        if folder.exists():
            os.replace(folder, old)
        os.replace(new, folder)
    except BaseException:
        if old.exists() and not folder.exists():  # the second rename failed: put the old folder back
            os.replace(old, folder)
        shutil.rmtree(new, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(old.parent, ignore_errors=True)


def remove_orphans(folder: str | os.PathLike, names: list[str]) -> list[Path]:
    """Delete ``<name>.*.tmp`` (and ``<name>*.tmp``) left in ``folder`` by interrupted writes of ``names``.

    Returns the deleted files. Only call it where no other process is writing those files.
    """
    folder = Path(folder)
    removed = []
    for name in names:
        for orphan in sorted(folder.glob(f"{name}*{TMP_SUFFIX}")):
            if orphan.is_file():
                orphan.unlink(missing_ok=True)
                removed.append(orphan)
    return removed


def tensor_checksum(value: object) -> str:
    """SHA-256 (64 hex digits) of a nested structure of dicts, lists, tuples, tensors and plain values.

    Each tensor adds its dtype, shape and bytes; each other value its ``repr``; dict keys are taken in
    sorted order, so the same contents always give the same checksum (CIFAR-10: about 0.2 s of CPU).
    """
    digest = hashlib.sha256()
    _update(digest, value)
    return digest.hexdigest()


def _update(digest, value: object) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest.update(f"tensor {t.dtype} {list(t.shape)}|".encode())
        if t.numel():
            digest.update(t.reshape(-1).view(torch.uint8).numpy())  # the raw bytes, whatever the dtype
    elif isinstance(value, dict):
        digest.update(f"dict {len(value)}|".encode())
        for key in sorted(value, key=repr):
            digest.update(f"{key!r}:".encode())
            _update(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__} {len(value)}|".encode())
        for item in value:
            _update(digest, item)
    else:
        digest.update(f"{value!r}|".encode())


def check_writable(folder: str | os.PathLike, size: int, name: str = "write-test") -> Path:
    """Create ``folder`` (and its parents) and reserve a file of ``size`` bytes in it, then delete it.

    Raises OSError (with the folder in its message) when the folder cannot be made or cannot hold such
    a file: a path that is a file, a read-only folder, a full disk. Returns the folder.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "it exists and is not a folder", str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=name + ".", suffix=TMP_SUFFIX)
    try:
        try:
            os.posix_fallocate(fd, 0, max(size, 1))  # asks the file system for the blocks, writes nothing
        except (AttributeError, OSError) as err:  # no posix_fallocate here (macOS, Windows, some file systems)
            if isinstance(err, OSError) and err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                raise
            block = b"\0" * (1 << 20)
            for start in range(0, size, len(block)):
                os.write(fd, block[: size - start])
        os.fsync(fd)
    finally:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
    return folder


def write_json(path: str | os.PathLike, value: object) -> Path:
    """Write ``value`` as indented JSON, atomically (a temporary file, then a rename)."""
    text = json.dumps(value, indent=1) + "\n"  # first: a bad value leaves no file at all
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)


def read_json(path: str | os.PathLike) -> dict:
    """Read a JSON file, with a clear error for a missing or broken one."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"No file at {path}.") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}).") from None
