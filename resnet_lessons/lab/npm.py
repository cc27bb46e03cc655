"""Web page files (JavaScript, CSS, fonts) fetched once from the npm registry, checked, kept in a cache.

visdom's page (:mod:`resnet_lessons.lab.visdom_assets`) and the lecture decks (:mod:`resnet_lessons.lab.slides`)
need libraries that their tools would load from CDNs. Each is taken from the npm registry at a pinned version:
fetched once as its tarball (with ``npm pack`` when npm is installed, else straight from the registry), checked
against the pinned sha512 integrity (a mismatch is refused), kept in ``<cache_dir>/npm/`` and unpacked from there.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from resnet_lessons.files import atomic_write

REGISTRY = "https://registry.npmjs.org"
DOWNLOAD_TIMEOUT = 60.0  # seconds per tarball


class AssetsError(RuntimeError):
    """A page's files are missing and could not be fetched; the message says what to do."""


@dataclass(frozen=True, eq=False)  # eq=False: hashable (by identity) despite its dict
class NpmPackage:
    """One npm package and which of its files go where in a page's folder."""

    name: str
    version: str
    integrity: str  # the registry's dist.integrity ("sha512-<base64>"), checked after download
    files: dict[str, str]  # path inside the package -> path under the page's folder; "dir/" copies a whole folder

    @property
    def tarball_name(self) -> str:
        return f"{self.name}-{self.version}.tgz"

    @property
    def url(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.tarball_name}"


def default_cache() -> Path:
    """Where the npm tarballs are kept: ``<cache_dir>/npm``."""
    from resnet_lessons.config import cache_dir

    return cache_dir() / "npm"


def _integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _cached(package: NpmPackage, cache: Path) -> bytes | None:
    """The package's tarball from the cache when it is there and intact, else None."""
    path = cache / package.tarball_name
    if path.is_file():
        data = path.read_bytes()
        if _integrity_of(data) == package.integrity:
            return data
        path.unlink()  # damaged or partial: fetch it again
    return None


def _download(packages: list[NpmPackage], cache: Path) -> None:
    """Fetch these tarballs into ``cache`` from the npm registry, each checked against its integrity."""
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        npm = shutil.which("npm")
        if npm:  # npm's own client (honours the user's registry, proxy and certificate settings), one call
            specs = [f"{p.name}@{p.version}" for p in packages]
            result = subprocess.run([npm, "pack", *specs, "--pack-destination", tmp, "--silent"],
                                    capture_output=True, text=True, timeout=600)
            if result.returncode != 0:
                last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no message"]
                raise AssetsError(f"`npm pack` failed ({last[0]})")
        else:
            for package in packages:
                with urllib.request.urlopen(package.url, timeout=DOWNLOAD_TIMEOUT) as response:
                    (Path(tmp) / package.tarball_name).write_bytes(response.read())
        for package in packages:
            fetched = Path(tmp) / package.tarball_name
            if not fetched.is_file():
                raise AssetsError(f"the npm registry gave no {package.tarball_name}")
            if _integrity_of(fetched.read_bytes()) != package.integrity:
                raise AssetsError(f"{package.tarball_name} from the npm registry does not match its pinned "
                                  "sha512 integrity, so it is not used")
            os.replace(fetched, cache / package.tarball_name)


def tarballs(packages: list[NpmPackage], cache: Path | None = None) -> dict[NpmPackage, bytes]:
    """Each package's checked tarball: from the cache, or fetched into it from the npm registry once.

    Raises :class:`AssetsError` (one line saying what failed) when a package cannot be fetched.
    """
    cache = default_cache() if cache is None else Path(cache)
    found = {p: _cached(p, cache) for p in packages}
    absent = [p for p, data in found.items() if data is None]
    if absent:
        try:
            _download(absent, cache)
        except (OSError, subprocess.SubprocessError) as e:
            names = ", ".join(f"{p.name}@{p.version}" for p in absent)
            raise AssetsError(f"could not fetch {names} from the npm registry ({type(e).__name__}: {e})") from e
        found.update({p: (cache / p.tarball_name).read_bytes() for p in absent})
    return found


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target) as f:  # never a half-written file, even with two installs at once
        f.write(data)


def unpack(package: NpmPackage, data: bytes, folder: Path) -> None:
    """Write the package's ``files`` (from its tarball's bytes ``data``) under ``folder``."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        for inside, dest in package.files.items():
            path = f"package/{inside}"
            if inside.endswith("/"):  # a folder: every file under it
                chosen = [name for name in members if name.startswith(path)]
                if not chosen:
                    raise AssetsError(f"{package.tarball_name} has no folder {inside}.")
                for name in chosen:
                    _write(folder / dest / name[len(path):], tar.extractfile(members[name]).read())
            elif path in members:
                _write(folder / dest, tar.extractfile(members[path]).read())
            else:
                raise AssetsError(f"{package.tarball_name} has no file {inside}.")
