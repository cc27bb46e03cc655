"""Exercise checkers: each compares a student's answer with the package's tested version and says, in words,
what is wrong. They print a verdict ("Correct: ...", "Not yet: ..." or "Not answered yet: ...") and return it
(truthy when right); they never raise, so a notebook with an unfinished exercise still runs top to bottom.
Topic modules hold each notebook's checkers; :mod:`.core` the shared tools.
"""

from .core import Verdict, check_module, check_number, copy_weights_by_order, count_params, randomise_batchnorm

__all__ = ["Verdict", "check_module", "check_number", "copy_weights_by_order", "count_params", "randomise_batchnorm"]
