"""Provenance: the facts that tell how a stored result was made, so that anyone can make it again.

Every experiment writes, next to its histories and figure, a ``provenance.json`` built from these functions:

    >>> record = environment()          # python, torch, torchvision, the GPU (or CPU), device count
    >>> record["git"] = git_state()     # commit of the code, and whether it had uncommitted changes
    >>> record["data"] = data_facts(data)   # which copy of CIFAR-10, from where, how many images
"""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import torch

from ..config import CACHE_ENV, DATA_ENV, REPO_DIR

PACKAGE_DIR = REPO_DIR / "resnet_lessons"


def utc_now() -> str:
    """The current time in UTC, ISO 8601, to the second: ``"2025-01-31T14:05:09+00:00"``."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()


def portable_path(path: str | os.PathLike) -> str:
    """``path`` as a record can quote it on any machine, never the absolute path of this one.

    Inside the data root, the cache root or the repository it is written relative to it:
    ``$RESNET_LESSONS_DATA``, ``$RESNET_LESSONS_CACHE/cifar10.pt``, ``results/depth``; inside the
    home folder as ``~/...``; anywhere else only its last part (the folder's name).
    """
    path = Path(path).expanduser().resolve()
    cache = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "resnet_lessons"
    roots = {f"${DATA_ENV}": os.environ.get(DATA_ENV), f"${CACHE_ENV}": cache, "": REPO_DIR, "~": Path.home()}
    for name, root in roots.items():
        if not root:
            continue
        root = Path(root).expanduser().resolve()
        if path.is_relative_to(root):
            relative = path.relative_to(root).as_posix()
            if not name:
                return relative
            return name if relative == "." else f"{name}/{relative}"
    return path.name


def command_line(argv: list[str] | None = None, prefix: str = "python -m resnet_lessons") -> str:
    """The command as a user would type it again, e.g. ``"python -m resnet_lessons experiment depth"``;
    absolute paths in it are written with :func:`portable_path`."""
    argv = sys.argv[1:] if argv is None else argv
    words = [portable_path(a) if os.path.isabs(a) else a for a in argv]
    return " ".join([prefix, *(shlex.quote(w) if not w.startswith(("$", "~")) else w for w in words)])


def _git(*args: str, cwd: Path = REPO_DIR) -> str | None:
    """Output of ``git args...`` in ``cwd``, or None when git is missing or this is not a checkout."""
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


COMMIT_ENV = "RESNET_LESSONS_COMMIT"
"""Where the code was copied without its ``.git`` folder (e.g. to a GPU machine), the commit it came from."""


def git_state(repo_dir: str | os.PathLike = REPO_DIR) -> dict:
    """``{"commit": "<40 hex digits>" or "unknown", "dirty": bool or None (unknown)}``.

    ``dirty``: whether tracked or new files differed from the commit when the run started (``results/`` and
    ``checkpoints/`` are left out: runs write there). Outside a git checkout the commit comes from
    ``$RESNET_LESSONS_COMMIT`` when set, with ``"dirty": None`` (only :func:`code_fingerprint` can tell).
    """
    repo_dir = Path(repo_dir)
    commit = _git("rev-parse", "HEAD", cwd=repo_dir)
    if not commit:
        return {"commit": os.environ.get(COMMIT_ENV, "").strip() or "unknown", "dirty": None}
    status = _git("status", "--porcelain", "--", ".", ":(exclude)results", ":(exclude)checkpoints", cwd=repo_dir)
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def code_fingerprint(package_dir: str | os.PathLike = PACKAGE_DIR) -> str:
    """SHA-256 (first 16 hex digits) of every ``.py`` file of the package, by relative path and content.

    Two runs with the same fingerprint ran the same code, even where the commit cannot tell (uncommitted changes,
    or code copied to a GPU machine without its ``.git`` folder).
    """
    package_dir = Path(package_dir)
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def device_facts() -> dict:
    """The accelerator: ``{"device": "NVIDIA H100 80GB HBM3" or "CPU (2 threads)", "device_count": 1, ...}``."""
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        return {
            "device": torch.cuda.get_device_name(0),
            "device_type": "cuda",
            "device_count": count,
            "devices": [torch.cuda.get_device_name(i) for i in range(count)],
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
        }
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return {"device": "Apple MPS", "device_type": "mps", "device_count": 1}
    return {
        "device": f"CPU ({torch.get_num_threads()} threads)",
        "device_type": "cpu",
        "device_count": 0,
        "cpu": platform.processor() or platform.machine(),
    }


def environment() -> dict:
    """Versions and hardware: python, resnet_lessons, torch, torchvision, platform, the device."""
    import torchvision

    from .. import __version__

    return {
        "python": platform.python_version(),
        "resnet_lessons": __version__,
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        **device_facts(),
    }


def data_facts(data) -> dict:
    """Which data a run saw (a :class:`resnet_lessons.data.CIFAR10Tensors`): the label to quote, the source, the
    folder (see :func:`portable_path`) and the split sizes."""
    root = getattr(data, "root", "") or ""
    where = portable_path(root) if root else ""
    return {
        "label": getattr(data, "data_label", "") or data.source,
        "source": data.source.replace(str(root), where) if root else data.source,
        "root": where,
        "train_images": len(data.train_labels),
        "test_images": len(data.test_labels),
        "subset": getattr(data, "subset_note", "") or "full data",
    }
