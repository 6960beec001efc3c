"""The form: a prompt builder that teaches subject + motion + scene + light/mood + style.

Plain ipywidgets (no front-end code): each part has its own field with an example, the
assembled prompt shows live with a 512-character counter, and Generate puts a card below.
Generate goes through the pipeline every front end uses: a paid model asks first (the button
turns into a confirm step), and the cards live in an output of their own, below the form, that
becomes static HTML when every job has ended, so the saved notebook keeps the results.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w
from IPython.display import display

from .. import _pipeline
from .._cost import PaidJobsError
from .._engine import Engine, get_engine
from .._errors import CogVideoError
from .._i18n import language as i18n_language
from .._i18n import t
from .._models import DEFAULT_MODEL, MODELS, OPTIONS
from .._report import rewrite_html
from .._request import image_to_url
from .._translate import LANGUAGE_NAMES
from ._card import JobCard
from ._ending import Ending, mark
from ._slot import Slot

__all__ = ["PARTS", "PromptForm", "assemble"]

# (field, what it teaches, an example)
PARTS = (
    ("subject", "Who or what, with a detail or two", "a red fox with a frosted coat"),
    ("motion", "What moves, and how", "trots through deep snow, then looks up"),
    ("scene", "Where: setting and surroundings", "a birch forest at the edge of a frozen lake"),
    ("light", "Light and mood", "golden hour, soft backlight, calm"),
    ("style", "Camera and style", "slow dolly-in, shallow depth of field, cinematic"),
)


_STOPS = ".,;:!?。，；：！？、"


def _cjk(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\uff00" <= ch <= "\uffef"


def assemble(parts: dict[str, str]) -> str:
    """Join the filled parts in teaching order into one prompt, the way each language writes:
    Chinese parts with "，" and a closing "。", Latin ones with ", " and "."; a part's own
    closing punctuation is dropped, so nothing is doubled."""
    chunks = [c for name, _, _ in PARTS if (c := parts.get(name, "").strip().rstrip(_STOPS).strip())]
    if not chunks:
        return ""
    text = chunks[0]
    for chunk in chunks[1:]:
        text += ("，" if _cjk(text[-1]) or _cjk(chunk[0]) else ", ") + chunk
    return text[:1].upper() + text[1:] + ("。" if _cjk(text[-1]) else ".")


GENERATE, CONFIRM = "Generate", "Confirm: generate (paid)"  # message ids: t(GENERATE, lang)
# What a saved notebook keeps of the form (a reopened notebook has no kernel behind it to draw
# the form; its results are saved in the output below it).
_NOTE = "The prompt form: run this cell to open it. Its results are saved in the output below."


def saved_form(lang: str) -> dict[str, str]:
    """What a saved notebook keeps of the form: a note in the form's language."""
    note = t(_NOTE, lang)
    return {"text/html": f'<div class="cvnb-saved-form"><i>{note}</i></div>', "text/plain": note}


SAVED_FORM = saved_form("en")
# The whole width less ipywidgets' 2 px margin on each side ("100%" overflows the output by it).
FULL = "calc(100% - 4px)"


def _default(value: Any, lang: str) -> tuple[str, str]:
    """The "use the default" choice, labelled with what the default is. Its value is "", not
    None: a Dropdown whose value is None shows as blank."""
    return (t("default ({value})", lang, value=value), "")


