"""Answers of the analysis API: hotspots, emerging, rates, PAI, dosage
(server/routes/analysis.py) and the tactical ones (server/routes/analysis_tactical.py)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from server.answers import Answer, Number

Cell = Annotated[str, Field(pattern="^[0-9a-f]{15}$", description="H3 index")]


class AnalysisWindow(Answer):
    stations: list[str] | None
    start: int
    end: int
    categories: list[str] | None
    resolution: int
    k: int


class HotspotCell(Answer):
    cell: Cell
    count: int
    z: Number
    p: Number
    p_fdr: Number
    gi_bin: int


class HotspotAnswer(Answer):
    version: str
    window: AnalysisWindow
    method: dict[str, Any]
    n_incidents: int
    n_cells: int
    classes: dict[str, int]
    cells: list[HotspotCell]


class EmergingCell(Answer):
    cell: Cell
    pattern: str
    trend_z: Number
    trend_p: Number


class EmergingAnswer(Answer):
    version: str
    window: AnalysisWindow
    slice_edges: list[int]
    method: dict[str, Any]
    patterns: dict[str, int]
    cells: list[EmergingCell]


class DistrictRate(Answer):
    district: str
    name: str
    count: int
    population: int
    rate_per_10k: Number | None
    lower: Number | None
    upper: Number | None


class RatesAnswer(Answer):
    window: AnalysisWindow
    per: int
    districts: list[DistrictRate]


class PaiTest(Answer):
    start: int
    end: int


class PaiAnswer(Answer):
    version: str
    train: AnalysisWindow
    test: PaiTest
    min_bin: int
    hot_cells: int
    area_hot_km2: Number
    area_total_km2: Number
    hit_rate: Number | None
    pai: Number | None
    rri: Number | None
    pei: Number | None
    n_test: int
    n_test_in_hotspots: int


class DosageRow(Answer):
    station: str
    shift: str
    minutes_by_class: dict[str, Number]


class DosageAnswer(Answer):
    version: str
    window: AnalysisWindow
    summary: list[DosageRow]


# --- tactical ---


class TacticalWindow(Answer):
    stations: list[str] | None
    start: int
    end: int
    categories: list[str] | None


class KnoxBands(Answer):
    distance_m: int
    distance_bands: int
    days: int
    time_bands: int


class KnoxCell(Answer):
    space: str
    time: str
    observed: int
    expected: Number
    knox_ratio: Number | None
    p: Number


class NearRepeatAnswer(Answer):
    window: TacticalWindow
    method: dict[str, str]
    bands: KnoxBands
    permutations: int
    seed: int
    n_incidents: int
    n_close_pairs: int
    space_bands: list[str]
    time_bands: list[str]
    cells: list[KnoxCell]


class RepeatPlace(Answer):
    lon: Number
    lat: Number
    count: int
    first: int
    last: int
    categories: dict[str, int]
    incidents: list[str]


class RepeatLocationsAnswer(Answer):
    window: TacticalWindow
    tolerance_m: int
    n_incidents: int
    n_places: int
    n_repeat_places: int
    n_incidents_at_repeat_places: int
    places: list[RepeatPlace]


class VictimIncident(Answer):
    id: str
    station: str
    category: str
    occurred: int


class RepeatVictim(Answer):
    dni: str
    name: str
    count: int
    incidents: list[VictimIncident]


class RepeatVictimsAnswer(Answer):
    window: TacticalWindow
    personal_data: bool
    n_victims_with_dni: int
    n_repeat_victims: int
    n_incidents_of_repeat_victims: int
    victims: list[RepeatVictim] | None


class ConcentrationTop(Answer):
    percent: Number
    units: int
    share: Number


class ConcentrationHolding(Answer):
    share: Number
    units: int
    percent: Number


class Concentration(Answer):
    units: int
    incidents: int
    top: list[ConcentrationTop]
    holding: list[ConcentrationHolding]


class ConcentrationAnswer(Answer):
    window: TacticalWindow
    tolerance_m: int
    resolution: int
    places: Concentration
    cells: Concentration
