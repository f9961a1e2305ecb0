"""Parsing of normalised address tokens into components.

Forms recognised (after an optional district part has been split off by the caller):

- ``number``: street + house number (``av los proceres nro 1234``, ``jr 28 de julio 456``)
- ``block``: street + cuadra (``jr huallaga cdra 5``: numbers 500-599)
- ``intersection``: ``av x con jr y``, ``esq x y y``, ``x esq con y``
- ``mzlt``: ``aahh los olivos mz b lt 12`` (the settlement name may lack the marker)
- ``landmark``: ``mercado central``, ``colegio jose olaya`` (fillers like "frente al" removed)
- ``street``: a street with nothing else
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from geo.geocode.normalise import STREET_TYPES, strip_fillers

LANDMARK_KINDS = ("mercado", "colegio", "parque", "iglesia", "comisaria", "plaza", "hospital")
_CONNECTORS = ("con", "y", "esq")


@dataclass
class Parsed:
    """Components of one address; absent ones are None."""

    kind: str
    street_type: str | None = None
    street: str | None = None
    number: int | None = None
    block: int | None = None
    street2_type: str | None = None
    street2: str | None = None
    aahh: str | None = None
    mz: str | None = None
    lt: int | None = None
    landmark_kind: str | None = None
    landmark: str | None = None
    extra: list[str] = field(default_factory=list)


def split_type(toks: list[str]) -> tuple[str | None, list[str]]:
    """Leading street type, if any, and the rest."""
    if toks and toks[0] in STREET_TYPES:
        return toks[0], toks[1:]
    return None, toks


def parse(toks: list[str]) -> Parsed:
    """Parse tokens (district already removed, separators ``,`` allowed) into components."""
    toks = strip_fillers([t for t in toks if t != ","])
    if not toks:
        return Parsed("unknown")
    if "mz" in toks or "lt" in toks or toks[0] == "aahh":
        return _parse_mzlt(toks)
    kind = landmark_kind(toks[0])
    if kind is not None:
        toks = [kind, *toks[1:]]
    if toks[0] in LANDMARK_KINDS:
        return Parsed("landmark", landmark_kind=toks[0], landmark=" ".join(toks[1:]) or None)
    inter = _parse_intersection(toks)
    if inter is not None:
        return inter
    return _parse_street(toks)


def landmark_kind(word: str) -> str | None:
    """The landmark kind a (possibly mistyped) word stands for: "colerio" -> "colegio"."""
    if word in LANDMARK_KINDS:
        return word
    if len(word) < 5 or word in STREET_TYPES:
        return None
    hit = process.extractOne(word, LANDMARK_KINDS, scorer=fuzz.ratio, score_cutoff=76)
    return hit[0] if hit else None


def _parse_mzlt(toks: list[str]) -> Parsed:
    out = Parsed("mzlt")
    name: list[str] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok == "mz" and nxt is not None:
            out.mz = nxt.upper()
            i += 2
            if i + 1 < len(toks) and toks[i].isdigit() and toks[i + 1] == "lt":
                out.mz += toks[i]  # "Mz. B1 Lt. 3" (split into "b 1" by normalise)
                i += 1
        elif tok == "lt" and nxt is not None and nxt.isdigit():
            out.lt = int(nxt)
            i += 2
        elif tok != "aahh" and out.mz is None and out.lt is None:
            name.append(tok)
            i += 1
        else:
            out.extra.append(tok)
            i += 1
    if not name and out.extra:  # "Mz. B Lt. 12 AA.HH. Los Olivos": the name comes last
        name, out.extra = [t for t in out.extra if t != "aahh"], []
    out.aahh = " ".join(strip_fillers(name)) or None
    return out


def parse_all(toks: list[str]) -> list[Parsed]:
    """The parse, plus "X y Y" read as an intersection when "y" may join two street names."""
    first = parse(toks)
    if first.kind in ("street", "number") and "y" in toks:
        inter = _parse_intersection(strip_fillers([t for t in toks if t != ","]), relaxed=True)
        if inter is not None:
            return [first, inter]
    return [first]


def _parse_intersection(toks: list[str], relaxed: bool = False) -> Parsed | None:
    starts_esq = toks[0] == "esq"
    body = toks[1:] if starts_esq else toks
    for i in range(1, len(body) - 1):
        if body[i] not in _CONNECTORS:
            continue
        j = i + 1
        while j < len(body) and body[j] in _CONNECTORS:
            j += 1
        # "y" is also part of names ("Santa Rosa y ..." is rare); require a street-ish right part
        if body[i] == "y" and not (starts_esq or relaxed) and body[j] not in STREET_TYPES:
            continue
        t1, a = split_type(body[:i])
        t2, b = split_type(body[j:])
        if a and b and not _has_number(a):
            b_name, number = _trailing_number(b)
            return Parsed(
                "intersection",
                street_type=t1,
                street=" ".join(a),
                street2_type=t2,
                street2=" ".join(b_name),
                number=number,
            )
    return None


def _has_number(toks: list[str]) -> bool:
    return "nro" in toks or "cdra" in toks


def _trailing_number(toks: list[str]) -> tuple[list[str], int | None]:
    if len(toks) > 1 and toks[-1].isdigit() and toks[-2] != "de":
        return toks[:-1], int(toks[-1])
    return toks, None


def _drop_units(toks: list[str]) -> list[str]:
    """Remove "sn" (sin número) and each apartment/interior part with its value."""
    out, skip = [], False
    for tok in toks:
        if skip:
            skip = False
        elif tok == "unit":
            skip = True
        elif tok != "sn":
            out.append(tok)
    return out


def _parse_block(stype: str | None, rest: list[str]) -> Parsed | None:
    k = rest.index("cdra")
    after, before = rest[k + 1 :], [t for t in rest[:k] if t != "nro"]
    if before and before[-1].isdigit() and not (after and after[0].isdigit()):
        block, before = int(before[-1]), before[:-1]  # "5 cdra" (from "5ta cuadra")
    elif after and after[0].isdigit():
        block, after = int(after[0]), after[1:]
    else:
        return None
    if not before:  # "cuadra 7 de la Av. Brasil"
        tail = after
        while tail and tail[0] in ("de", "del", "la", "el"):
            tail = tail[1:]
        stype2, tail = split_type(tail)
        return Parsed(
            "block", street_type=stype or stype2, street=" ".join(tail) or None, block=block
        )
    return Parsed("block", street_type=stype, street=" ".join(before), block=block, extra=after)


def _split_letter(toks: list[str]) -> list[str]:
    """ "14a" -> "14", "a": a house number with a letter (OpenStreetMap has many)."""
    out: list[str] = []
    for tok in toks:
        if len(tok) >= 2 and tok[-1].isalpha() and tok[:-1].isdigit():
            out += [tok[:-1], tok[-1]]
        else:
            out.append(tok)
    return out


def _parse_street(toks: list[str]) -> Parsed:
    stype, rest = split_type(_split_letter(_drop_units(toks)))
    if "cdra" in rest:
        block = _parse_block(stype, rest)
        if block is not None:
            return block
    if "nro" in rest:
        k = rest.index("nro")
        after = rest[k + 1 :]
        if after and after[0].isdigit():
            return Parsed(
                "number",
                street_type=stype,
                street=" ".join(rest[:k]) or None,
                number=int(after[0]),
                extra=after[1:],
            )
    # a bare number: the last numeric token not followed by "de" ("28 de julio") and not first
    for k in range(len(rest) - 1, 0, -1):
        if rest[k].isdigit() and (k + 1 >= len(rest) or rest[k + 1] != "de"):
            return Parsed(
                "number",
                street_type=stype,
                street=" ".join(rest[:k]),
                number=int(rest[k]),
                extra=rest[k + 1 :],
            )
    return Parsed("street", street_type=stype, street=" ".join(rest) or None)
