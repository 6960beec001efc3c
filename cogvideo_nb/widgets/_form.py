"""The form: a prompt builder that teaches subject + motion + scene + light/mood + style.

Plain ipywidgets (no front-end code): each part has its own field with an example, the
assembled prompt shows live with a 512-character counter, and Generate puts a card below.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from .._engine import Engine, get_engine
from .._errors import CogVideoError
from .._models import DURATIONS, FPS_VALUES, MAX_PROMPT_CHARS, MODELS, QUALITIES
from .._request import build_request
from ._card import JobCard

__all__ = ["PARTS", "PromptForm", "assemble"]

# (field, what it teaches, an example)
PARTS = (
    ("subject", "Who or what, with a detail or two", "a red fox with a frosted coat"),
    ("motion", "What moves, and how", "trots through deep snow, then looks up"),
    ("scene", "Where: setting and surroundings", "a birch forest at the edge of a frozen lake"),
    ("light", "Light and mood", "golden hour, soft backlight, calm"),
    ("style", "Camera and style", "slow dolly-in, shallow depth of field, cinematic"),
)


def assemble(parts: dict[str, str]) -> str:
    """Join the filled parts in teaching order into one prompt."""
    chunks = [parts.get(name, "").strip().rstrip(".,;") for name, _, _ in PARTS]
    text = ", ".join(c for c in chunks if c)
    return text[:1].upper() + text[1:] + ("." if text else "")


class PromptForm(w.VBox):  # type: ignore[misc]
    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine
        self.fields = {
            name: w.Text(placeholder=f"e.g. {example}", description=name.capitalize(), tooltip=hint,
                         layout=w.Layout(width="100%"), style={"description_width": "70px"})
            for name, hint, example in PARTS
        }  # fmt: skip
        self.hints = w.HTML(
            "<small>" + " · ".join(f"<b>{n}</b>: {h.lower()}" for n, h, _ in PARTS) + "</small>"
        )
        self.prompt = w.Textarea(description="Prompt", layout=w.Layout(width="100%", height="70px"),
                                 style={"description_width": "70px"})  # fmt: skip
        self.counter = w.HTML()
        self.model = w.Dropdown(options=list(MODELS), value="cogvideox-flash", description="Model")
        self.size = w.Dropdown(description="Size")
        self.fps = w.Dropdown(
            options=[("default", None), *[(str(f), f) for f in FPS_VALUES]], description="FPS"
        )
        self.duration = w.Dropdown(
            options=[("default", None), *[(f"{d} s", d) for d in DURATIONS]], description="Duration"
        )
        self.quality = w.Dropdown(
            options=[("default", None), *[(q, q) for q in QUALITIES]], description="Quality"
        )
        self.audio = w.Checkbox(value=False, description="AI sound effects")
        self.image = w.FileUpload(accept="image/png,image/jpeg", multiple=False, description="First frame")
        self.submit = w.Button(description="Generate", button_style="primary", icon="film")
        self.message = w.HTML()
        self.output = w.VBox()
        self.cards: list[JobCard] = []
        for f in self.fields.values():
            f.observe(self._rebuild, "value")
        self.prompt.observe(self._count, "value")
        self.model.observe(self._sizes, "value")
        self.submit.on_click(self._on_submit)
        self._sizes()
        self._count()
        options = w.HBox([self.model, self.size, self.fps, self.duration, self.quality],
                         layout=w.Layout(flex_flow="row wrap"))  # fmt: skip
        super().__init__(
            [self.hints, *self.fields.values(), self.prompt, self.counter, options,
             w.HBox([self.audio, self.image, self.submit]), self.message, self.output]
        )  # fmt: skip

    def _rebuild(self, _: Any = None) -> None:
        self.prompt.value = assemble({k: f.value for k, f in self.fields.items()})

    def _count(self, _: Any = None) -> None:
        n = len(self.prompt.value.strip())
        color = "#cf222e" if n > MAX_PROMPT_CHARS else "#57606a"
        self.counter.value = f'<small style="color:{color}">{n} / {MAX_PROMPT_CHARS} characters</small>'
        self.submit.disabled = n > MAX_PROMPT_CHARS

    def _sizes(self, _: Any = None) -> None:
        spec = MODELS[self.model.value]
        sizes = list(spec.sizes or (spec.default_size,))
        self.size.options = [("default", None), *[(s, s) for s in sizes]]
        self.size.value = None

    def _image(self) -> bytes | None:
        value = self.image.value
        if not value:
            return None
        item = value[0] if isinstance(value, (list, tuple)) else next(iter(value.values()))
        content = item["content"]
        return bytes(content)

    def _on_submit(self, _: Any = None) -> None:
        try:
            request = build_request(
                self.prompt.value, model=self.model.value, size=self.size.value, fps=self.fps.value,
                duration=self.duration.value, quality=self.quality.value,
                with_audio=self.audio.value or None, image=self._image(),
            )  # fmt: skip
        except CogVideoError as exc:
            import html

            self.message.value = f'<span style="color:#cf222e">{html.escape(str(exc))}</span>'
            return
        self.message.value = ""
        engine = self._engine or get_engine()
        card = JobCard(engine.submit(request), engine)
        self.cards.append(card)
        self.output.children = (card, *self.output.children)
