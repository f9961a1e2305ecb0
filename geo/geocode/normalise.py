"""Normalisation of Peruvian address text into canonical tokens.

``normalise("Av. Los Próceres N° 1234, San Juan de Lurigancho")`` gives
``"av los proceres nro 1234 , san juan de lurigancho"``: lower case, no accents (ñ -> n),
canonical markers for street types (``av jr ca psje prol``), ``cdra`` (cuadra), ``nro``,
``mz``/``lt``, ``aahh`` and ``esq``; commas and dashes kept as a ``,`` separator token;
number words and ordinals as digits ("quinta cuadra", "5ta cuadra" -> ``5 cdra``); ``unit``
marks an apartment/interior/office part ("Dpto. 402") and ``sn`` "sin número" (s/n).
"""

from __future__ import annotations

import re
import re._constants as _sre  # the pattern parser's opcodes (see _one_pass)
import re._parser as _sre_parse
import unicodedata
from typing import Any

STREET_TYPES = ("av", "jr", "ca", "psje", "prol", "ovalo", "carretera", "malecon")

# (pattern, replacement), applied in order to the folded text; words are \b-delimited.
_RULES: list[tuple[str, str]] = [
    (
        r"\ba\s*\.?\s*a\s*\.?\s*h\s*\.?\s*h\b\.?|\basentamiento\s+humano\b|\basent\.?\s+humano\b",
        " aahh ",
    ),
    (r"\ba\s*\.\s*h\b\.?|\bah\b\.?", " aahh "),
    # urbanizaciones, pueblos jóvenes, asociaciones de vivienda: named places like AA.HH.
    (r"\burbanizacion\b|\burb\b\.?|\bpueblo\s+joven\b|\bp\s*\.\s*j\b\.?", " aahh "),
    (r"\basociacion\s+de\s+vivienda\b|\basoc\b\.?(?:\s+de\s+vivienda\b)?", " aahh "),
    (r"\bmanzana\b|\bmz\b\.?", " mz "),
    (r"\blote\b|\blt\b\.?|\blte\b\.?", " lt "),
    (r"\bavenida\b|\bavda\b\.?|\bav\b\.?", " av "),
    (r"\bjiron\b|\bjr\b\.?|\bjiro\b", " jr "),
    (r"\bcalle\b|\bcll?\b\.?|\bca\b\.?", " ca "),
    (r"\bpasaje\b|\bpsje?\b\.?|\bpje\b\.?|\bpsj\b\.?", " psje "),
    (r"\bprolongacion\b|\bprol\b\.?", " prol "),
    (r"\bcuadra\b|\bcdra\b\.?|\bcda\b\.?|\bcdr\b\.?|\bcuad\b\.?", " cdra "),
    (r"(?:\bn\s*[°º]|\bnumero\b|\bnum\b\.?|\bnro\b\.?|\bno\b\.?|\bn\b\.?)\s*(?=\d)", " nro "),
    (r"#\s*", " nro "),
    (r"\bcruce\s+de\b|\bcruce\b|\besquina\b|\besq\b\.?", " esq "),
    (
        r"\bi\s*\.\s*e\b\.?|\bie\b|\binstitucion\s+educativa\b|\bescuela\b|\bcolegio\b|\bcol\b\.",
        " colegio ",
    ),
    (r"\biglesia\b|\bparroquia\b", " iglesia "),
    (r"\bcomisaria\b|\bcpnp\b|\bcomisaria\s+pnp\b", " comisaria "),
    (r"\bmercado\b|\bmdo\b\.?", " mercado "),
    (r"\bparque\b|\bpque\b\.?", " parque "),
]


def _first_chars(items: Any) -> set[str] | None:
    """Characters a match of a parsed pattern can start with; None when not sure."""
    for op, av in items:
        if op is _sre.AT:  # zero width (\b): look at what follows
            continue
        if op is _sre.LITERAL:
            return {chr(av)}
        if op is _sre.IN:
            chars: set[str] = set()
            for kind, value in av:
                if kind is _sre.LITERAL:
                    chars.add(chr(value))
                elif kind is _sre.RANGE:
                    chars |= {chr(c) for c in range(value[0], value[1] + 1)}
                else:
                    return None
            return chars
        if op in (_sre.BRANCH, _sre.SUBPATTERN):
            chars = set()
            for branch in av[1] if op is _sre.BRANCH else [av[3]]:
                first = _first_chars(branch)
                if first is None:
                    return None
                chars |= first
            return chars
        return None
    return None


def _one_pass(rules: list[tuple[str, str]]) -> re.Pattern[str]:
    """Every rule as a named alternative (leftmost match wins, then rule order), led by a
    lookahead on the characters some rule can start with: the engine then skips most
    positions without trying twenty alternatives there (twice as fast, same matches)."""
    body = "|".join(f"(?P<r{i}>{p})" for i, (p, _) in enumerate(rules))
    try:
        firsts = [_first_chars(_sre_parse.parse(p)) for p, _ in rules]
    except Exception:  # the parser is CPython's own; without it, no lookahead
        firsts = [None]
    if any(f is None for f in firsts):
        return re.compile(body)
    chars = "".join(sorted(set().union(*firsts)))  # type: ignore[arg-type]
    return re.compile(f"(?=[{re.escape(chars)}])(?:{body})")


