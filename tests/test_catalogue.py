"""The catalogue drives both gates: every row is accepted and refused alike by build_request
(before sending) and by the emulator (on the wire), generated from the catalogue itself, plus
hand-written cases from the API notes."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import httpx
import pytest
from PIL import Image

from cogvideo_nb import MODELS, ValidationError, build_request
from cogvideo_nb._models import OPTIONS, ModelSpec, get_model, option_values
from cogvideo_nb.emulator import Emulator, EmulatorConfig
from cogvideo_nb.emulator._store import ApiError, validate_submit

CFG = EmulatorConfig()
URL = "https://img.test/frame.png"


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 10)).save(buf, format="PNG")
    return buf.getvalue()


def images_for(spec: ModelSpec) -> dict[str, Any]:
    """The fewest images the model needs, passed the way its roles ask."""
    if spec.min_images == 0:
        return {}
    if spec.images[0] == "reference":
        return {"references": [URL]}
    if spec.min_images == 2:
        return {"image": URL, "last_frame": "https://img.test/last.png"}
    return {"image": URL}


def emulator_accepts(body: dict[str, Any]) -> bool:
    try:
        validate_submit(body, CFG)
    except ApiError as exc:
        assert exc.code in ("1214", "1261", "1211"), exc.code
        return False
    return True


def client_accepts(**kwargs: Any) -> bool:
    try:
        build_request(**kwargs)
    except ValidationError:
        return False
    return True


def base_body(spec: ModelSpec) -> dict[str, Any]:
    return build_request("a fox", model=spec.name, **images_for(spec)).to_body()


ACCEPTED = [
    pytest.param(spec.name, name, value, id=f"{spec.name}-{name}={value}")
    for spec in MODELS.values()
    for name, values in spec.values.items()
    for value in values
]


@pytest.mark.parametrize(("model", "name", "value"), ACCEPTED)
def test_every_value_the_catalogue_lists_is_accepted_by_both(model: str, name: str, value: Any) -> None:
    spec = MODELS[model]
    req = build_request("a fox", model=model, **images_for(spec), **{name: value})
    assert req.to_body()[name] == value
    assert emulator_accepts(req.to_body())


NOT_TAKEN = [
    pytest.param(spec.name, name, id=f"{spec.name}-{name}")
    for spec in MODELS.values()
    for name in OPTIONS
    if not spec.takes(name)
]


@pytest.mark.parametrize(("model", "name"), NOT_TAKEN)
def test_an_option_the_model_does_not_take_is_refused_by_both(model: str, name: str) -> None:
    spec = MODELS[model]
    value = option_values(name)[0]
    with pytest.raises(ValidationError, match=f"{name} is not a parameter of {model}") as info:
        build_request("a fox", model=model, **images_for(spec), **{name: value})
    assert info.value.field == name
    assert not emulator_accepts({**base_body(spec), name: value})


BAD_VALUES = [
    pytest.param(spec.name, name, bad, id=f"{spec.name}-{name}={bad!r}")
    for spec in MODELS.values()
    for name, values in spec.values.items()
    for bad in (
        [7, 24, 0]
        if OPTIONS[name].kind is int
        else ["bogus", "0x0", "²x³"]
        if OPTIONS[name].kind is str
        else []
    )
    if bad not in values
]


@pytest.mark.parametrize(("model", "name", "bad"), BAD_VALUES)
def test_a_value_off_the_list_is_refused_by_both(model: str, name: str, bad: Any) -> None:
    spec = MODELS[model]
    with pytest.raises(ValidationError, match="is not allowed for") as info:
        build_request("a fox", model=model, **images_for(spec), **{name: bad})
    assert info.value.field == name
    assert not emulator_accepts({**base_body(spec), name: bad})


@pytest.mark.parametrize("model", list(MODELS))
def test_image_counts_follow_the_roles(model: str) -> None:
    spec = MODELS[model]
    for n in range(spec.max_images + 2):
        body = {"model": model, "prompt": "a fox", "image_url": [URL] * n}
        ok = spec.min_images <= n <= spec.max_images
        assert emulator_accepts(body) is ok, (model, n)
        if spec.images[:1] == ("reference",):
            assert client_accepts(prompt="a fox", model=model, references=[URL] * n) is ok, n
        else:
            assert client_accepts(prompt="a fox", model=model, image=[URL] * n) is ok, (model, n)


@pytest.mark.parametrize("model", list(MODELS))
def test_prompt_limit_per_model(model: str) -> None:
    spec = MODELS[model]
    for n, ok in ((spec.max_prompt, True), (spec.max_prompt + 1, False)):
        extra = images_for(spec)
        assert client_accepts(prompt="x" * n, model=model, **extra) is ok
        assert emulator_accepts({**base_body(spec), "prompt": "x" * n}) is ok


# -- hand-written cases from the API notes and issue 13 -----------------------------------------


def test_vidu_cases_from_the_notes() -> None:
    ref: dict[str, Any] = {"references": [URL]}
    assert build_request("x", model="vidu2-image", image=URL, duration=4).duration == 4  # official example
    assert build_request("y" * 1500, model="viduq1-text").prompt == "y" * 1500
    req = build_request("x", model="viduq1-text", style="anime", aspect_ratio="9:16",
                        movement_amplitude="large", off_peak=True)  # fmt: skip
    assert {k: req.to_body()[k] for k in ("style", "aspect_ratio", "movement_amplitude", "off_peak")} == {
        "style": "anime", "aspect_ratio": "9:16", "movement_amplitude": "large", "off_peak": True
    }  # fmt: skip
    assert build_request("x", model="vidu2-reference", aspect_ratio="1:1", **ref).to_body()["image_url"] == [
        URL
    ]
    refused: list[dict[str, Any]] = [
        {"model": "viduq1-image", "image": URL, "duration": 10},
        {"model": "viduq1-image", "image": URL, "fps": 30},
        {"model": "vidu2-image", "image": URL, "quality": "quality"},
        {"model": "vidu2-image", "image": URL, "size": "1920x1080"},  # a 720p model
        {"model": "viduq1-text", "size": "0x0"},
        {"model": "viduq1-text", "size": "²x³"},
        {"model": "viduq1-start-end", "image": URL},  # start-end needs both frames
        {"model": "cogvideox-flash", "image": URL, "last_frame": URL},  # no last-frame role
    ]
    for kwargs in refused:
        assert not client_accepts(prompt="x", **kwargs), kwargs


def test_start_end_sends_first_and_last_as_a_list() -> None:
    req = build_request("x", model="vidu2-start-end", image=URL, last_frame=png())
    body = req.to_body()
    assert isinstance(body["image_url"], list) and len(body["image_url"]) == 2
    assert body["image_url"][0] == URL and body["image_url"][1].startswith("data:image/png;base64,")
    assert emulator_accepts(body)
    assert not emulator_accepts({**body, "image_url": [URL]})  # one image: refused on the wire too


def test_bare_base64_and_data_urls_are_both_images() -> None:
    raw = base64.b64encode(png()).decode()
    req = build_request(image=raw)
    assert req.image_url == "data:image/png;base64," + raw
    assert build_request(image="data:image/png;base64," + raw).image_url == req.image_url
    assert emulator_accepts({"model": "cogvideox-flash", "image_url": raw})  # "URL or Base64"
    assert emulator_accepts({"model": "cogvideox-flash", "image_url": [raw]})  # a one-image list


def test_model_names_are_case_insensitive() -> None:
    assert build_request("x", model="CogVideoX-Flash").model == "cogvideox-flash"
    assert get_model(" VIDUQ1-TEXT ") is MODELS["viduq1-text"]
    assert emulator_accepts({"model": "CogVideoX-3", "prompt": "x"})


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("\u200b", "no visible characters"),
        ("\u200b \u2060\ufeff", "no visible characters"),
        ("a fox\x00", "control character (U+0000)"),
        ("a \x1b[31mred\x1b[0m fox", "control character (U+001B)"),
    ],
)
def test_prompts_without_visible_text_or_with_control_characters(prompt: str, words: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(words)):
        build_request(prompt)
    assert not emulator_accepts({"model": "cogvideox-flash", "prompt": prompt})


def test_prompts_are_trimmed_of_invisible_padding_but_keep_newlines() -> None:
    assert build_request("\u200b  a fox\n\trunning \ufeff").prompt == "a fox\n\trunning"


def test_zai_sdk_nulls_are_unset_on_the_wire() -> None:
    body = {name: None for name in (*OPTIONS, "image_url", "user_id", "request_id", "sensitive_word_check")}
    assert emulator_accepts({**body, "model": "vidu2-image", "prompt": "x", "image_url": URL})
    assert emulator_accepts({**body, "model": "cogvideox-3", "prompt": "x"})


def test_emulator_limits_in_flight_tasks_per_model_from_the_catalogue() -> None:
    assert MODELS["cogvideox-3"].concurrency == 1 and MODELS["viduq1-text"].concurrency == 5
    auth = {"Authorization": "Bearer k1"}
    with Emulator(EmulatorConfig(seconds=30, render_fps=2, duration_scale=0.05)) as emu:
        url = emu.base_url + "/videos/generations"

        def submit(model: str, **extra: Any) -> httpx.Response:
            return httpx.post(url, json={"model": model, "prompt": "#seconds=30 x", **extra}, headers=auth)

        assert submit("cogvideox-3").status_code == 200
        second = submit("cogvideox-3")
        assert second.status_code == 429 and second.json()["error"]["code"] == "1302"
        assert submit("cogvideox-flash").status_code == 200  # another model has its own limit
        other_key = httpx.post(
            url, json={"model": "cogvideox-3", "prompt": "x"}, headers={"Authorization": "Bearer k2"}
        )
        assert other_key.status_code == 200  # and another account its own
