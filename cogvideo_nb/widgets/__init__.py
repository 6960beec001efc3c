"""Notebook widgets: the live job card, the comparison grid and the prompt-builder form.

Importing this loads ipywidgets and anywidget; the core package never does.
"""

from ._card import JobCard
from ._form import PromptForm, assemble
from ._grid import CompareGrid

__all__ = ["CompareGrid", "JobCard", "PromptForm", "assemble"]
