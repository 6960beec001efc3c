"""The core stays pure: importing it loads neither IPython nor ipywidgets; the public names are pinned."""

from __future__ import annotations

import subprocess
import sys

import cogvideo_nb

CORE = [
    "cogvideo_nb",
    "cogvideo_nb._client",
    "cogvideo_nb._request",
    "cogvideo_nb._errors",
    "cogvideo_nb._config",
    "cogvideo_nb._retry",
    "cogvideo_nb._wire",
]


def test_core_imports_no_ui() -> None:
    ui = ("IPython", "ipywidgets", "ipykernel", "traitlets")
    code = "".join(f"import {m}\n" for m in ["sys", *CORE])
    code += f"print(sorted(m for m in sys.modules if m.split('.')[0] in {ui!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_are_pinned() -> None:
    assert sorted(cogvideo_nb.__all__) == sorted(
        [
            "MODELS", "APIError", "AsyncClient", "AuthenticationError", "BadRequestError", "Client",
            "CogVideoError", "ConfigError", "ContentFilterError", "Download", "DownloadError",
            "NetworkError", "PermissionDeniedError", "ProtocolError", "QuotaError", "RateLimitError",
            "RetryPolicy", "ServerError", "Settings", "TaskFailedError", "TaskState", "TaskStatus",
            "ValidationError", "VideoRequest", "WaitTimeoutError", "__version__", "build_request",
            "load_ipython_extension", "resolve_settings",
        ]
    )  # fmt: skip
    for name in cogvideo_nb.__all__:
        assert hasattr(cogvideo_nb, name), name


def test_every_error_descends_from_the_root() -> None:
    errors = [getattr(cogvideo_nb, n) for n in cogvideo_nb.__all__ if n.endswith("Error")]
    assert len(errors) == 16  # the root and its fifteen descendants
    assert all(issubclass(e, cogvideo_nb.CogVideoError) for e in errors)
