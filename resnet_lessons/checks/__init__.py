"""Exercise checkers: each compares a student's answer with the package's tested version and says,
in words, what is wrong. They print a verdict and return True/False; they never raise on a wrong
answer, so a notebook with an unfinished exercise still runs top to bottom.

Topic modules hold the checkers for each notebook; this module holds the shared tools.
"""

from .core import Verdict, check_module, check_number, copy_weights_by_order, count_params

__all__ = ["Verdict", "check_module", "check_number", "copy_weights_by_order", "count_params"]
