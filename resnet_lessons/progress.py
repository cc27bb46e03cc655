"""Progress bars that read as finished in a saved notebook.

``tqdm`` here is ``tqdm.auto.tqdm``, except that in Jupyter a bar, when it closes, replaces its widget by
one line of plain text: its last line when kept (``leave=True``) or stopped early, nothing otherwise.
A saved widget is only a reference to a model in the kernel plus a copy of the bar's first state
(``0%| | 0/3``): reopened, JupyterLab shows "Error displaying widget" and GitHub that frozen first state.
"""

from __future__ import annotations

from tqdm.auto import tqdm as _auto_tqdm
from tqdm.notebook import tqdm as _notebook_tqdm

__all__ = ["tqdm", "NotebookBar"]


class NotebookBar(_notebook_tqdm):
    """tqdm's Jupyter widget bar that turns into plain text when it closes (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        from IPython.display import display

        kwargs["display"] = False  # we display the widget ourselves, to keep a handle on its output
        super().__init__(*args, **kwargs)
        self._handle = None if self.disable else display(self.container, display_id=True)

    def close(self) -> None:
        handle, self._handle = getattr(self, "_handle", None), None
        super().close()
        if handle is None:  # disabled, or already closed
            return
        stopped_early = bool(self.total) and self.n < self.total
        text = self.format_meter(**self.format_dict) if (self.leave or stopped_early) else ""
        handle.update({"text/plain": text}, raw=True)
        self.container.close()  # the widget is gone from the page; free its model in the kernel


# In a Jupyter kernel with ipywidgets, tqdm.auto picks the notebook bar; then use ours instead.
tqdm = NotebookBar if issubclass(_auto_tqdm, _notebook_tqdm) else _auto_tqdm
