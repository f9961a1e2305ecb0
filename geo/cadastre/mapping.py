"""Column mapping of a cadastral layer: which column of the clerk's file holds each field.

Written ``field=COLUMN`` pairs, comma-separated on the command line
(``name=NOMBRE,code=COD_HU``) or one a line in a text file (``#`` starts a comment, ``:`` may
stand for ``=``). Fields not mapped are looked for under the column names municipal cadastres
commonly use (case-insensitive); a guess is taken only when exactly one column fits, and the
import summary says which column each field came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from geo.cadastre.errors import MappingSyntaxError, UnknownFieldError, UnknownKindError
from geo.errors import MissingColumnError

KINDS = ("aahh", "manzanas", "lotes")


@dataclass(frozen=True)
class Field:
    """One field of a layer kind: whether the import needs it, and the usual column names."""

    name: str
    required: bool
    meaning: str
    usual: tuple[str, ...]


_DISTRICT = Field(
    "district",
    False,
    "UBIGEO of the district (else: the district the feature lies in)",
    ("UBIGEO", "IDDIST", "COD_DIST", "CODDIST"),
)
_AAHH_LINK = Field(
    "aahh",
    False,
    "code or name of its AA.HH./urbanización (else: the one it lies in)",
    ("AAHH", "COD_AAHH", "NOM_AAHH", "COD_HU", "NOM_HU", "HAB_URB", "COD_HAB", "NOM_HAB"),
)
_MZ = Field("mz", True, "manzana letter or name", ("MZ", "MZA", "MZNA", "MANZANA", "NOM_MZ"))

FIELDS: dict[str, tuple[Field, ...]] = {
    "aahh": (
        Field(
            "name",
            True,
            "name of the AA.HH./urbanización",
            ("NOMBRE", "NOM_AAHH", "NOMBRE_AAHH", "NOM_HU", "NOM_HAB", "NOM_URB", "NAME"),
        ),
        Field(
            "code",
            False,
            "its code (else: made from the district and the name)",
            ("CODIGO", "COD_AAHH", "COD_HU", "COD_HAB", "CODE"),
        ),
        Field(
            "type",
            False,
            "AA.HH., Urb., Asoc., P.J. ... (else: read from the name)",
            ("TIPO", "TIPO_HAB", "TIP_HAB", "TIPO_HU", "TYPE"),
        ),
        _DISTRICT,
    ),
    "manzanas": (_MZ, _AAHH_LINK, _DISTRICT),
    "lotes": (
        Field("lt", True, "lote number", ("LOTE", "LT", "NUM_LOTE", "NRO_LOTE", "N_LOTE")),
        Field(_MZ.name, False, "its manzana (else: the manzana it lies in)", _MZ.usual),
        _AAHH_LINK,
        _DISTRICT,
    ),
}


def fields_of(kind: str) -> tuple[Field, ...]:
    """The fields of ``kind`` (``unknown_kind`` otherwise)."""
    if kind not in FIELDS:
        raise UnknownKindError(f"unknown cadastral layer {kind!r}", {"kinds": list(KINDS)})
    return FIELDS[kind]


def parse_mapping(text: str | None) -> dict[str, str]:
    """``"name=NOMBRE,code=COD"`` (or the text of a mapping file) -> ``{field: column}``."""
    out: dict[str, str] = {}
    if not text:
        return out
    for raw in text.replace("\r", "\n").replace(",", "\n").split("\n"):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        sep = "=" if "=" in line else ":"
        field, found, column = line.partition(sep)
        field, column = field.strip().lower(), column.strip().strip("\"'")
        if not found or not field or not column:
            raise MappingSyntaxError(
                f"expected field=COLUMN, got {line!r}", {"entry": line, "example": "name=NOMBRE"}
            )
        if field in out and out[field] != column:
            raise MappingSyntaxError(
                f"field {field!r} mapped twice ({out[field]!r}, {column!r})", {"field": field}
            )
        out[field] = column
    return out


def load_mapping(value: str | None) -> dict[str, str]:
    """The ``--map`` option: inline pairs when it has ``=``, else a mapping file's path."""
    if not value:
        return {}
    if "=" in value:
        return parse_mapping(value)
    path = Path(value)
    try:
        return parse_mapping(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise MappingSyntaxError(
            f"{value}: not field=COLUMN pairs, and no such mapping file",
            {"path": value, "reason": str(exc)},
        ) from exc


def resolve(kind: str, mapping: dict[str, str], columns: list[str]) -> dict[str, str | None]:
    """``{field: column or None}`` for ``kind`` in a file with ``columns``.

    A mapped field must name a column of the file (``missing_column``, listing them); a
    field that is not mapped takes the one column with a usual name, if exactly one; a
    required field found neither way is a ``missing_column`` saying how to map it.
    """
    fields = fields_of(kind)
    names = {f.name for f in fields}
    unknown = sorted(set(mapping) - names)
    if unknown:
        raise UnknownFieldError(
            f"{kind}: no field {', '.join(map(repr, unknown))}; fields are "
            + ", ".join(f.name for f in fields),
            {"fields": [f.name for f in fields], "unknown": unknown},
        )
    by_upper = {c.upper(): c for c in columns}
    out: dict[str, str | None] = {}
    for f in fields:
        if f.name in mapping:
            column = mapping[f.name]
            if column not in columns:
                column = by_upper.get(column.upper(), column)  # GIS tools change case freely
            if column not in columns:
                raise MissingColumnError(
                    f"column {mapping[f.name]!r} ({f.name}) is not in the file",
                    {"column": mapping[f.name], "option": f.name, "available": columns},
                )
            out[f.name] = column
            continue
        guesses = [by_upper[u] for u in f.usual if u in by_upper]
        out[f.name] = guesses[0] if len(guesses) == 1 else None
        if out[f.name] is None and f.required:
            raise MissingColumnError(
                f"{kind}: which column holds the {f.meaning}? map it with --map {f.name}=COLUMN",
                {"column": None, "option": f.name, "available": columns, "candidates": guesses},
            )
    # one column may not stand for two fields by guessing (NOM_HU as name and as aahh link)
    used = [c for c in out.values() if c is not None]
    for f in fields:
        guess = out[f.name]
        if f.name not in mapping and not f.required and guess is not None and used.count(guess) > 1:
            out[f.name] = None
    return out
