"""The emulator's offline translation: common prompt words, Chinese <-> English, from a glossary.

So ``--translate`` works offline and in tests, the chat route answers a translation request (a
system prompt asking for a translation "into English" or "into Simplified Chinese") itself. It
is no language model and does not pretend to be one: it looks the prompt's words up in a small
glossary of words common in video prompts (longest match first) and answers with them in order,
as a comma-separated list in the target language. Words it does not know are left out, never
passed through in the source script, so the answer is always in the target language; a prompt
with no known word at all becomes a fixed placeholder sentence. The same input gives the same
answer.
"""

# ruff: noqa: E501  (the glossary reads best several pairs per line)

from __future__ import annotations

import re

__all__ = ["FALLBACK", "GLOSSARY", "translate_prompt", "translation_target"]

# (Chinese, English). The first pair for a word is the one used in that direction, so the
# preferred word comes first (奔跑 -> running, and running/runs/run -> 奔跑).
GLOSSARY: tuple[tuple[str, str], ...] = (
    # who or what
    ("柴犬", "shiba inu"), ("小狗", "puppy"), ("狗", "dog"), ("小猫", "kitten"), ("猫", "cat"),
    ("红狐狸", "red fox"), ("狐狸", "fox"), ("苍鹭", "heron"), ("鸟", "bird"), ("马", "horse"),
    ("鱼", "fish"), ("熊猫", "panda"), ("兔子", "rabbit"), ("老虎", "tiger"), ("狮子", "lion"),
    ("大象", "elephant"), ("蝴蝶", "butterfly"), ("女孩", "girl"), ("男孩", "boy"), ("女人", "woman"),
    ("男人", "man"), ("孩子", "child"), ("老人", "old man"), ("宇航员", "astronaut"), ("机器人", "robot"),
    ("汽车", "car"), ("火车", "train"), ("纸船", "paper boat"), ("船", "boat"), ("风筝", "kite"),
    ("气球", "balloon"), ("灯笼", "lantern"),
    # where
    ("草地", "grass"), ("草原", "grassland"), ("森林", "forest"), ("海边", "seaside"), ("海滩", "beach"),
    ("大海", "sea"), ("海", "sea"), ("湖", "lake"), ("河", "river"), ("池塘", "pond"), ("雪山", "snowy mountains"),
    ("山", "mountain"), ("城市", "city"), ("街道", "street"), ("花园", "garden"), ("公园", "park"),
    ("沙漠", "desert"), ("蓝天", "blue sky"), ("天空", "sky"), ("白云", "white clouds"), ("云", "clouds"),
    ("雪地", "snowfield"), ("雪", "snow"), ("雨", "rain"), ("雾", "fog"), ("樱花", "cherry blossoms"),
    ("花", "flowers"), ("树", "tree"), ("房间", "room"), ("厨房", "kitchen"),
    # motion
    ("奔跑", "running"), ("奔跑", "runs"), ("奔跑", "run"), ("跑", "running"), ("散步", "strolling"),
    ("行走", "walking"), ("行走", "walks"), ("走", "walking"), ("飞翔", "flying"), ("飞翔", "flies"),
    ("飞", "flying"), ("跳跃", "jumping"), ("跳舞", "dancing"), ("游泳", "swimming"), ("微笑", "smiling"),
    ("小跑", "trots"), ("起飞", "lifts off"), ("漂浮", "floating"), ("旋转", "spinning"),
    # light and mood
    ("阳光明媚", "sunny"), ("阳光", "sunlight"), ("日落", "sunset"), ("日出", "sunrise"), ("黄昏", "dusk"),
    ("清晨", "early morning"), ("黎明", "dawn"), ("夜晚", "night"), ("夜", "night"), ("金色", "golden"),
    ("黄金时刻", "golden hour"), ("薄雾", "misty"), ("宁静", "calm"), ("温暖", "warm"), ("霓虹", "neon"),
    # colours and looks
    ("红色", "red"), ("白色", "white"), ("黑色", "black"), ("蓝色", "blue"), ("绿色", "green"),
    ("黄色", "yellow"), ("美丽", "beautiful"), ("可爱", "cute"), ("巨大", "huge"), ("小小", "tiny"),
    # camera and style
    ("电影感", "cinematic"), ("慢镜头", "slow motion"), ("特写", "close-up"), ("航拍", "aerial shot"),
    ("跟拍", "tracking shot"), ("镜头", "camera"), ("水彩", "watercolor"), ("动漫", "anime"),
    ("写实", "photorealistic"), ("纪录片", "documentary"), ("油画", "oil painting"), ("浅景深", "shallow depth of field"),
)  # fmt: skip

FALLBACK = {"en": "A short video clip.", "zh": "一段短视频。"}  # no word of the prompt was known
_ASKED = re.compile(r"translat\w*.*?\binto (English|Simplified Chinese)\b", re.IGNORECASE | re.DOTALL)
_ZH = {zh: en for zh, en in reversed(GLOSSARY)}  # reversed: the first pair wins
_EN = {en: zh for zh, en in reversed(GLOSSARY)}
_LONGEST_ZH = max(map(len, _ZH))
_LONGEST_EN = max(len(en.split()) for en in _EN)
_LATIN = re.compile(r"(?:[A-Za-z0-9]{2,}|[0-9])(?:[ -][A-Za-z0-9]+)*")  # a name, "4K"; not a stray letter


def translation_target(system: str) -> str | None:
    """``en`` or ``zh`` when a system prompt asks for a translation into English or Chinese."""
    m = _ASKED.search(system)
    return None if m is None else ("en" if m.group(1).lower() == "english" else "zh")


def _from_chinese(text: str) -> list[str]:
    found, i = [], 0
    while i < len(text):
        latin = _LATIN.match(text, i)
        if latin:  # a name or "4K" in a Chinese prompt is already in the target script
            found.append(latin.group())
            i = latin.end()
            continue
        for size in range(min(_LONGEST_ZH, len(text) - i), 0, -1):
            if text[i : i + size] in _ZH:
                found.append(_ZH[text[i : i + size]])
                i += size
                break
        else:
            i += 1  # a character it does not know (or punctuation): left out
    return found


def _from_english(text: str) -> list[str]:
    words = re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())
    found, i = [], 0
    while i < len(words):
        for size in range(min(_LONGEST_EN, len(words) - i), 0, -1):
            if " ".join(words[i : i + size]) in _EN:
                found.append(_EN[" ".join(words[i : i + size])])
                i += size
                break
        else:
            i += 1  # an article, a preposition, a word it does not know: left out
    return found


def translate_prompt(text: str, target: str) -> str:
    """The glossary's words of ``text`` in ``target`` (``en``/``zh``), in order, as a list."""
    found = _from_chinese(text) if target == "en" else _from_english(text)
    words = [w for i, w in enumerate(found) if i == 0 or w != found[i - 1]]
    if not words:
        return FALLBACK[target]
    if target == "zh":
        return "，".join(words) + "。"
    text = ", ".join(words)
    return text[:1].upper() + text[1:] + "."
