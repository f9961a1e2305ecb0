"""Cadastral layers (AA.HH./urbanizaciones, manzanas, lotes) imported from a municipality's
GIS files with a column mapping; see :mod:`geo.cadastre.build` and docs/geo.md."""

from geo.cadastre.build import KINDS, STORE_LAYER, CadastreSet, import_cadastre
from geo.cadastre.mapping import FIELDS, load_mapping, parse_mapping

__all__ = [
    "FIELDS",
    "KINDS",
    "STORE_LAYER",
    "CadastreSet",
    "import_cadastre",
    "load_mapping",
    "parse_mapping",
]
