"""Progress bars that read as finished in a saved notebook.

``tqdm`` here is ``tqdm.auto.tqdm`` (a text bar in a terminal, a widget bar in Jupyter), except that in
Jupyter each bar, when it closes, replaces its widget by one line of plain text:

- a finished bar kept on screen (``leave=True``, the default) leaves its last line, e.g.
  ``resnet-20: 100%|██████████| 3/3 [00:41<00:00, 13.7s/epoch, loss=1.412, test_acc=48.1%]``;
- a finished bar with ``leave=False`` (the per-epoch bars) leaves nothing;
- a bar stopped early (Ctrl-C, an error) leaves the line where it stopped.

Why: a notebook stores a widget as a reference to a model that lives only in the kernel, plus a text
copy of the bar taken when it first appeared (``0%| | 0/3 [00:00<?, ?epoch/s]``). Reopened, JupyterLab
shows "Error displaying widget: model not found" and GitHub shows that frozen first state. Replacing
the output on close (through the display handle of the bar's own output) stores the final text instead.
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
