"""resnet_lessons: the tested toolbox behind the notebooks of the resnet-lessons course.

One word, one meaning:

- a **model** is a network, named as ``build_model`` takes it (``"plain56"``, ``"resnext29_8x4d"``) and shown
  as ``display_name(name)`` (``"plain-56"``) (``resnet_lessons.models``);
- a **recipe** is how a model is trained: optimiser, schedule, batch size, label smoothing, and how the training
  images are served (seed, augmentation, validation split) (``recipes.Recipe``);
- a **run** is one training of one model with one recipe on one data set: ``plans.Run`` says what it trains
  and names it, ``train.fit`` trains it, and its **record** (``history.RunRecord``) says what it was and produced;
- a **plan** is the list of runs of a notebook's live experiment (``live.live_plan``) or of a lab experiment;
- an **experiment** is a named set of runs whose results are stored under ``results/``
  (``python -m resnet_lessons experiment NAME``).

The course layer (everything here outside ``lab/``) is what the notebooks call and a student reads; the lab
(``resnet_lessons.lab``) makes and stores the reference results and imports the course layer, never the reverse.
"""

from .config import get_device, is_fast, pick, set_fast, warn_unknown_variables

warn_unknown_variables()

__version__ = "0.1.0"

__all__ = ["get_device", "is_fast", "pick", "set_fast"]
