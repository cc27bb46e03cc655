"""pyproject.toml (pip) and environment.yml (conda) must list the same packages with the same pins."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {"pytorch": "torch"}
NOT_PACKAGES = {"python", "pip"}


def _split(requirement: str) -> tuple[str, str]:
    """'torchinfo==1.8.0' -> ('torchinfo', '==1.8.0'); conda's single '=' pin becomes '=='."""
    requirement = requirement.split(";")[0].strip()
    match = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    name, spec = match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")
    if re.fullmatch(r"=[^=].*", spec):
        spec = "=" + spec
    return CONDA_TO_PYPI.get(name, name), spec


def pyproject_packages() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return dict(_split(r) for r in requirements)


def conda_packages(text: str | None = None) -> dict[str, str]:
    text = (ROOT / "environment.yml").read_text() if text is None else text
    packages = {}
    in_dependencies = False
    for line in text.splitlines():
        if line.startswith("dependencies:"):
            in_dependencies = True
            continue
        item = re.match(r"  - ([^\s#].*)", line)  # top-level items only, not the pip: sub-list
        if in_dependencies and item and not item.group(1).startswith("pip:"):
            name, spec = _split(item.group(1))
            if name not in NOT_PACKAGES:
                packages[name] = spec
    return packages


def test_environment_yml_lists_the_same_packages_as_pyproject():
    pip, conda = pyproject_packages(), conda_packages()
    assert set(pip) == set(conda), (
        f"only in pyproject.toml: {sorted(set(pip) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(pip))}"
    )


def test_pins_agree():
    pip, conda = pyproject_packages(), conda_packages()
    different = {n: (pip[n], conda[n]) for n in pip if n in conda and pip[n] != conda[n]}
    assert not different, f"version specifiers differ (pyproject, environment.yml): {different}"


def test_torchinfo_is_pinned_for_stable_notebook_outputs():
    assert pyproject_packages()["torchinfo"] == "==1.8.0"


def test_parser_sees_a_drift():
    """The comparison itself can fail: a package missing from one side is noticed."""
    text = (ROOT / "environment.yml").read_text()
    assert "tqdm" in conda_packages(text)
    assert "tqdm" not in conda_packages(text.replace("  - tqdm>=4.66\n", ""))
    assert conda_packages(text.replace("torchinfo=1.8.0", "torchinfo=1.9.0"))["torchinfo"] == "==1.9.0"
