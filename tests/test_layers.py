"""The course layer (everything in resnet_lessons/ outside lab/) imports nothing from the lab.

The lab makes and stores the course's evidence and imports the course layer; the course layer is what a
student reads, and it must work without the lab. ``__main__.py`` is the command line's entry point, which
dispatches to the lab (``experiment``, ``visdom``), so it is not part of the course layer.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "resnet_lessons"
ENTRY_POINT = PACKAGE / "__main__.py"


def imported_modules(path: Path, root: Path = PACKAGE) -> list[str]:
    """Every module ``path`` (a file of the package in ``root``) imports, anywhere in the file (functions
    included), as absolute names."""
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def lab_imports(path: Path, root: Path = PACKAGE) -> list[str]:
    return [m for m in imported_modules(path, root) if m == "resnet_lessons.lab" or m.startswith("resnet_lessons.lab.")]


def course_layer() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "lab" not in p.relative_to(PACKAGE).parts[:-1]
            and p != ENTRY_POINT]


def test_the_course_layer_imports_nothing_from_the_lab():
    modules = course_layer()
    assert PACKAGE / "train.py" in modules and PACKAGE / "models" / "cifar.py" in modules
    assert not any("lab" in p.parts for p in modules)
    offenders = {str(p.relative_to(PACKAGE)): lab_imports(p) for p in modules if lab_imports(p)}
    assert offenders == {}


def test_the_check_finds_every_way_of_importing_the_lab(tmp_path):
    """Planted imports of the lab, relative and absolute, at the top and inside a function, are all found."""
    fake = tmp_path / "resnet_lessons"
    (fake / "models").mkdir(parents=True)
    top = fake / "plots.py"
    top.write_text("from .lab.reference import load_reference\nimport torch\n")
    nested = fake / "models" / "cifar.py"
    nested.write_text("def f():\n    from ..lab import store\n    import resnet_lessons.lab.cli\n")
    clean = fake / "loop.py"
    clean.write_text("from .lab_notes import x\nfrom . import config\n")  # a name that only starts like it
    assert lab_imports(top, fake) == ["resnet_lessons.lab.reference", "resnet_lessons.lab.reference.load_reference"]
    assert lab_imports(nested, fake) == ["resnet_lessons.lab", "resnet_lessons.lab.store", "resnet_lessons.lab.cli"]
    assert lab_imports(clean, fake) == []
