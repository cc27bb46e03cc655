"""resnet_lessons: the tested toolbox behind the notebooks of the resnet-lessons course.

One word, one meaning:

- a **model** is a network, with one name everywhere, the one ``build_model`` takes (``"plain56"``,
  ``"preact_resnet20"``, ``"resnext29_8x4d"``); figures and tables show ``display_name(name)``
  (``"plain-56"``) (``resnet_lessons.models``);
- a **recipe** is how a model is trained: optimiser, learning-rate schedule, batch size, label smoothing,
  and how the training images are served (seed, augmentation, validation split) (``recipes.Recipe``);
- a **run** is one training of one model with one recipe on one data set: ``plans.Run`` says what it
  trains and names it (the model's shown name, or a label such as ``"resnet-20 (second seed)"``),
  ``train.fit`` trains it;
- a **plan** is the list of runs a notebook's live experiment (fast or full size, ``live.live_plan``) or a
  lab experiment (full or smoke size, ``lab.plans``) trains;
- its **record** is what the run was and produced (``history.RunRecord``, inside its ``History``);
- an **experiment** is a named set of runs whose results are stored under ``results/``
  (``python -m resnet_lessons experiment NAME``).

The course layer (everything here outside ``lab/``) is what the notebooks call and a student reads; the
lab (``resnet_lessons.lab``) makes and stores the reference results and imports the course layer, never
the other way round.
"""

from .config import get_device, is_fast, pick, set_fast, warn_unknown_variables

warn_unknown_variables()

__version__ = "0.1.0"

__all__ = ["get_device", "is_fast", "pick", "set_fast"]
