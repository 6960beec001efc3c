"""The key stays ours: it is added to a request only as it is sent, and taken out of every string
a server sends back (body, headers, error messages and details) before any of it is kept.

Apart from the client's decisions (``_client_base``) because it is one promise with one test file
(``test_redaction``): whatever path an answer takes, it passes :meth:`Redactor.answer` or
:meth:`Redactor.error` first.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Generator
from typing import Any

import httpx

from ._errors import CogVideoError, TaskFailedError
from ._wire import capped

__all__ = ["MASK", "BearerAuth", "Redactor"]

MASK = "********"
_SHORT_KEY = 8  # real keys are long and random; shorter ones are test keys
_HOP_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


class BearerAuth(httpx.Auth):
    """Adds the key at send time, so no frame of ours holds it in a local a traceback could show.

    Passed per request, never set on the httpx client: result files live on other hosts and
    must never receive the key.
    """

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = "Bearer " + self._token()
        yield request

    def __repr__(self) -> str:
        return "BearerAuth('********')"


def _mentions(data: Any, key: str) -> bool:
    if isinstance(data, str):
        return key in data
    if isinstance(data, list):
        return any(_mentions(v, key) for v in data)
    if isinstance(data, dict):
        return any(key in k or _mentions(v, key) for k, v in data.items())
    return False


class Redactor:
    """Removes the key (``key()``: empty when there is none) from what comes back.

    The key is asked for at each use, never kept: a client's settings may change it.
    """

    def __init__(self, key: Callable[[], str]) -> None:
        self._key = key

    def text(self, text: str) -> str:
        """``text`` without the key. A real key (8 characters or more) goes wherever it appears;
        a short test key only where it stands as a word of its own, or ``sk`` would take the
        middle out of ``task_status``."""
        key = self._key()
        if not key or key not in text:
            return text
        if len(key) >= _SHORT_KEY:
            return text.replace(key, MASK)
        return re.sub(rf"(?<![^\W_]){re.escape(key)}(?![^\W_])", MASK, text)

    def data(self, data: Any) -> Any:
        """Decoded JSON with the key removed from every string in it, keys of objects included."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, list):
            return [self.data(v) for v in data]
        if isinstance(data, dict):
            return {self.text(k): self.data(v) for k, v in data.items()}
        return data

    def error(self, error: CogVideoError) -> CogVideoError:
        """The last net: the key out of an error's text and fields, its message capped."""
        error.message = capped(self.text(error.message))
        error.args = (error.message,)
        if isinstance(error, TaskFailedError):
            error.detail = self.data(error.detail)
        return error

    def body(self, body: bytes) -> bytes:
        """An answer's body, the key removed from every string it decodes to, however escaped."""
        key = self._key()
        if not key:
            return body
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            # Not JSON: shown only as a snippet of an error, which error() cleans again. A short
            # (test) key is left in the raw bytes: replacing 2 letters would mangle the text.
            secret = key.encode()
            return body.replace(secret, MASK.encode()) if len(secret) >= _SHORT_KEY else body
        if not _mentions(data, key):
            return body  # left byte for byte
        return json.dumps(self.data(data), ensure_ascii=False).encode()

    def header(self, value: str) -> str:
        """A header value with the key removed, as written or once percent-decoded."""
        key = self._key()
        if not key:
            return value
        value = self.text(value)
        decoded = urllib.parse.unquote(value)
        return urllib.parse.quote(self.text(decoded), safe="") if key in decoded else value

    def answer(self, response: httpx.Response, body: bytearray) -> httpx.Response:
        """The answer rebuilt from its capped, decoded body and headers, the key scrubbed from
        every string in them: the one door through which a server's words come in."""
        headers = [
            (k, self.header(v)) for k, v in response.headers.multi_items() if k.lower() not in _HOP_HEADERS
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=self.body(bytes(body)), request=response.request
        )
