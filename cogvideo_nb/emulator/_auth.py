"""Who is calling: a bearer token (plain key or the SDKs' HS256 JWT) to an account fingerprint."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

__all__ = ["key_identity"]


def key_identity(token: str, accepted: frozenset[str] | None) -> str | None:
    """A stable account fingerprint for a bearer token, or None if the token is refused.

    A plain ``id.secret`` key and the SDK's HS256 JWT built from it map to the same account, so
    per-key limits and request_id dedup hold whichever way a client authenticates.
    """
    parts = token.split(".")
    claims = _jwt_claims(parts[1]) if len(parts) == 3 else None
    if claims is not None and isinstance(claims.get("api_key"), str):
        key_id: str = claims["api_key"]
        if accepted is not None:
            secrets_ = [k.split(".", 1)[1] for k in accepted if k.split(".", 1)[0] == key_id and "." in k]
            exp = claims.get("exp")
            if not any(_jwt_signed(parts, s) for s in secrets_):
                return None
            if isinstance(exp, (int, float)) and exp < time.time() * 1000:
                return None
    else:
        if accepted is not None and token not in accepted:
            return None
        key_id = token.split(".", 1)[0]
    return hashlib.sha256(key_id.encode("utf-8")).hexdigest()[:16]


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwt_claims(payload: str) -> dict[str, Any] | None:
    try:
        claims = json.loads(_b64url(payload))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _jwt_signed(parts: list[str], secret: str) -> bool:
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    expected = hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()
    try:
        return hmac.compare_digest(expected, _b64url(parts[2]))
    except (binascii.Error, ValueError):
        return False