class PromptForm(w.VBox):  # type: ignore[misc]
    def __init__(self, engine: Engine | None = None, *, language: str | None = None) -> None:
        self._engine = engine
        self.lang = lang = i18n_language(language)[0]  # the form's words, fixed when it is made
        self.fields = {
            name: w.Text(placeholder=t("e.g. {example}", lang, example=t(example, lang)),
                         description=t(name.capitalize(), lang), tooltip=t(hint, lang),
                         layout=w.Layout(width=FULL), style={"description_width": "70px"})
            for name, hint, example in PARTS
        }  # fmt: skip
        self.hints = w.HTML(
            "<small>"
            + " · ".join(f"<b>{t(n.capitalize(), lang)}</b>: {t(h, lang)}" for n, h, _ in PARTS)
            + "</small>"
        )
        self.prompt = w.Textarea(description=t("Prompt", lang), layout=w.Layout(width=FULL, height="70px"),
                                 style={"description_width": "70px"})  # fmt: skip
        self.counter = w.HTML()
        self.kept = w.HTML()
        self.use_parts = w.Button(
            description=t("Use the parts", lang), tooltip=t("replace your edits by the parts", lang)
        )
        self.use_parts.layout.display = "none"
        self._assembled = ""  # what the builder last wrote; anything else in the box is the user's
        self.model = w.Dropdown(options=list(MODELS), value=DEFAULT_MODEL, description=t("Model", lang))
        # One control per catalogue option; the model decides which show and what they offer.
        self.controls: dict[str, Any] = {
            name: w.Checkbox(value=False, description=t(opt.label, lang), tooltip=t(opt.help, lang))
            if opt.kind is bool
            else w.Dropdown(description=t(opt.label, lang), tooltip=t(opt.help, lang))
            for name, opt in OPTIONS.items()
        }
        self.size, self.fps = self.controls["size"], self.controls["fps"]
        self.duration, self.quality = self.controls["duration"], self.controls["quality"]
        self.audio = self.controls["with_audio"]
        self.image = w.FileUpload(
            accept="image/png,image/jpeg", multiple=False, description=t("First frame", lang)
        )
        self.last_frame = w.FileUpload(
            accept="image/png,image/jpeg", multiple=False, description=t("Last frame", lang)
        )
        self.references = w.FileUpload(
            accept="image/png,image/jpeg", multiple=True, description=t("References", lang)
        )
        self.thumb = w.Image(format="png", layout=w.Layout(max_height="72px", display="none"))
        self.remove = w.Button(description=t("Remove", lang), icon="times", tooltip=t("no first frame", lang))
        self.remove.layout.display = "none"
        self.submit = w.Button(description=t(GENERATE, lang), button_style="primary", icon="film")
        self.message = w.HTML()
        self.results = Slot()  # the cards, in an output of their own below the form
        self._asking: tuple[Any, ...] | None = None  # what a paid Generate waits to confirm
        for f in self.fields.values():
            f.observe(self._rebuild, "value")
        self.prompt.observe(self._count, "value")
        self.model.observe(self._choices, "value")
        self.model.observe(self._count, "value")
        self.image.observe(self._show_image, "value")
        self.last_frame.observe(self._check_upload, "value")
        self.references.observe(self._check_upload, "value")
        self.remove.on_click(self._remove_image)
        self.use_parts.on_click(lambda _: self._rebuild(force=True))
        self.submit.on_click(self._on_submit)
        self._choices()
        self._count()
        self.enhance = w.Checkbox(
            value=False, description=t("Enhance first (free chat model)", lang), indent=False,
            layout=w.Layout(width="auto"), style={"description_width": "initial"},
            tooltip=t("an LLM rewrites the prompt into the long, detailed kind CogVideoX was trained on",
                      lang),
        )  # fmt: skip
        self.translate = w.Dropdown(
            options=[(t("as written", lang), ""), *((t(LANGUAGE_NAMES[c], lang), c) for c in ("en", "zh"))],
            value="", description=t("Translate into", lang), style={"description_width": "initial"},
            tooltip=t("the same prompt in the other language: does the model follow it better?", lang),
            layout=w.Layout(width="260px"),  # "auto" leaves the select too narrow for its choices
        )  # fmt: skip
        flags = [c for c in self.controls.values() if isinstance(c, w.Checkbox)]
        options = w.HBox([self.model, *(c for c in self.controls.values() if c not in flags)],
                         layout=w.Layout(flex_flow="row wrap"))  # fmt: skip
        uploads = w.HBox([self.image, self.thumb, self.remove, self.last_frame, self.references, self.submit],
                         layout=w.Layout(flex_flow="row wrap"))  # fmt: skip
        super().__init__(
            [self.hints, *self.fields.values(), self.prompt,
             w.HBox([self.counter, self.kept, self.use_parts]), options,
             w.HBox([*flags, self.enhance, self.translate], layout=w.Layout(flex_flow="row wrap")), uploads,
             self.message, Ending()]  # its view makes what is saved of the form a note (SAVED_FORM)
        )  # fmt: skip
        for control in (self.prompt, self.model, self.enhance, self.translate, *self.controls.values()):
            control.observe(self._changed_mind, "value")

    def _rebuild(self, _: Any = None, *, force: bool = False) -> None:
        """Fill the prompt from the parts, unless the user has edited it (then say so, and offer)."""
        text = assemble({k: f.value for k, f in self.fields.items()})
        mine = self.prompt.value.strip() not in ("", self._assembled.strip())
        if mine and not force:
            kept = t("your edits to the prompt are kept", self.lang)
            self.kept.value = f"<small>{kept}</small>"
            self.use_parts.layout.display = None
            return
        self._assembled = text
        self.prompt.value = text
        self.kept.value = ""
        self.use_parts.layout.display = "none"

    def _count(self, _: Any = None) -> None:
        limit = MODELS[self.model.value].max_prompt
        n = len(self.prompt.value.strip())
        color = "#cf222e" if n > limit else "#57606a"
        said = t("{n} / {limit} characters", self.lang, n=n, limit=limit)
        self.counter.value = f'<small style="color:{color}">{said}</small>'
        self._can_send()

    def _can_send(self) -> None:
        """Generate only when there is something to send, and not too much of it."""
        n = len(self.prompt.value.strip())
        limit = MODELS[self.model.value].max_prompt
        self.submit.disabled = n > limit or (n == 0 and self._image() is None)

    def _choices(self, _: Any = None) -> None:
        """Offer exactly what the chosen model takes, from the catalogue; hide the rest."""
        spec = MODELS[self.model.value]
        for name, control in self.controls.items():
            allowed = spec.values.get(name)
            control.layout.display = None if allowed else "none"
            if isinstance(control, w.Checkbox):
                control.value = bool(spec.defaults.get(name, False))
                continue
            label = (lambda v: t("{s} s", self.lang, s=v)) if name == "duration" else str
            previous = control.value
            default = spec.defaults.get(name)
            shown = label(default) if default is not None else t("server's choice", self.lang)
            first = _default(shown, self.lang)
            control.options = [first, *[(label(v), v) for v in allowed or ()]]
            control.value = previous if previous in (allowed or ()) else ""
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
                out[name] = None if control.value == "" else control.value
        return out

    @staticmethod
    def _uploads(upload: Any) -> list[bytes]:
        value = upload.value
        items = list(value) if isinstance(value, (list, tuple)) else list((value or {}).values())
        return [bytes(item["content"]) for item in items]

    def _image(self) -> bytes | None:
        files = self._uploads(self.image)
        return files[0] if files else None

    def _check_upload(self, change: Any) -> bool:
        """An upload that is not a PNG or JPEG is refused as it arrives, not at Generate."""
        upload = change["owner"] if isinstance(change, dict) else change
        files = self._uploads(upload)
        try:
            for data in files:
                image_to_url(data)  # the request's own check: the bytes, not the file name
        except CogVideoError as exc:
            upload.value = ()
            self.message.value = f'<span style="color:#cf222e">{html.escape(exc.message)}</span>'
            return False
        if files and self.message.value.startswith('<span style="color:#cf222e">'):
            self.message.value = ""  # a good file replaces a refused one
        return True

    def _show_image(self, change: Any = None) -> None:
        if change is not None and not self._check_upload(change):
            return
        data = self._image()
        self.thumb.value = data or b""
        self.thumb.layout.display = None if data else "none"
        self.remove.layout.display = None if data else "none"
        self._can_send()

    def _remove_image(self, _: Any = None) -> None:
        self.image.value = ()
        self._show_image()

    # -- display: the form, then its results output --------------------------------------------
    def _ipython_display_(self) -> None:
        """The form, and below it an output of its own for the cards (a display id), which
        becomes static HTML when they have all ended: what a saved notebook keeps."""
        display(super()._repr_mimebundle_(), raw=True, metadata=mark("form", saved=saved_form(self.lang)))
        self.results.display()

    @property
    def cards(self) -> list[JobCard]:
        return self.results.cards

    # -- Generate ------------------------------------------------------------------------------------
    def _changed_mind(self, _: Any = None) -> None:
        """An edit after a paid Generate asked: the question no longer stands."""
        if self._asking is not None and self._asking != self._wanted():
            self._reset_confirm()

    def _reset_confirm(self) -> None:
        self._asking = None
        self.submit.description, self.submit.button_style = t(GENERATE, self.lang), "primary"

    def _wanted(self) -> tuple[Any, ...]:
        return (self.prompt.value, self.model.value, self.enhance.value, self.translate.value,
                tuple(self._options().items()))  # fmt: skip

    def _plans(self) -> list[_pipeline.Plan]:
        spec = MODELS[self.model.value]
        last = self._uploads(self.last_frame)
        options = dict(
            model=self.model.value, **self._options(),
            image=self._image() if "first" in spec.images else None,
            last_frame=last[0] if last and "last" in spec.images else None,
            references=self._uploads(self.references) if "reference" in spec.images else None,
        )  # fmt: skip
        return _pipeline.plan(
            [self.prompt.value.strip()], options, enhance=bool(self.enhance.value),
            translate=self.translate.value or None,
        )  # fmt: skip

    def _on_submit(self, _: Any = None) -> None:
        confirmed = self._asking is not None and self._asking == self._wanted()
        try:
            plans = self._plans()
            how = t("click “{button}”", self.lang, button=t(CONFIRM, self.lang))
            jobs = _pipeline.start(self._engine or get_engine, plans, yes=confirmed, how=how)
        except PaidJobsError as exc:  # a question, not a failure: the button becomes the answer
            self._asking = self._wanted()
            self.submit.description, self.submit.button_style = t(CONFIRM, self.lang), "warning"
            self.message.value = f'<span style="color:#9a6700">{html.escape(exc.message)}</span>'
            return
        except CogVideoError as exc:
            self.message.value = f'<span style="color:#cf222e">{html.escape(str(exc))}</span>'
            return
        self._reset_confirm()
        self.message.value = "".join(rewrite_html(*r, self.lang) for r in _pipeline.rewrites(jobs))
        engine = self._engine or get_engine()
        self.results.add([JobCard(job, engine) for job in jobs])
        if not self.results.shown:  # inside someone's layout: the cards go at the form's foot
            children: tuple[Any, ...] = tuple(self.children)  # type: ignore[has-type]
            if self.results.box not in children:
                self.children = (*children, self.results.box)
