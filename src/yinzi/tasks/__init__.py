"""What a worker does with an order's input, one module per order family.

Each task turns a local input file into result files (with their business names) and reports
how many seconds of audio it decoded, which is what the order is charged for. Tasks call engines
and media; they know nothing of HTTP, credits or storage.
"""

from __future__ import annotations

from yinzi.tasks import music, separation, transcription
from yinzi.tasks.base import Output, Task, TaskResult

TASKS: dict[str, Task] = {
    "separation": separation.run,
    "transcription": transcription.run,
    "music": music.run,
}

__all__ = ["TASKS", "Output", "Task", "TaskResult"]
