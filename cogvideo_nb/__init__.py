"""Generate video from a notebook: CogVideoX jobs as live cards, comparison grids, and an emulator.

``import cogvideo_nb`` loads only the pure core; IPython and ipywidgets are imported when the
extension is loaded (``%load_ext cogvideo_nb``) or a widget is made.
"""

from __future__ import annotations

from typing import Any

from ._client import AsyncClient, Client
from ._config import Settings, resolve_settings
from ._engine import Engine, generate, generate_many, get_engine, resume, submit
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
from ._wire import Download, TaskState, TaskStatus

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
    "build_request",
    "generate",
    "generate_many",
    "get_engine",
    "load_ipython_extension",
    "resolve_settings",
    "resume",
    "submit",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext cogvideo_nb``: IPython is imported here, not at package import."""
    from .magic import load_ipython_extension as _load

    _load(ipython)
