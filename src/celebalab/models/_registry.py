"""The task registry: ``TrainConfig.task`` → the :class:`~celebalab.models._tasks.Task` that
trains it.

Task modules import :mod:`celebalab.models._tasks` (the base class) and nothing above it; this
module imports every task, so the flow (:mod:`celebalab.models._train`) asks here and no task
module imports another.
"""

from __future__ import annotations

from celebalab.models._identity import IdentityTask
from celebalab.models._tasks import AttributeTask, Task
from celebalab.models.config import TrainConfig

#: Named tasks; any other ``--task`` is one attribute's binary task (:class:`AttributeTask`).
TASKS: dict[str, type[Task]] = {"attributes": AttributeTask, "identity": IdentityTask}


def get_task(config: TrainConfig) -> Task:
    """The :class:`Task` of ``config.task``."""
    return TASKS.get(config.task, AttributeTask)(config)
