"""Generate video from a notebook: CogVideoX jobs as live cards, comparison grids, and an emulator.

``import cogvideo_nb`` loads only the pure core; IPython and ipywidgets are imported when the
extension is loaded (``%load_ext cogvideo_nb``) or a widget is made.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _local as _local  # the emulator stands in when there is no key (see _local)
from ._api import generate, generate_many, rate, report, resume, submit
from ._client import AsyncClient, Client
from ._config import Settings, resolve_settings
from ._cost import PaidJobsError
from ._engine import Engine, get_engine
from ._enhance import aenhance, enhance
from ._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CogVideoError,
    ConfigError,
    ContentFilterError,
    DownloadError,
    DuplicateRequestError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    QuotaError,
    RateLimitError,
    ServerError,
    TaskFailedError,
    ValidationError,
    WaitTimeoutError,
)
from ._jobs import Job, JobStatus
from ._models import MODELS
from ._request import VideoRequest, build_request
from ._retry import RetryPolicy
from ._translate import atranslate, translate
from ._wire import Download, TaskState, TaskStatus

if TYPE_CHECKING:
    from ._media import last_frame, stitch, tile

# PyAV, numpy and Pillow (~200 ms) load when a media tool is first used, not at import.
_LAZY = {"last_frame": "._media", "stitch": "._media", "tile": "._media"}

__version__ = "0.1.0"

__all__ = [
    "MODELS",
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "CogVideoError",
    "ConfigError",
    "ContentFilterError",
    "Download",
    "DownloadError",
    "DuplicateRequestError",
    "Engine",
    "Job",
    "JobStatus",
    "NetworkError",
    "NotFoundError",
    "PaidJobsError",
    "PermissionDeniedError",
    "ProtocolError",
    "QuotaError",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "Settings",
    "TaskFailedError",
    "TaskState",
    "TaskStatus",
    "ValidationError",
    "VideoRequest",
    "WaitTimeoutError",
    "__version__",
    "aenhance",
    "atranslate",
    "build_request",
    "enhance",
    "gallery",
    "generate",
    "generate_many",
    "get_engine",
    "last_frame",
    "load_ipython_extension",
    "rate",
    "report",
    "resolve_settings",
    "resume",
    "stitch",
    "submit",
    "tile",
    "translate",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext cogvideo_nb``: IPython is imported here, not at package import."""
    from .magic import load_ipython_extension as _load

    _load(ipython)


def gallery(**options: Any) -> Any:
    """Every job of the output folder as a gallery of posters (a widget: make it a cell's last
    line). Filters to open with: ``text``, ``model``, ``status`` ("active": in flight), ``rating``
    ("unrated", or 1-5: that many stars or more), ``since``/``until`` (YYYY-MM-DD) and ``sort``
    ("newest", "oldest", "rating"); settings as ``get_engine``'s (``output_dir=``). Loads the
    notebook libraries, as ``%load_ext`` does."""
    from .widgets._gallery import open_gallery

    return open_gallery(**options)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
