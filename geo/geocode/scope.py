"""Finding the district named at the end of an address ("..., San Juan de Lurigancho")."""

from __future__ import annotations

from rapidfuzz import fuzz, process

from geo.geocode.gazetteer import Gazetteer

AFTER_COMMA = 80.0  # a part after a comma or dash is very likely a district
BARE_SUFFIX = 90.0  # without a separator, demand a closer match
MAX_WORDS = 5
MARKERS = ("cdra", "nro", "mz", "lt", "esq", "con", "y", "aahh")


def _district(gaz: Gazetteer, words: list[str], cutoff: float) -> str | None:
    text = " ".join(words)
    if not text or len(text) < 3:
        return None
    if text in gaz.district_keys:
        return gaz.district_keys[text]
    if len(text) < 5:  # short aliases (sjl, ves) only match exactly
        return None
    hit = process.extractOne(text, gaz.district_keys.keys(), scorer=fuzz.ratio, score_cutoff=cutoff)
    return gaz.district_keys[hit[0]] if hit else None


def split_district(gaz: Gazetteer, toks: list[str]) -> list[tuple[str | None, list[str], bool]]:
    """Readings of ``toks`` as (district code or None, the rest, district was explicit).

    A trailing part after a separator that matches a district is taken as such. A bare
    trailing district name ("jr tacna 123 brena") is taken when a number precedes it; when
    nothing tells (a street could carry a district's name) both readings are returned and the
    geocoder keeps the better one.
    """
    if "," in toks:
        cut = len(toks) - 1 - toks[::-1].index(",")
        code = _district(gaz, toks[cut + 1 :], AFTER_COMMA)
        if code is not None:
            return [(code, [t for t in toks[:cut] if t != ","], True)]
    words = [t for t in toks if t != ","]
    whole = _district(gaz, words, BARE_SUFFIX)
    if whole is not None:
        return [(whole, [], True)]
    for n in range(min(MAX_WORDS, len(words) - 1), 0, -1):
        if words[-n].isdigit() or words[-n] in MARKERS:
            continue  # "447 san juan de lurigancho": the number is not part of the name
        code = _district(gaz, words[-n:], BARE_SUFFIX)
        if code is None:
            continue
        rest = words[:-n]
        if rest[-1].isdigit() and len(rest) >= 2:
            return [(code, rest, True)]
        return [(code, rest, True), (None, words, False)]
    return [(None, words, False)]
