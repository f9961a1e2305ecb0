"""Errors raised by the hotspot statistics (cells, Gi*, emerging, density, PAI, dosage).

They subclass :class:`geo.errors.GeoError`, so the server maps them like any geo error.
"""

from __future__ import annotations

from geo.errors import GeoError, InvalidInputError

__all__ = ["BadParameterError", "InvalidInputError", "TooManyCellsError"]


class BadParameterError(GeoError):
    """A parameter is out of its allowed range (resolution, cell size, bandwidth, k...)."""

    code = "bad_parameter"


class TooManyCellsError(GeoError):
    """The requested grid would be larger than the configured cell limit."""

    code = "too_many_cells"
