"""``POST /chat/completions`` for the emulator: a deterministic, rule-based prompt expansion.

Prompt enhancement must work offline and in tests, so the emulator answers the OpenAI-style
chat route itself. It does not pretend to be a language model: it keeps the user's text, then
adds a sentence for each of the five prompt parts (motion, scene, light/mood, style, and a
subject detail) that the prompt does not already mention, chosen by the prompt's hash and
written in the prompt's language. A system prompt asking for a translation into English or
Simplified Chinese is answered from a glossary instead (``_translate``). The same input always
gives the same answer.
"""

# ruff: noqa: E501  (the phrase tables below read best one part per line)

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from typing import Any

from ._store import ApiError
from ._translate import translate_prompt, translation_target

__all__ = ["chat_answer", "chat_reply", "detect_language", "expand_prompt"]

MAX_PROMPT_CHARS = 512  # CogVideoX's prompt limit: what a rewrite for it must fit
_CHAT_MODEL = re.compile(r"^(glm|chatglm|charglm|codegeex|emohaa)-[a-z0-9.\-]+$", re.IGNORECASE)

# language -> part -> (keywords that mean the part is present, sentences to pick from)
_PARTS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "en": {
        "subject": ((), ("Fine details are sharply visible: texture, colour and small imperfections.",
                         "The main subject is clearly in frame, its shape and surface crisply detailed.")),
        "motion": (("moves", "moving", "running", "walks", "flies", "drifts", "dolly", "pan", "camera",
                    "tracking", "slow", "rises", "falls", "spins", "flows", "trots", "runs"),
                   ("The camera slowly dollies in while the subject moves naturally and smoothly.",
                    "A steady tracking shot follows the motion at a calm, even pace.")),
        "scene": (("forest", "city", "street", "room", "beach", "sea", "mountain", "sky", "field",
                   "hills", "river", "snow", "desert", "garden", "pond", "in a", "on a"),
                  ("The background opens onto a wide, softly blurred landscape with depth.",
                   "The setting is detailed, with a clear foreground and a layered background.")),
        "light": (("light", "sun", "dawn", "dusk", "night", "golden", "shadow", "glow", "mood",
                   "foggy", "misty", "neon", "sunset", "sunrise"),
                  ("Warm golden-hour light falls from the side, casting long soft shadows; calm mood.",
                   "Soft diffuse daylight, gentle contrast and a quiet, peaceful atmosphere.")),
        "style": (("cinematic", "style", "watercolor", "anime", "film", "photo", "realistic", "35mm",
                   "painting", "claymation", "pixel", "documentary", "3d"),
                  ("Cinematic, photorealistic, shallow depth of field, shot on a 35mm lens.",
                   "Documentary style, natural colours, high detail, 4K film look.")),
    },
    "zh": {
        "subject": ((), ("主体清晰可见，质感、颜色和细节都很丰富。", "画面主体位于中央，轮廓和表面细节清楚。")),
        "motion": (("移动", "奔跑", "走", "飞", "飘", "镜头", "推进", "跟随", "缓缓", "旋转", "流动"),
                   ("镜头缓慢向前推进，主体自然流畅地运动。", "稳定的跟拍镜头以平缓的节奏跟随动作。")),
        "scene": (("森林", "城市", "街", "房间", "海", "山", "天空", "田野", "河", "雪", "沙漠", "花园"),
                  ("背景是开阔、柔和虚化的自然风景，层次分明。", "场景细节丰富，前景清晰，背景层次分明。")),
        "light": (("光", "阳", "黄昏", "清晨", "夜", "金色", "阴影", "雾", "氛围", "霓虹"),
                  ("温暖的金色阳光从侧面照来，投下柔和的长影，氛围宁静。", "柔和的漫射日光，对比温和，气氛安静平和。")),
        "style": (("电影", "风格", "水彩", "动漫", "写实", "胶片", "油画", "纪录"),
                  ("电影感，写实风格，浅景深，定焦镜头拍摄。", "纪录片风格，自然色彩，高细节，胶片质感。")),
    },
    "ja": {
        "subject": ((), ("被写体の質感や色、細部がはっきりと見える。",)),
        "motion": (("動", "走", "飛", "カメラ", "ゆっくり"), ("カメラがゆっくりと前進し、被写体は自然に動く。",)),
        "scene": (("森", "街", "部屋", "海", "山", "空", "川", "雪"), ("背景には奥行きのある柔らかな風景が広がる。",)),
        "light": (("光", "夕", "朝", "夜", "影", "霧"), ("暖かな金色の光が横から差し込み、穏やかな雰囲気。",)),
        "style": (("映画", "風", "水彩", "アニメ"), ("映画のような写実的な映像、浅い被写界深度。",)),
    },
    "es": {
        "subject": ((), ("Los detalles del sujeto se ven con nitidez: textura, color y forma.",)),
        "motion": (("camina", "corre", "vuela", "cámara", "lento", "mueve"),
                   ("La cámara avanza lentamente mientras el sujeto se mueve con naturalidad.",)),
        "scene": (("bosque", "ciudad", "calle", "playa", "mar", "montaña", "cielo", "río", "nieve"),
                  ("El fondo muestra un paisaje amplio y suavemente desenfocado.",)),
        "light": (("luz", "sol", "amanecer", "atardecer", "noche", "sombra", "niebla"),
                  ("Una cálida luz dorada entra de lado y proyecta sombras suaves; ambiente sereno.",)),
        "style": (("cinematográfico", "estilo", "acuarela", "anime", "realista"),
                  ("Estilo cinematográfico y fotorrealista, poca profundidad de campo.",)),
    },
    "fr": {
        "subject": ((), ("Les détails du sujet sont nets : texture, couleur et forme.",)),
        "motion": (("marche", "court", "vole", "caméra", "lent", "bouge"),
                   ("La caméra avance lentement tandis que le sujet bouge naturellement.",)),
        "scene": (("forêt", "ville", "rue", "plage", "mer", "montagne", "ciel", "rivière", "neige"),
                  ("L'arrière-plan s'ouvre sur un vaste paysage doucement flou.",)),
        "light": (("lumière", "soleil", "aube", "crépuscule", "nuit", "ombre", "brume"),
                  ("Une chaude lumière dorée arrive de côté et projette de longues ombres douces.",)),
        "style": (("cinématographique", "style", "aquarelle", "anime", "réaliste"),
                  ("Style cinématographique et photoréaliste, faible profondeur de champ.",)),
    },
    "de": {
        "subject": ((), ("Die Details des Motivs sind scharf zu sehen: Textur, Farbe und Form.",)),
        "motion": (("läuft", "rennt", "fliegt", "kamera", "langsam", "bewegt"),
                   ("Die Kamera fährt langsam heran, während sich das Motiv natürlich bewegt.",)),
        "scene": (("wald", "stadt", "straße", "strand", "meer", "berg", "himmel", "fluss", "schnee"),
                  ("Im Hintergrund öffnet sich eine weite, weich verschwommene Landschaft.",)),
        "light": (("licht", "sonne", "morgen", "abend", "nacht", "schatten", "nebel"),
                  ("Warmes goldenes Licht fällt von der Seite und wirft lange, weiche Schatten.",)),
        "style": (("filmisch", "stil", "aquarell", "anime", "realistisch"),
                  ("Filmischer, fotorealistischer Stil, geringe Schärfentiefe.",)),
    },
}  # fmt: skip

