"""Language of a product text: ``zh``, ``en`` or ``mixed``.

Hand-rolled on purpose. The library holds exactly two languages, and the answer must be deterministic and free of any
model: statistical detectors (langdetect, fastText lid) are unstable on short product titles such as
"LED灯泡 E27 9W" or "iPhone 15 手机壳", where brands, units and model numbers dominate the characters. A script
ratio is enough to tell the two languages apart and explains itself.

Rule: count Han characters and English *words*. Latin tokens that carry no language are ignored: tokens with digits
(model numbers "XR-2031", sizes "500ml", "E27"), units and other tokens of one or two letters ("W", "cm"), and short
all-caps acronyms ("LED", "USB", "PVC", "TWS") that Chinese titles use as they are. A Chinese word averages about two
characters, so two Han characters weigh as much as one English word. The text is ``zh`` when Chinese carries at least
70% of that weight, ``en`` at most 20%, ``mixed`` in between; no language-bearing token at all falls back on any Han
character (``zh``) or ``en``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Language = Literal["zh", "en", "mixed"]
LANGUAGES: tuple[str, ...] = ("zh", "en", "mixed")

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\-][A-Za-z0-9]+)*")
_HAN_CHARS_PER_WORD = 2.0
_ZH_SHARE = 0.7
_EN_SHARE = 0.2


def _is_english_word(token: str) -> bool:
    if len(token) < 3 or any(ch.isdigit() for ch in token):
        return False
    if token.isupper() and len(token) <= 4:  # acronym used as-is in Chinese titles
        return False
    return True


def detect_language(text: str) -> Language:
    """``zh``, ``en`` or ``mixed`` for ``text`` (see the module docstring for the rule)."""
    text = unicodedata.normalize("NFKC", text or "")  # full-width Latin letters count as Latin
    han = len(_HAN.findall(text))
    words = sum(1 for tok in _TOKEN.findall(text) if _is_english_word(tok))
    if words == 0:
        return "zh" if han else "en"
    if han == 0:
        return "en"
    zh_weight = han / _HAN_CHARS_PER_WORD
    share = zh_weight / (zh_weight + words)
    if share >= _ZH_SHARE:
        return "zh"
    if share <= _EN_SHARE:
        return "en"
    return "mixed"


_ALIASES = {
    "zh": "zh", "zh-cn": "zh", "zh_cn": "zh", "zh-hans": "zh", "zh-tw": "zh", "zh-hant": "zh", "cn": "zh",
    "chinese": "zh", "中文": "zh", "zho": "zh", "chi": "zh",
    "en": "en", "en-us": "en", "en_us": "en", "en-gb": "en", "en_gb": "en", "english": "en", "英文": "en", "eng": "en",
    "mixed": "mixed", "mix": "mixed", "zh-en": "mixed", "en-zh": "mixed", "混合": "mixed",
}


def normalise_language(value: str) -> Language:
    """Map common spellings ("zh-CN", "English", "中文") to ``zh``/``en``/``mixed``; ValueError otherwise."""
    key = str(value).strip().lower()
    try:
        return _ALIASES[key]  # type: ignore[return-value]
    except KeyError:
        raise ValueError(f"unknown language '{value}' (use zh, en or mixed)") from None
