"""Errors raised by the geo package.

Every error carries a stable machine-readable ``code`` (snake_case), a human ``message`` and a
``details`` dict; the server maps them to ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from core.errors import RondaError


class GeoError(RondaError):
    """Base of every geo error (``message``, ``details``, ``as_dict`` come from
    ``core.errors.RondaError``)."""

    code: str = "geo_error"


class UnreadableFileError(GeoError):
    """The file does not exist or no driver can read it."""

    code = "unreadable_file"


class UnsupportedFormatError(GeoError):
    """The file extension is not one of GeoJSON, GeoPackage or Shapefile."""

    code = "unsupported_format"


class MissingColumnError(GeoError):
    """A mapped column is not in the file; ``details`` lists the available ones."""

    code = "missing_column"


class UnknownCrsError(GeoError):
    """The file declares no CRS (and the caller gave none), or the CRS is not recognised."""

    code = "unknown_crs"


class InvalidGeometryError(GeoError):
    """A row's geometry is invalid, empty or of the wrong type; ``details`` names the row."""

    code = "invalid_geometry"


class DuplicateCodeError(GeoError):
    """Two rows share the code that should identify them."""

    code = "duplicate_code"


class EmptyLayerError(GeoError):
    """Nothing usable was left after validation."""

    code = "empty_layer"


class InvalidInputError(GeoError):
    """Arguments to a geo function are inconsistent (e.g. arrays of different lengths)."""

    code = "invalid_input"


# Hotspot statistics (cells, Gi*, emerging, density, PAI, dosage); ``InvalidInputError`` above
# serves them too.


class BadParameterError(GeoError):
    """A parameter is out of its allowed range (resolution, cell size, bandwidth, k...)."""

    code = "bad_parameter"


class TooManyCellsError(GeoError):
    """The requested grid would be larger than the configured cell limit."""

    code = "too_many_cells"
