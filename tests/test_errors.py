"""Every row of the API notes' error table maps to the right class, with its fields."""

from __future__ import annotations

import json

import pytest

from cogvideo_nb import _errors as e


def body(code: str, message: str = "msg") -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "code", "cls", "retryable"),
    [
        *[(400, str(c), e.BadRequestError, False) for c in (1210, 1211, 1212, 1213, 1214, 1215, 1261)],
        (400, "1301", e.ContentFilterError, False),
        *[(401, str(c), e.AuthenticationError, False) for c in range(1000, 1006)],
        (403, "1220", e.PermissionDeniedError, False),
        (429, "1302", e.RateLimitError, True),
        (429, "1303", e.RateLimitError, True),
        (429, "1305", e.RateLimitError, True),
        (429, "1113", e.QuotaError, False),
        (429, "1304", e.QuotaError, False),
        (429, "1308", e.QuotaError, False),
        (429, "1309", e.QuotaError, False),
        (429, "1310", e.QuotaError, False),
        (429, "1311", e.QuotaError, False),
        (429, "1312", e.RateLimitError, True),
        (429, "1313", e.RateLimitError, True),
        (400, "1233", e.NotFoundError, False),
        (404, "1233", e.NotFoundError, False),
        (500, "500", e.ServerError, True),
        (500, "1200", e.ServerError, True),
        (503, "1230", e.ServerError, True),
        (500, "1234", e.ServerError, True),
    ],
)
def test_error_table(status: int, code: str, cls: type[e.APIError], retryable: bool) -> None:
    err = e.error_from_response(status, body(code, "boom"), request_id="r1", task_id="t1")
    assert type(err) is cls
    assert err.retryable is retryable
    assert (err.status_code, err.code, err.request_id, err.task_id) == (status, code, "r1", "t1")
    assert "boom" in err.message
    assert isinstance(err, e.CogVideoError)


def test_content_filter_says_so() -> None:
    err = e.error_from_response(400, body("1301", "unsafe"))
    assert "content filter" in str(err)
    assert isinstance(err, e.BadRequestError)


def test_out_of_balance_says_retry_cannot_help() -> None:
    err = e.error_from_response(429, body("1113", "余额不足"))
    assert "cannot help" in str(err)
    assert not err.retryable


def test_non_json_body_keeps_a_snippet() -> None:
    err = e.error_from_response(502, b"<html>Bad Gateway</html>")
    assert isinstance(err, e.ServerError)
    assert "Bad Gateway" in err.message
    assert err.code is None


def test_empty_body_still_says_something() -> None:
    err = e.error_from_response(503, b"")
    assert "503" in str(err)


def test_unknown_4xx_is_plain_api_error_not_retried() -> None:
    err = e.error_from_response(418, body("9999"))
    assert type(err) is e.APIError and not err.retryable


def test_status_decides_when_code_is_unknown() -> None:
    assert type(e.error_from_response(401, b"{}")) is e.AuthenticationError
    assert type(e.error_from_response(429, b"{}")) is e.RateLimitError


@pytest.mark.parametrize(
    ("header", "expected"),
    # RFC 9110: delta-seconds is 1*DIGIT; a fraction or a sign makes it no Retry-After at all
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("0.5", None),
        ("-2", None),
        ("1e3", None),
        (None, None),
        ("soon", None),
    ],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert e.parse_retry_after(header) == expected


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    assert e.parse_retry_after("Tue, 14 Nov 2023 22:13:30 GMT", now=now) == pytest.approx(10.0)


def test_str_carries_status_and_code() -> None:
    err = e.error_from_response(429, body("1302", "too many"))
    assert str(err) == "too many (HTTP 429, code 1302)"


def test_validation_error_is_a_value_error() -> None:
    err = e.ValidationError("bad fps", field="fps")
    assert isinstance(err, ValueError) and err.field == "fps"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("1309", "plan has expired"),
        ("1310", "weekly or monthly cap"),
        ("1311", "does not include this model"),
        ("1312", "overloaded"),
        ("1313", "fair-use"),
        ("1233", "no such task"),
    ],
)
def test_codes_without_a_clear_message_say_their_reason(code: str, words: str) -> None:
    err = e.error_from_response(429 if code != "1233" else 404, body(code, "错误"))
    assert words in err.message and "错误" in err.message
