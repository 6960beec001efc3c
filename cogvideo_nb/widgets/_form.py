"""The form: a prompt builder that teaches subject + motion + scene + light/mood + style.

Plain ipywidgets (no front-end code): each part has its own field with an example, the
assembled prompt shows live with a 512-character counter, and Generate puts a card below.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from .._engine import Engine, get_engine
from .._errors import CogVideoError
from .._models import DEFAULT_MODEL, MODELS, OPTIONS
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
        self.model = w.Dropdown(options=list(MODELS), value=DEFAULT_MODEL, description="Model")
        # One control per catalogue option; the model decides which show and what they offer.
        self.controls: dict[str, Any] = {
            name: w.Checkbox(value=False, description=opt.help.split(" (")[0].capitalize())
            if opt.kind is bool
            else w.Dropdown(description=name.replace("_", " ").capitalize())
            for name, opt in OPTIONS.items()
        }
        self.size, self.fps = self.controls["size"], self.controls["fps"]
        self.duration, self.quality = self.controls["duration"], self.controls["quality"]
        self.audio = self.controls["with_audio"]
        self.image = w.FileUpload(accept="image/png,image/jpeg", multiple=False, description="First frame")
        self.last_frame = w.FileUpload(
            accept="image/png,image/jpeg", multiple=False, description="Last frame"
        )
        self.references = w.FileUpload(accept="image/png,image/jpeg", multiple=True, description="References")
        self.submit = w.Button(description="Generate", button_style="primary", icon="film")
        self.message = w.HTML()
        self.output = w.VBox()
        self.cards: list[JobCard] = []
        for f in self.fields.values():
            f.observe(self._rebuild, "value")
        self.prompt.observe(self._count, "value")
        self.model.observe(self._choices, "value")
        self.model.observe(self._count, "value")
        self.submit.on_click(self._on_submit)
        self._choices()
        self._count()
        flags = [c for c in self.controls.values() if isinstance(c, w.Checkbox)]
        options = w.HBox([self.model, *(c for c in self.controls.values() if c not in flags)],
                         layout=w.Layout(flex_flow="row wrap"))  # fmt: skip
        uploads = w.HBox([self.image, self.last_frame, self.references, self.submit],
                         layout=w.Layout(flex_flow="row wrap"))  # fmt: skip
        super().__init__(
            [self.hints, *self.fields.values(), self.prompt, self.counter, options,
             w.HBox(flags, layout=w.Layout(flex_flow="row wrap")), uploads, self.message, self.output]
        )  # fmt: skip

    def _rebuild(self, _: Any = None) -> None:
        self.prompt.value = assemble({k: f.value for k, f in self.fields.items()})

    def _count(self, _: Any = None) -> None:
        limit = MODELS[self.model.value].max_prompt
        n = len(self.prompt.value.strip())
        color = "#cf222e" if n > limit else "#57606a"
        self.counter.value = f'<small style="color:{color}">{n} / {limit} characters</small>'
        self.submit.disabled = n > limit

    def _choices(self, _: Any = None) -> None:
        """Offer exactly what the chosen model takes, from the catalogue; hide the rest."""
        spec = MODELS[self.model.value]
        for name, control in self.controls.items():
            allowed = spec.values.get(name)
            control.layout.display = None if allowed else "none"
            if isinstance(control, w.Checkbox):
                control.value = bool(spec.defaults.get(name, False))
                continue
            label = (lambda v: f"{v} s") if name == "duration" else str
            previous = control.value
            control.options = [("default", None), *[(label(v), v) for v in allowed or ()]]
            control.value = previous if previous in (allowed or ()) else None
        self.image.layout.display = None if "first" in spec.images else "none"
        self.last_frame.layout.display = None if "last" in spec.images else "none"
        self.references.layout.display = None if "reference" in spec.images else "none"

    def _options(self) -> dict[str, Any]:
        """Chosen values; a checkbox left at the model's default is left to the server."""
        spec = MODELS[self.model.value]
        out: dict[str, Any] = {}
        for name, control in self.controls.items():
            if name not in spec.values:
                continue
            if isinstance(control, w.Checkbox):
                out[name] = None if control.value == bool(spec.defaults.get(name, False)) else control.value
            else:
                out[name] = control.value
        return out

    @staticmethod
    def _uploads(upload: Any) -> list[bytes]:
        value = upload.value
        items = list(value) if isinstance(value, (list, tuple)) else list((value or {}).values())
        return [bytes(item["content"]) for item in items]

    def _image(self) -> bytes | None:
        files = self._uploads(self.image)
        return files[0] if files else None

    def _on_submit(self, _: Any = None) -> None:
        try:
            spec = MODELS[self.model.value]
            last = self._uploads(self.last_frame)
            request = build_request(
                self.prompt.value, model=self.model.value, **self._options(),
                image=self._image() if "first" in spec.images else None,
                last_frame=last[0] if last and "last" in spec.images else None,
                references=self._uploads(self.references) if "reference" in spec.images else None,
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
