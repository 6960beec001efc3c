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


def _default(value: Any) -> tuple[str, str]:
    """The "use the default" choice, labelled with what the default is. Its value is "", not
    None: a Dropdown whose value is None shows as blank."""
    return (f"default ({value})", "")


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
        self.kept = w.HTML()
        self.use_parts = w.Button(description="Use the parts", tooltip="replace your edits by the parts")
        self.use_parts.layout.display = "none"
        self._assembled = ""  # what the builder last wrote; anything else in the box is the user's
        self.model = w.Dropdown(options=list(MODELS), value="cogvideox-flash", description="Model")
        self.size = w.Dropdown(description="Size")
        self.fps = w.Dropdown(
            options=[_default(FPS_VALUES[0]), *[(str(f), str(f)) for f in FPS_VALUES]],
            value="", description="FPS",
        )  # fmt: skip
        self.duration = w.Dropdown(
            options=[_default(f"{DURATIONS[0]} s"), *[(f"{d} s", str(d)) for d in DURATIONS]],
            value="", description="Duration",
        )  # fmt: skip
        self.quality = w.Dropdown(
            options=[_default(QUALITIES[0]), *[(q, q) for q in QUALITIES]],
            value="", description="Quality",
        )  # fmt: skip
        self.audio = w.Checkbox(value=False, description="AI sound effects")
        self.image = w.FileUpload(accept="image/png,image/jpeg", multiple=False, description="First frame")
        self.thumb = w.Image(format="png", layout=w.Layout(max_height="72px", display="none"))
        self.remove = w.Button(description="Remove", icon="times", tooltip="no first frame")
        self.remove.layout.display = "none"
        self.submit = w.Button(description="Generate", button_style="primary", icon="film")
        self.message = w.HTML()
        self.output = w.VBox()
        self.cards: list[JobCard] = []
        for f in self.fields.values():
            f.observe(self._rebuild, "value")
        self.prompt.observe(self._count, "value")
        self.model.observe(self._sizes, "value")
        self.image.observe(self._show_image, "value")
        self.remove.on_click(self._remove_image)
        self.use_parts.on_click(lambda _: self._rebuild(force=True))
        self.submit.on_click(self._on_submit)
        self._sizes()
        self._count()
        options = w.HBox([self.model, self.size, self.fps, self.duration, self.quality],
                         layout=w.Layout(flex_flow="row wrap"))  # fmt: skip
        super().__init__(
            [self.hints, *self.fields.values(), self.prompt,
             w.HBox([self.counter, self.kept, self.use_parts]), options,
             w.HBox([self.audio, self.image, self.thumb, self.remove, self.submit]),
             self.message, self.output]
        )  # fmt: skip

    def _rebuild(self, _: Any = None, *, force: bool = False) -> None:
        """Fill the prompt from the parts, unless the user has edited it (then say so, and offer)."""
        text = assemble({k: f.value for k, f in self.fields.items()})
        mine = self.prompt.value.strip() not in ("", self._assembled.strip())
        if mine and not force:
            self.kept.value = "<small>your edits to the prompt are kept</small>"
            self.use_parts.layout.display = None
            return
        self._assembled = text
        self.prompt.value = text
        self.kept.value = ""
        self.use_parts.layout.display = "none"

    def _count(self, _: Any = None) -> None:
        n = len(self.prompt.value.strip())
        color = "#cf222e" if n > MAX_PROMPT_CHARS else "#57606a"
        self.counter.value = f'<small style="color:{color}">{n} / {MAX_PROMPT_CHARS} characters</small>'
        self._can_send()

    def _can_send(self) -> None:
        """Generate only when there is something to send, and not too much of it."""
        n = len(self.prompt.value.strip())
        self.submit.disabled = n > MAX_PROMPT_CHARS or (n == 0 and self._image() is None)

    def _sizes(self, _: Any = None) -> None:
        spec = MODELS[self.model.value]
        sizes = list(spec.sizes or (spec.default_size,))
        self.size.options = [_default(spec.default_size), *[(s, s) for s in sizes]]
        self.size.value = ""

    def _image(self) -> bytes | None:
        value = self.image.value
        if not value:
            return None
        item = value[0] if isinstance(value, (list, tuple)) else next(iter(value.values()))
        content = item["content"]
        return bytes(content)

    def _show_image(self, _: Any = None) -> None:
        data = self._image()
        self.thumb.value = data or b""
        self.thumb.layout.display = None if data else "none"
        self.remove.layout.display = None if data else "none"
        self._can_send()

    def _remove_image(self, _: Any = None) -> None:
        self.image.value = ()
        self._show_image()

    def _on_submit(self, _: Any = None) -> None:
        def opt(value: str) -> Any:
            return None if value == "" else int(value) if value.isdigit() else value

        try:
            request = build_request(
                self.prompt.value, model=self.model.value, size=opt(self.size.value),
                fps=opt(self.fps.value), duration=opt(self.duration.value), quality=opt(self.quality.value),
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
