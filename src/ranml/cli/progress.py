"""Progress for long CLI commands: a rich bar on a terminal, plain log lines anywhere else.

A redirected stdout (CI logs, ``> file``) gets one line per event, each ending in a newline, instead
of a bar redrawn with carriage returns.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["LineProgress", "make_progress"]


class LineProgress:
    """The part of :class:`rich.progress.Progress` the CLI uses, printed as plain lines.

    A line is printed when a task is added and whenever it advances or its text changes; repeated
    updates that change nothing print nothing.
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._tasks: dict[TaskID, dict[str, Any]] = {}
        self._start = time.monotonic()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> TaskID:
        """Start a task; returns its id."""
        task_id = TaskID(len(self._tasks))
        self._tasks[task_id] = {"description": description, "total": total, "completed": 0, "fields": fields}
        self._emit(task_id)
        return task_id

    def update(self, task_id: TaskID, *, total: float | None = None, completed: float | None = None,
               advance: float | None = None, description: str | None = None, **fields: Any) -> None:
        """Change a task's numbers or text; prints a line if anything changed."""
        task = self._tasks[task_id]
        before = (task["description"], task["total"], task["completed"], dict(task["fields"]))
        if total is not None:
            task["total"] = total
        if completed is not None:
            task["completed"] = completed
        if advance is not None:
            task["completed"] += advance
        if description is not None:
            task["description"] = description
        task["fields"].update(fields)
        if (task["description"], task["total"], task["completed"], task["fields"]) != before:
            self._emit(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        """Move a task on by ``advance``."""
        self.update(task_id, advance=advance)

    def _emit(self, task_id: TaskID) -> None:
        task = self._tasks[task_id]
        elapsed = int(time.monotonic() - self._start)
        done = f"{task['completed']:g}/{task['total']:g}" if task["total"] is not None else f"{task['completed']:g}"
        extra = " ".join(str(v) for v in task["fields"].values() if v not in (None, ""))
        line = f"[{elapsed // 60:d}:{elapsed % 60:02d}] {task['description']}: {done}" + (f"  {extra}" if extra else "")
        self._console.print(line, markup=True, highlight=False, soft_wrap=True)


def make_progress(console: Console, *columns: Any) -> Progress | LineProgress:
    """A rich progress bar when ``console`` is a terminal, else a :class:`LineProgress`.

    ``columns`` default to description, bar, done/total and elapsed time.
    """
    if not console.is_terminal:
        return LineProgress(console)
    cols = columns or (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn())
    return Progress(*cols, console=console, transient=False)
