"""What the geocoder answers: :class:`GeocodeResult`, its qualities and sources, and the
internal answer the matchers pass back to the facade (:mod:`geo.geocode`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

QUALITIES = ("exact", "interpolated", "block", "street", "district", "failed")
#: Where an answer came from (``components["source"]``).
SOURCES = (
    "address_point",
    "interpolation",
    "cuadra",
    "intersection",
    "landmark",
    "lote",
    "manzana",
    "aa_hh",
    "street",
    "district",
)


@dataclass
class GeocodeResult:
    """One geocoding answer (lon/lat None when failed)."""

    text: str
    lon: float | None
    lat: float | None
    quality: str
    confidence: float
    components: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "text": self.text,
            "lon": self.lon,
            "lat": self.lat,
            "quality": self.quality,
            "confidence": self.confidence,
            "components": self.components,
        }


@dataclass
class Answer:
    """A matcher's answer in metric x, y; the facade turns it into a GeocodeResult."""

    xy: tuple[float, float] | None
    quality: str
    confidence: float
    components: dict[str, Any]


FAILED = Answer(None, "failed", 0.0, {})
