"""pytest settings for every run in this repository, the nbval runs over notebooks/ and student/ included.

nbval waits at most 5 seconds (a constant in nbval 0.11, ``IPyNbCell.output_timeout``) for each message a
cell sends after it has finished. On a busy machine, with two notebooks running at once on 2 cores, a
training cell's last progress bars and figure updates can take longer than that to arrive, and nbval then
fails the cell although it ran correctly (nbval issues #136 and #231 ask for the setting). This gives every
notebook cell a minute instead. A cell that really hangs is still stopped, by ``--nbval-cell-timeout``.
"""

NBVAL_OUTPUT_TIMEOUT = 60
"""Seconds nbval waits for each output message of a finished cell."""


def pytest_itemcollected(item) -> None:
    if hasattr(item, "output_timeout"):  # a notebook cell collected by nbval
        item.output_timeout = NBVAL_OUTPUT_TIMEOUT
