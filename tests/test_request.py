"""Every validation rule, with the message a user will read. Nothing here touches the network."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from cogvideo_nb import ValidationError, build_request
from cogvideo_nb._request import image_to_url


def png_bytes(w: int = 8, h: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"prompt": ""}, "prompt", "give a prompt or a first-frame image"),
        ({"prompt": "   "}, "prompt", "both are empty"),
        ({"prompt": "x" * 513}, "prompt", "513 characters; cogvideox-flash takes at most 512"),
        ({"prompt": "a cat", "model": "cogvideox-9"}, "model", "unknown model 'cogvideox-9'"),
        ({"prompt": "a cat", "size": "640x480"}, "size", "size '640x480' is not allowed for cogvideox-flash"),
        (
            {"prompt": "a cat", "model": "cogvideox-3", "size": "720x480"},
            "size",
            "not allowed for cogvideox-3",
        ),
        (
            {"prompt": "a cat", "fps": 24},
            "fps",
            "fps 24 is not allowed for cogvideox-flash; choose one of: 30, 60",
        ),
        ({"prompt": "a cat", "fps": "fast"}, "fps", "fps must be a whole number"),
        ({"prompt": "a cat", "fps": True}, "fps", "fps True is not allowed"),
        (
            {"prompt": "a cat", "duration": 7},
            "duration",
            "duration 7 is not allowed for cogvideox-flash; choose one of: 5, 10",
        ),
        ({"prompt": "a cat", "quality": "best"}, "quality", "choose one of: speed, quality"),
        ({"prompt": "a cat", "with_audio": "yes"}, "with_audio", "with_audio must be True or False"),
        ({"prompt": "a cat", "user_id": "abc"}, "user_id", "6 to 128 characters"),
        ({"prompt": 42}, "prompt", "prompt must be text"),
        ({"prompt": "a cat", "model": "viduq1-image"}, "image", "viduq1-image needs a first-frame image"),
    ],
)
def test_rules(kwargs: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_request(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert words in str(info.value)


def test_512_characters_is_fine_and_prompt_is_trimmed() -> None:
    req = build_request("  " + "y" * 512 + "\n")
    assert req.prompt == "y" * 512


def test_defaults_leave_unset_fields_to_the_server() -> None:
    body = build_request("a red fox").to_body()
    assert body["model"] == "cogvideox-flash"
    assert body["prompt"] == "a red fox"
    assert body["request_id"].startswith("cvnb-")
    assert set(body) == {"model", "prompt", "request_id"}


def test_full_body() -> None:
    req = build_request(
        "a fox", model="cogvideox-3", size="1280X720", fps="60", duration=10.0, quality="quality",
        with_audio=True, watermark_enabled=False, user_id="user-123",
    )  # fmt: skip
    assert req.to_body() == {
        "model": "cogvideox-3", "prompt": "a fox", "request_id": req.request_id, "size": "1280x720",
        "fps": 60, "duration": 10, "quality": "quality", "with_audio": True,
        "watermark_enabled": False, "user_id": "user-123",
    }  # fmt: skip


def test_request_ids_are_unique_and_kept_when_given() -> None:
    ids = {build_request("a").request_id for _ in range(200)}
    assert len(ids) == 200
    assert build_request("a", request_id="mine-1").request_id == "mine-1"
    req = build_request("a")
    assert req.with_new_id().request_id != req.request_id


def test_png_path_becomes_data_url(tmp_path: Path) -> None:
    p = tmp_path / "frame.dat"  # the name lies; the content decides
    p.write_bytes(png_bytes())
    url = build_request(image=p).image_url
    assert isinstance(url, str) and url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png_bytes()


def test_jpeg_bytes_and_pil_image() -> None:
    assert image_to_url(jpeg_bytes()).startswith("data:image/jpeg;base64,")
    assert image_to_url(Image.new("RGB", (4, 4))).startswith("data:image/png;base64,")


def test_png_named_file_that_is_text(tmp_path: Path) -> None:
    p = tmp_path / "cat.png"
    p.write_text("not an image at all")
    with pytest.raises(ValidationError, match="not a PNG or JPEG image"):
        build_request("a", image=p)


def test_image_over_5_mb(tmp_path: Path) -> None:
    p = tmp_path / "big.png"
    p.write_bytes(png_bytes() + b"\0" * (6 * 1024 * 1024))
    with pytest.raises(ValidationError, match=r"6\.\d MB; the API takes at most 5 MB"):
        build_request("a", image=p)


def test_missing_file() -> None:
    with pytest.raises(ValidationError, match=r"image file not found: /no/such\.png"):
        build_request("a", image="/no/such.png")


def test_non_http_url() -> None:
    with pytest.raises(ValidationError, match="scheme 'ftp' is not supported"):
        build_request("a", image="ftp://example.com/a.png")


def test_http_url_passes_through() -> None:
    assert build_request(image="https://example.com/a.png").image_url == "https://example.com/a.png"


def test_data_url_is_checked() -> None:
    good = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    assert build_request(image=good).image_url == good
    with pytest.raises(ValidationError, match="not valid base64"):
        build_request(image="data:image/png;base64,@@@")
    with pytest.raises(ValidationError, match="not a PNG or JPEG"):
        build_request(image="data:image/png;base64," + base64.b64encode(b"GIF89a....").decode())


def test_two_frames_only_where_the_model_takes_them() -> None:
    two = [png_bytes(), png_bytes()]
    req = build_request("a", model="cogvideox-3", image=two)
    assert isinstance(req.image_url, tuple) and len(req.image_url) == 2
    assert isinstance(req.to_body()["image_url"], list)
    with pytest.raises(ValidationError, match="at most 1 image"):
        build_request("a", image=two)


def test_wrong_image_type() -> None:
    with pytest.raises(ValidationError, match="not int"):
        build_request("a", image=5)


def test_repr_does_not_dump_a_data_url() -> None:
    req = build_request("a", image=png_bytes(64, 64))
    assert len(repr(req)) < 400
