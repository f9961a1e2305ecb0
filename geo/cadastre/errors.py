"""Errors of the cadastral importers (each a :class:`~geo.errors.GeoError` with a stable code)."""

from __future__ import annotations

from geo.errors import GeoError


class MappingSyntaxError(GeoError):
    """The column mapping is not ``field=COLUMN`` pairs (or its file cannot be read)."""

    code = "bad_mapping"


class UnknownFieldError(GeoError):
    """The mapping names a field this kind of layer does not have; ``details`` lists them."""

    code = "unknown_field"


class UnknownKindError(GeoError):
    """The layer kind is not one of aahh, manzanas, lotes."""

    code = "unknown_kind"


class CoordinatesError(GeoError):
    """After reprojection the features are not where the file says (wrong CRS, or outside
    every district of the city); ``details`` gives the bounds found."""

    code = "bad_coordinates"


class MissingLayerError(GeoError):
    """A layer this import links to is not imported yet (lotes need their AA.HH.)."""

    code = "missing_layer"


class InvalidValueError(GeoError):
    """Under ``invalid="refuse"``: a row without a usable value (no name, a lote number that
    is not a whole number, no AA.HH. to belong to); ``details`` names the row."""

    code = "invalid_value"