_STOPWORDS = {
    "es": {"el", "los", "las", "una", "del", "por", "con", "que", "y"},
    "fr": {"le", "les", "une", "des", "du", "dans", "avec", "sur", "et"},
    "de": {"der", "die", "das", "ein", "eine", "im", "mit", "und", "auf"},
}
_END = {"en": ".", "es": ".", "fr": ".", "de": ".", "zh": "。", "ja": "。"}


def detect_language(text: str) -> str:
    """A rough guess good enough to answer in kind: script first, then common short words."""
    if re.search(r"[\u3040-\u30ff]", text):
        return "ja"
    if re.search(r"[\u3400-\u9fff]", text):
        return "zh"
    words = set(re.findall(r"[a-zäöüßéèêàçñáíóú]+", text.lower()))
    best, hits = "en", 1
    for lang, stop in _STOPWORDS.items():
        n = len(words & stop)
        if n > hits:
            best, hits = lang, n
    return best


def expand_prompt(prompt: str, limit: int = MAX_PROMPT_CHARS) -> str:
    """The user's prompt plus a sentence for every prompt part it lacks, within ``limit``."""
    text = " ".join(prompt.split())
    lang = detect_language(text)
    parts = _PARTS[lang]
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    lower = text.lower()
    end = _END[lang]
    out = text if text.endswith((".", "!", "?", "。", "！", "？")) else text + end
    sep = "" if lang in ("zh", "ja") else " "
    for i, (part, (keywords, sentences)) in enumerate(parts.items()):
        if part != "subject" and any(k in lower for k in keywords):
            continue  # the user already said it: keep theirs
        sentence = sentences[digest[i] % len(sentences)]
        if len(out) + len(sep) + len(sentence) > limit:
            break
        out += sep + sentence
    return out


def _user_text(data: Any) -> str:
    if not isinstance(data, dict):
        raise ApiError(400, "1210", "request body must be a JSON object")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "1214", "model is required")
    if not _CHAT_MODEL.match(model):
        raise ApiError(400, "1211", f"model not found: {model}")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "1214", "messages must be a non-empty list")
    if data.get("stream"):
        raise ApiError(400, "1210", "the emulator does not stream chat answers")
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # OpenAI's content parts
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            if isinstance(content, str) and content.strip():
                return content
    raise ApiError(400, "1214", "no user message with text content")


def _system_text(data: dict[str, Any]) -> str:
    said = [m.get("content") for m in data["messages"] if isinstance(m, dict) and m.get("role") == "system"]
    return "\n".join(s for s in said if isinstance(s, str))


def chat_reply(data: Any, request_id: str) -> dict[str, Any]:
    """The OpenAI-compatible answer body the platform sends (id, model, choices, usage): a
    translation when the system prompt asks for one, else the prompt expanded."""
    text = _user_text(data)
    target = translation_target(_system_text(data))
    answer = translate_prompt(text, target) if target else expand_prompt(text)
    created = int(time.time())
    prompt_tokens = sum(len(str(m.get("content", ""))) for m in data["messages"] if isinstance(m, dict))
    return {
        "id": request_id,
        "request_id": request_id,
        "object": "chat.completion",
        "created": created,
        "model": data["model"],
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": answer}}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(answer),
            "total_tokens": prompt_tokens + len(answer),
        },
    }


def chat_answer(body: bytes) -> dict[str, Any]:
    """The route's whole job: read the JSON body, answer with a fresh completion id."""
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "1210", f"request body is not valid JSON: {exc}") from None
    return chat_reply(data, f"chat-{int(time.time() * 1000)}-{random.getrandbits(32):08x}")
