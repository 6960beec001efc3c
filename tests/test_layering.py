"""The core stays pure: importing it loads neither IPython nor ipywidgets; the public names are pinned."""

from __future__ import annotations

import subprocess
import sys

import cogvideo_nb

CORE = [
    "cogvideo_nb",
    "cogvideo_nb._client",
    "cogvideo_nb._client_base",
    "cogvideo_nb._request",
    "cogvideo_nb._errors",
    "cogvideo_nb._config",
    "cogvideo_nb._retry",
    "cogvideo_nb._wire",
    "cogvideo_nb._downloads",
    "cogvideo_nb._jobs",
    "cogvideo_nb._ledger",
    "cogvideo_nb._ledger_rows",
    "cogvideo_nb._ledger_io",
    "cogvideo_nb._pacing",
    "cogvideo_nb._scheduler",
    "cogvideo_nb._engine",
    "cogvideo_nb._enhance",
    "cogvideo_nb._media",
    "cogvideo_nb._report",
    "cogvideo_nb._cost",
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
            "NetworkError", "NotFoundError", "PermissionDeniedError", "ProtocolError", "QuotaError",
            "RateLimitError",
            "RetryPolicy", "ServerError", "Settings", "TaskFailedError", "TaskState", "TaskStatus",
            "ValidationError", "VideoRequest", "WaitTimeoutError", "__version__", "build_request",
            "load_ipython_extension", "resolve_settings", "Engine", "Job", "JobStatus", "generate",
            "generate_many", "get_engine", "resume", "submit", "DuplicateRequestError",
            # issue 15: prompt craft and video tools
            "PaidJobsError", "enhance", "aenhance", "last_frame", "stitch", "tile", "rate", "report",
        ]
    )  # fmt: skip
    for name in cogvideo_nb.__all__:
        assert hasattr(cogvideo_nb, name), name


def test_every_error_descends_from_the_root() -> None:
    errors = [getattr(cogvideo_nb, n) for n in cogvideo_nb.__all__ if n.endswith("Error")]
    assert len(errors) == 19  # the root and its eighteen descendants
    assert all(issubclass(e, cogvideo_nb.CogVideoError) for e in errors)


def test_core_modules_never_import_the_ui_layer() -> None:
    """Imports only point down: magic and widgets use the core, never the reverse."""
    import ast
    from pathlib import Path

    ui = {"IPython", "ipywidgets", "anywidget", "traitlets", "ipykernel"}
    pkg = Path(cogvideo_nb.__file__).parent
    for path in sorted(p for p in pkg.glob("_*.py") if not p.name.startswith("__")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                if node.level and (node.module or "").split(".")[0] in ("magic", "widgets"):
                    raise AssertionError(f"{path.name} imports the UI module {node.module}")
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any(n.split(".")[0] in ui for n in names), f"{path.name} imports {names}"
