"""The repository's conftest.py gives nbval's notebook cells a longer wait for their last outputs."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def _root_conftest():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_cells_wait_longer_than_nbvals_five_seconds():
    conftest = _root_conftest()
    cell = SimpleNamespace(output_timeout=5)  # what nbval's IPyNbCell sets
    conftest.pytest_itemcollected(cell)
    assert cell.output_timeout == conftest.NBVAL_OUTPUT_TIMEOUT > 5


def test_other_tests_are_left_alone():
    conftest = _root_conftest()
    item = SimpleNamespace(name="test_something")
    conftest.pytest_itemcollected(item)
    assert not hasattr(item, "output_timeout")


def test_nbval_still_sets_the_attribute_this_relies_on():
    """If a new nbval renames output_timeout, the setting above would silently do nothing: fail instead."""
    import inspect

    from nbval.plugin import IPyNbCell

    assert "self.output_timeout = " in inspect.getsource(IPyNbCell.__init__)
    assert "timeout=self.output_timeout" in inspect.getsource(IPyNbCell.runtest)
