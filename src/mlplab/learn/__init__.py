"""Lessons built from the five tutorials: tasks whose answers are checked on the learner's own
objects, with hints and solutions, in English and Chinese.

>>> from mlplab.learn import lesson
>>> L = lesson("circles", lang="en")
>>> L.spec.tutorial, len(L.spec.steps)
('002', 2)

Lessons are :data:`~mlplab.learn.lessons.LESSONS`; ``mlplab learn`` lists them with the
learner's progress and writes any of them as a notebook.
"""

from __future__ import annotations

from mlplab.learn.lessons import LESSONS, get_lesson
from mlplab.learn.teacher import Lesson, Result, lesson

__all__ = ["LESSONS", "Lesson", "Result", "get_lesson", "lesson"]
