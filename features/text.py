"""Text normalisation for HS suggestion: one function for library texts and queries, so both sides match.

NFKC folds full-width Latin letters, digits and punctuation ("ＬＥＤ１２Ｖ", "，") to their half-width forms, which is
what Chinese input methods produce next to the ASCII forms in the same catalogue. Case is folded because brands and
units are written both ways ("500ML", "500ml"). Han characters pass through unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from data.rulings.language import Language, detect_language

_WS = re.compile(r"\s+")
# Control characters (except whitespace, which collapses below) come from copy-paste out of spreadsheets and PDFs.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\ufeff]")

# Element keys that describe the declaration rather than the product; their values would only add noise to matching.
_NON_DESCRIPTIVE_ELEMENTS = frozenset({"申报要素", "gtin", "cas", "其他", "签约日期", "出口享惠情况", "享惠情况"})


def normalise_text(text: str) -> str:
    """NFKC, lowercase, control characters removed, whitespace runs collapsed, stripped."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", str(text))
    text = _CONTROL.sub("", text).lower()
    return _WS.sub(" ", text).strip()


def compose_text(product_name: str, description: str = "", declared_elements: Mapping[str, str] | None = None) -> str:
    """The one searchable text of a ruling or a query: name, description and the values of the declared elements.

    Element values (材质: 不锈钢, 用途: 保温) carry the product facts; the keys are the same for every ruling and would
    only make unrelated texts look alike, so they are left out.
    """
    parts = [product_name or "", description or ""]
    for key, value in (declared_elements or {}).items():
        if str(key).strip().lower() in _NON_DESCRIPTIVE_ELEMENTS:
            continue
        parts.append(str(value))
    return normalise_text(" ".join(p for p in parts if p))


def text_language(text: str) -> Language:
    """Language of a (raw or normalised) text: ``zh``, ``en`` or ``mixed``."""
    return detect_language(text)
