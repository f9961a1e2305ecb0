"""Cleaning of the values clerks put in cadastral tables: settlement names with their type in
front ("AA.HH. Los Olivos"), manzana letters ("Mz. B", "b"), lote numbers (12, "12", 12.0)."""

from __future__ import annotations

import math
import re
from typing import Any

from geo.geocode.normalise import fold

#: Settlement types written before a name, and the label we keep for each.
_TYPES: list[tuple[str, str]] = [
    (r"a\s*\.?\s*a\s*\.?\s*h\s*\.?\s*h\s*\.?|asentamiento\s+humano|a\s*\.\s*h\s*\.", "AA.HH."),
    (r"urbanizaci[oó]n|urb\s*\.?", "Urb."),
    (r"asociaci[oó]n(?:\s+de\s+vivienda)?|asoc\s*\.?", "Asoc."),
    (r"pueblo\s+joven|p\s*\.\s*j\s*\.?", "P.J."),
    (r"cooperativa(?:\s+de\s+vivienda)?|coop\s*\.?", "Coop."),
]
_TYPE_RE = [(re.compile(rf"^\s*(?:{p})(?=\s|$)\s*", re.IGNORECASE), label) for p, label in _TYPES]
_MZ_PREFIX = re.compile(r"^(?:manzana|mza|mz)\b\.?\s*", re.IGNORECASE)
_LT_PREFIX = re.compile(r"^(?:lote|lte|lt)\b\.?\s*", re.IGNORECASE)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def blank(value: Any) -> bool:
    """None, NaN or only spaces."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def text(value: Any) -> str | None:
    """A cell as clean text (numbers that are whole lose their ``.0``); None when blank."""
    if blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def settlement(value: Any) -> tuple[str | None, str | None]:
    """``"AA.HH. Los Olivos"`` -> ``("Los Olivos", "AA.HH.")``; a name without a type keeps
    it None. The geocoder matches names without their type, so the type is held apart."""
    name = text(value)
    if name is None:
        return None, None
    for pattern, label in _TYPE_RE:
        m = pattern.match(name)
        if m and name[m.end() :].strip():
            return name[m.end() :].strip(), label
    return name, None


def settlement_type(value: Any) -> str | None:
    """A type column's value as our label ("URBANIZACION" -> "Urb."); other text kept as is."""
    raw = text(value)
    if raw is None:
        return None
    for pattern, label in _TYPE_RE:
        m = pattern.match(raw)
        if m and not raw[m.end() :].strip():
            return label
    return raw


def key(value: str) -> str:
    """Comparison key of a name or code: folded, only letters and digits, single spaces."""
    return _NOT_ALNUM.sub(" ", fold(value)).strip()


def slug(value: str) -> str:
    """A name as part of a code: ``"Los Ángeles"`` -> ``"los-angeles"``."""
    return key(value).replace(" ", "-")


def manzana(value: Any) -> str | None:
    """A manzana as the geocoder keys it: ``"Mz. b"`` -> ``"B"``, ``"B-1"`` -> ``"B1"``."""
    raw = text(value)
    if raw is None:
        return None
    out = _NOT_ALNUM.sub("", fold(_MZ_PREFIX.sub("", raw))).upper()
    return out or None


def lote(value: Any) -> int | None:
    """A lote number as a whole number (``12``, ``"12"``, ``12.0``, ``"Lt. 12"``), else None
    (``"12A"``: the geocoder reads lote numbers as whole numbers)."""
    if isinstance(value, bool) or blank(value):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    raw = _LT_PREFIX.sub("", str(value).strip())
    return int(raw) if raw.isdigit() else None


def ubigeo(value: Any) -> str | None:
    """A district code; numbers zero-padded to 6 digits (``70105`` -> ``"070105"``)."""
    raw = text(value)
    if raw is None:
        return None
    return raw.zfill(6) if raw.isdigit() else raw
