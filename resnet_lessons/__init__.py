"""resnet_lessons: the tested toolbox behind the notebooks of the resnet-lessons course."""

from .config import get_device, is_fast, pick, set_fast, warn_unknown_variables

warn_unknown_variables()

__version__ = "0.1.0"

__all__ = ["get_device", "is_fast", "pick", "set_fast"]