_ONE_PASS = _one_pass(_RULES)
_REPLACEMENTS = {f"r{i}": r for i, (_, r) in enumerate(_RULES)}
_NUMBER_WORDS = {
    "uno": 1,
    "una": 1,
    "primera": 1,
    "primer": 1,
    "primero": 1,
    "dos": 2,
    "segunda": 2,
    "segundo": 2,
    "tres": 3,
    "tercera": 3,
    "tercer": 3,
    "tercero": 3,
    "cuatro": 4,
    "cuarta": 4,
    "cuarto": 4,
    "cinco": 5,
    "quinta": 5,
    "quinto": 5,
    "seis": 6,
    "sexta": 6,
    "sexto": 6,
    "siete": 7,
    "septima": 7,
    "setima": 7,
    "septimo": 7,
    "ocho": 8,
    "octava": 8,
    "octavo": 8,
    "nueve": 9,
    "novena": 9,
    "noveno": 9,
    "diez": 10,
    "decima": 10,
    "decimo": 10,
}
_WORD_NUMBER = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b")
_ORDINAL = re.compile(r"\b(\d+)(?:era|ero|er|ra|ro|da|do|ta|to|va|vo|na|no|ma|mo)\b")
# Apartment, interior, office, floor: not part of the street address ("Dpto. 402").
_UNIT = re.compile(
    r"\b(?:dpto|dpt|dto|departamento|int|interior|of|oficina|piso|tienda|puesto)\b\.?"
)
_NO_NUMBER = re.compile(r"\bs\s*/\s*n\b|\bsin\s+numero\b")
_SEPARATORS = re.compile(r"\s[-–—]\s|,|;|\(|\)")
_PUNCT = re.compile(r"[^a-z0-9, ]+")
_GLUED = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z]{2,})")  # "mz.b12" "lt12" "123a"? keep 123a

#: Phrases officers put before the address; removed at the start of the text or of a part.
FILLERS = (
    "a la altura de la",
    "a la altura del",
    "a la altura de",
    "altura de la",
    "altura del",
    "altura de",
    "a la altura",
    "altura",
    "frente a la",
    "frente al",
    "frente a",
    "frente de",
    "frente",
    "cerca de la",
    "cerca del",
    "cerca de",
    "cerca a la",
    "cerca al",
    "cerca a",
    "cerca",
    "al costado de la",
    "al costado del",
    "al costado de",
    "costado de",
    "al costado",
    "ref",
    "referencia",
    "por la",
    "por el",
    "por",
    "en la",
    "en el",
    "en",
    "a la",
    "al",
    "del",
    "altura de la cdra",
    "entre",
)
_FILLERS_BY_HEAD: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted((tuple(f.split()) for f in FILLERS), key=len, reverse=True):
    _FILLERS_BY_HEAD.setdefault(_phrase[0], []).append(_phrase)


def fold(text: str) -> str:
    """Lower case without accents (ñ -> n), keeping ° and # for the number markers."""
    if text.isascii():  # NFKD leaves ASCII as it is and it has no combining marks
        return text.lower()
    return unicodedata.normalize("NFKD", text.lower()).translate(_NO_COMBINING)


class _DropCombining(dict[int, Any]):
    """``str.translate`` table that deletes combining marks and keeps every other
    character, filled as characters are met (a few hundred in practice; bounded)."""

    def __missing__(self, code: int) -> Any:
        keep = None if unicodedata.combining(chr(code)) else code
        if len(self) < 4096:
            self[code] = keep
        return keep


_NO_COMBINING = _DropCombining()


def normalise(text: str) -> str:
    """Canonical token string for parsing and matching (see module docstring)."""
    t = fold(text)
    t = _NO_NUMBER.sub(" sn ", t)
    t = _SEPARATORS.sub(" , ", t)
    t = _WORD_NUMBER.sub(lambda m: str(_NUMBER_WORDS[m.group(1)]), t)
    t = _ORDINAL.sub(r"\1", t)
    t = _UNIT.sub(" unit ", t)
    t = t.replace("º", "°")
    t = _ONE_PASS.sub(lambda m: _REPLACEMENTS[m.lastgroup or ""], t)
    t = _PUNCT.sub(" ", t)
    t = _GLUED.sub(" ", t)
    # only spaces are left as white space: split and join collapse them (faster than re)
    return " ".join(t.split()).strip(" ,")


def tokens(text: str) -> list[str]:
    """Normalised tokens of ``text``."""
    return normalise(text).split()


def strip_fillers(toks: list[str]) -> list[str]:
    """Remove leading filler phrases ("a la altura de", "frente al", "por" ...)."""
    changed = True
    while changed and toks:
        changed = False
        for phrase in _FILLERS_BY_HEAD.get(toks[0], ()):
            if tuple(toks[: len(phrase)]) == phrase and len(toks) > len(phrase):
                toks = toks[len(phrase) :]
                changed = True
                break
    return toks
