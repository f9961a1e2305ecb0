"""Cadastral importers (AA.HH./urbanizaciones, manzanas, lotes) and the geocoder's Mz./Lt.
forms on imported data (issue 17 item 2).

Files are written here with GDAL (through pyogrio) in GeoJSON, GeoPackage and Shapefile, in
EPSG:4326 and in UTM 18S. Every expected point is computed here from the polygons the test
drew: the vertices reprojected with pyproj, then ``shapely.point_on_surface`` (a point inside
the polygon) — never from the importer or the geocoder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geo.boundaries import haversine_m
from geo.cadastre import CadastreSet, import_cadastre, load_mapping, parse_mapping
from geo.errors import GeoError
from geo.geocode import Geocoder

UTM18S = 32718
E0, N0 = 278_000.0, 8_665_000.0  # Lima, in UTM zone 18S
TO_DEG = Transformer.from_crs(UTM18S, 4326, always_xy=True)


def deg(geom: Any) -> Any:
    """A UTM 18S geometry in degrees, reprojected here (not by the code under test)."""
    return shapely.transform(geom, lambda c: np.column_stack(TO_DEG.transform(c[:, 0], c[:, 1])))


def inside_point(geom_utm: Any) -> tuple[float, float]:
    """The expected answer for a lote or manzana: a point inside its polygon, in degrees."""
    p = shapely.point_on_surface(deg(geom_utm))
    return float(p.x), float(p.y)


# -- the small city drawn in UTM metres -----------------------------------------------------

DISTRICTS = [("150110", "Comas", 0.0), ("150103", "Ate", 2000.0)]
# name in the file, district, x offset of the settlement, its manzanas
SETTLEMENTS = [
    ("AH-01", "AA.HH. Los Olivos", "150110", 100.0, ("A", "B", "C")),
    ("AH-02", "Urb. San Felipe", "150110", 600.0, ("A", "C", "C1")),
    ("AH-03", "AA.HH. Los Olivos", "150103", 2100.0, ("A", "B", "D")),
]


def district_polys() -> list[Any]:
    return [shapely.box(E0 + dx, N0, E0 + dx + 2000, N0 + 2000) for _, _, dx in DISTRICTS]


def aahh_poly(x: float) -> Any:
    return shapely.box(E0 + x, N0 + 100, E0 + x + 400, N0 + 400)


def manzana_poly(x: float, j: int, mz: str) -> Any:
    x0, y0 = E0 + x + 20 + j * 120, N0 + 120
    block = shapely.box(x0, y0, x0 + 100, y0 + 60)
    if mz == "B":  # an L: the mean of its lotes is not where the manzana is answered
        block = shapely.union(block, shapely.box(x0, y0 + 60, x0 + 30, y0 + 160))
    return block


def lote_poly(x: float, j: int, lt: int) -> Any:
    """Lotes 1-10 along the manzana's lower half, 11-20 along its upper half (10 m x 30 m)."""
    x0, y0 = E0 + x + 20 + j * 120, N0 + 120
    row, k = divmod(lt - 1, 10)
    return shapely.box(x0 + 10 * k, y0 + 30 * row, x0 + 10 * (k + 1), y0 + 30 * (row + 1))


def districts_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [c for c, _, _ in DISTRICTS], "name": [n for _, n, _ in DISTRICTS]},
        geometry=[deg(p) for p in district_polys()],
        crs=4326,
    )


def aahh_file(crs: int = UTM18S) -> gpd.GeoDataFrame:
    rows = [
        {"COD_HU": code, "NOMBRE": name, "UBIGEO": dist, "geometry": aahh_poly(x)}
        for code, name, dist, x, _ in SETTLEMENTS
    ]
    return _in(gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM18S), crs)


def manzanas_file(crs: int = UTM18S) -> gpd.GeoDataFrame:
    rows = [
        {"MZ": f"Mz. {mz.lower()}", "COD_HU": code, "geometry": manzana_poly(x, j, mz)}
        for code, _, _, x, mzs in SETTLEMENTS
        for j, mz in enumerate(mzs)
    ]
    return _in(gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM18S), crs)


def lotes_rows(skip: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "MANZANA": mz,
            "NUM_LOTE": lt,
            "HAB_URB": code,
            "geometry": lote_poly(x, j, lt),
        }
        for code, _, _, x, mzs in SETTLEMENTS
        for j, mz in enumerate(mzs)
        if skip != (code, mz)
        for lt in range(1, 21)
    ]


def lotes_file(crs: int = UTM18S, rows: list[dict[str, Any]] | None = None) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(rows or lotes_rows(), geometry="geometry", crs=UTM18S)
    return _in(frame, crs)


def _in(frame: gpd.GeoDataFrame, crs: int) -> gpd.GeoDataFrame:
    if crs == UTM18S:
        return frame
    out = frame.copy()
    out["geometry"] = [deg(g) for g in frame.geometry]
    return out.set_crs(4326, allow_override=True)


def write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_file(path, engine="pyogrio")  # GDAL writes it (driver from the suffix)
    return path


AAHH_MAP = {"name": "NOMBRE", "code": "COD_HU", "district": "UBIGEO"}
LOTES_MAP = {"lt": "NUM_LOTE", "mz": "MANZANA", "aahh": "HAB_URB"}


def whole_city(tmp_path: Path, suffix: str = ".gpkg", crs: int = UTM18S) -> dict[str, Any]:
    """The three layers imported in order, as the command does it."""
    districts = districts_frame()
    aahh = import_cadastre(
        write(aahh_file(crs), tmp_path / f"aahh{suffix}"), "aahh", AAHH_MAP, districts=districts
    )
    manz = import_cadastre(
        write(manzanas_file(crs), tmp_path / f"mz{suffix}"),
        "manzanas",
        {"aahh": "COD_HU"},
        districts=districts,
        aa_hh=aahh.frame,
    )
    lotes = import_cadastre(
        write(lotes_file(crs), tmp_path / f"lotes{suffix}"),
        "lotes",
        LOTES_MAP,
        districts=districts,
        aa_hh=aahh.frame,
        manzanas=manz.frame,
    )
    return {"districts": districts, "aa_hh": aahh, "manzanas": manz, "lotes": lotes}


def lote_at(lotes: CadastreSet, code: str) -> tuple[float, float]:
    row = lotes.frame.set_index("code").loc[code]
    return float(row.geometry.x), float(row.geometry.y)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(haversine_m(a[0], a[1], b[0], b[1]))


# -- formats and reprojection ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "crs"),
    [(".geojson", 4326), (".gpkg", UTM18S), (".shp", UTM18S), (".gpkg", 4326)],
)
def test_each_format_gives_each_lote_a_point_inside_its_polygon(
    tmp_path: Path, suffix: str, crs: int
) -> None:
    city = whole_city(tmp_path, suffix, crs)
    aahh, manz, lotes = city["aa_hh"], city["manzanas"], city["lotes"]
    assert sorted(aahh.frame["code"]) == ["AH-01", "AH-02", "AH-03"]
    names = dict(zip(aahh.frame["code"], aahh.frame["name"], strict=True))
    types = dict(zip(aahh.frame["code"], aahh.frame["type"], strict=True))
    assert names["AH-01"] == "Los Olivos" and types["AH-01"] == "AA.HH."
    assert names["AH-02"] == "San Felipe" and types["AH-02"] == "Urb."
    assert dict(zip(aahh.frame["code"], aahh.frame["district_code"], strict=True)) == {
        "AH-01": "150110",
        "AH-02": "150110",
        "AH-03": "150103",
    }
    want = [f"{code}-{mz}" for code, _, _, _, mzs in SETTLEMENTS for mz in mzs]
    assert sorted(manz.frame["code"]) == sorted(want) and len(want) == 9
    assert len(lotes.frame) == 9 * 20 and lotes.dropped == []
    for code, _, _, x, mzs in SETTLEMENTS:
        for j, mz in enumerate(mzs):
            for lt in (1, 12, 20):
                inside = inside_point(lote_poly(x, j, lt))
                got = lote_at(lotes, f"{code}-{mz}-{lt}")
                assert metres(got, inside) < 0.05
                assert shapely.contains_xy(deg(lote_poly(x, j, lt)), *got)
    assert lotes.frame.crs.to_epsg() == 4326
    assert ("32718" in lotes.source_crs) == (crs == UTM18S)


def test_a_shapefile_without_prj_needs_its_crs(tmp_path: Path) -> None:
    path = write(aahh_file(), tmp_path / "aahh.shp")
    path.with_suffix(".prj").unlink()  # a cadastre handed over without its .prj
    with pytest.raises(GeoError) as err:
        import_cadastre(path, "aahh", AAHH_MAP)
    assert err.value.code == "unknown_crs"
    got = import_cadastre(path, "aahh", AAHH_MAP, crs="EPSG:32718", districts=districts_frame())
    poly = got.frame.set_index("code").loc["AH-01"].geometry
    want = deg(aahh_poly(100.0))
    assert shapely.equals_exact(shapely.normalize(poly), shapely.normalize(want), 1e-7)


def test_a_wrong_crs_is_refused_not_imported(tmp_path: Path) -> None:
    # UTM metres declared as degrees: nowhere on Earth
    wrong = aahh_file().set_crs(4326, allow_override=True)
    path = write(wrong, tmp_path / "aahh.geojson")
    with pytest.raises(GeoError) as err:
        import_cadastre(path, "aahh", AAHH_MAP)
    assert err.value.code == "bad_coordinates" and "EPSG:32718" in err.value.message
    # 18S coordinates labelled 17S: six degrees west, in the sea, away from every district
    shifted = aahh_file().set_crs(32717, allow_override=True)
    path = write(shifted, tmp_path / "aahh17.gpkg")
    with pytest.raises(GeoError) as err:
        import_cadastre(path, "aahh", AAHH_MAP, districts=districts_frame())
    assert err.value.code == "bad_coordinates"
    assert "outside the city" in err.value.message


# -- column mapping -------------------------------------------------------------------------


def test_mapping_text_and_file(tmp_path: Path) -> None:
    assert parse_mapping("name=NOMBRE, code = COD_HU") == {"name": "NOMBRE", "code": "COD_HU"}
    file = tmp_path / "columnas.txt"
    file.write_text("# catastro de Comas\nlt: NUM_LOTE\nmz = MANZANA  # letra\n\naahh=HAB_URB\n")
    assert load_mapping(str(file)) == LOTES_MAP
    for bad in ("name", "=NOMBRE", "name=A,name=B"):
        with pytest.raises(GeoError) as err:
            parse_mapping(bad)
        assert err.value.code == "bad_mapping"
    with pytest.raises(GeoError) as err:
        load_mapping(str(tmp_path / "missing.txt"))
    assert err.value.code == "bad_mapping"


def test_column_mapping_errors_say_what_to_do(tmp_path: Path) -> None:
    path = write(aahh_file(), tmp_path / "aahh.gpkg")
    with pytest.raises(GeoError) as err:
        import_cadastre(path, "aahh", {"nombre": "NOMBRE"})
    assert err.value.code == "unknown_field"
    assert err.value.details["fields"] == ["name", "code", "type", "district"]
    with pytest.raises(GeoError) as err:
        import_cadastre(path, "aahh", {"name": "NOM_AAHH"})
    assert err.value.code == "missing_column"
    assert err.value.details["option"] == "name"
    assert set(err.value.details["available"]) == {"COD_HU", "NOMBRE", "UBIGEO"}
    with pytest.raises(GeoError) as err:
        import_cadastre(path, "nope", {})
    assert err.value.code == "unknown_kind"
    # a lotes file whose lote column has an unusual name, and no mapping for it
    odd = lotes_file().rename(columns={"NUM_LOTE": "PREDIO"})
    lotes = write(odd, tmp_path / "lotes.gpkg")
    aahh = import_cadastre(path, "aahh", AAHH_MAP).frame
    with pytest.raises(GeoError) as err:
        import_cadastre(lotes, "lotes", {"mz": "MANZANA", "aahh": "HAB_URB"}, aa_hh=aahh)
    assert err.value.code == "missing_column" and "--map lt=COLUMN" in err.value.message
    # columns are matched without regard to case; usual names are found without a mapping
    got = import_cadastre(lotes, "lotes", {"lt": "predio", "mz": "manzana"}, aa_hh=aahh)
    assert got.columns == {"lt": "PREDIO", "mz": "MANZANA", "aahh": "HAB_URB", "district": None}
    guessed = import_cadastre(path, "aahh", {})
    want = {"name": "NOMBRE", "code": "COD_HU", "type": None, "district": "UBIGEO"}
    assert guessed.columns == want


def test_lotes_need_their_aahh_first(tmp_path: Path) -> None:
    path = write(lotes_file(), tmp_path / "lotes.gpkg")
    with pytest.raises(GeoError) as err:
        import_cadastre(path, "lotes", LOTES_MAP)
    assert err.value.code == "missing_layer"


# -- values and geometries ------------------------------------------------------------------


def test_bad_rows_are_repaired_or_dropped_and_listed(tmp_path: Path) -> None:
    aahh = import_cadastre(write(aahh_file(), tmp_path / "a.gpkg"), "aahh", AAHH_MAP).frame
    rows = lotes_rows()[:5]
    x0, y0 = E0 + 120, N0 + 120
    bowtie = shapely.Polygon([(x0, y0), (x0 + 10, y0 + 30), (x0 + 10, y0), (x0, y0 + 30)])
    rows[0] = {**rows[0], "geometry": bowtie}  # invalid: repaired
    rows[1] = {**rows[1], "NUM_LOTE": "12A"}  # not a whole number: dropped
    rows[2] = {**rows[2], "HAB_URB": "AH-99"}  # no such AA.HH.: dropped
    rows[3] = {**rows[3], "geometry": None}  # no geometry: dropped
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=UTM18S)
    frame["NUM_LOTE"] = frame["NUM_LOTE"].astype(str)
    path = write(frame, tmp_path / "lotes.gpkg")
    got = import_cadastre(path, "lotes", LOTES_MAP, aa_hh=aahh)
    assert [r["row"] for r in got.repaired] == [0]
    assert [(r["row"], r["reason"]) for r in got.dropped] == [
        (1, "lot_number_not_whole"),
        (2, "unknown_aahh"),
        (3, "missing_geometry"),
    ]
    assert sorted(got.frame["code"]) == ["AH-01-A-1", "AH-01-A-5"]
    assert shapely.contains_xy(deg(bowtie).buffer(1e-9), *lote_at(got, "AH-01-A-1"))
    with pytest.raises(GeoError) as err:
        import_cadastre(path, "lotes", LOTES_MAP, aa_hh=aahh, invalid="refuse")
    assert err.value.code == "invalid_geometry" and err.value.details["row"] == 0


def test_two_settlements_of_one_name_in_a_district_need_codes(tmp_path: Path) -> None:
    frame = aahh_file()
    frame.loc[2, "UBIGEO"] = "150110"  # both Los Olivos in Comas
    path = write(frame.drop(columns="COD_HU"), tmp_path / "aahh.gpkg")
    with pytest.raises(GeoError) as err:
        import_cadastre(path, "aahh", {"name": "NOMBRE", "district": "UBIGEO"})
    assert err.value.code == "duplicate_code" and "--map code=COLUMN" in err.value.message


def test_lotes_find_their_manzana_and_aahh_by_where_they_lie(tmp_path: Path) -> None:
    city = whole_city(tmp_path)
    bare = lotes_file().drop(columns=["MANZANA", "HAB_URB"])  # only the lote number
    path = write(bare, tmp_path / "bare.gpkg")
    got = import_cadastre(
        path,
        "lotes",
        {"lt": "NUM_LOTE"},
        districts=city["districts"],
        aa_hh=city["aa_hh"].frame,
        manzanas=city["manzanas"].frame,
    )
    assert got.dropped == []
    assert set(got.frame["code"]) == set(city["lotes"].frame["code"])
    assert set(got.frame["district_code"]) == {"150110", "150103"}
    # the AA.HH. named, not coded: "Los Olivos" is in two districts; the lote's place decides
    named = lotes_file()
    named["HAB_URB"] = named["HAB_URB"].map(
        {"AH-01": "AA.HH. Los Olivos", "AH-02": "San Felipe", "AH-03": "Los Olivos"}
    )
    got = import_cadastre(
        write(named, tmp_path / "named.gpkg"),
        "lotes",
        LOTES_MAP,
        districts=city["districts"],
        aa_hh=city["aa_hh"].frame,
    )
    assert got.dropped == [] and set(got.frame["code"]) == set(city["lotes"].frame["code"])


# -- the geocoder on imported cadastre ------------------------------------------------------


def no_streets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        pd.DataFrame({"code": [], "name": [], "district_code": []}),
        geometry=gpd.GeoSeries([], crs=4326),
        crs=4326,
    )


@pytest.fixture(scope="module")
def geocoder(tmp_path_factory: pytest.TempPathFactory) -> Geocoder:
    city = whole_city(tmp_path_factory.mktemp("cadastre"))
    return Geocoder.from_layers(
        no_streets(),
        city["districts"],
        aa_hh=city["aa_hh"].frame,
        lotes=city["lotes"].frame,
        manzanas=city["manzanas"].frame,
    )


@pytest.mark.parametrize(
    ("text", "code", "j", "lt"),
    [
        ("Mz. B Lt. 12 AA.HH. Los Olivos, Comas", "AH-01", 1, 12),
        ("Mz B Lote 12 AA.HH. Los Olivos, Comas", "AH-01", 1, 12),
        ("AA.HH. Los Olivos Mz. B Lt. 12 - Ate", "AH-03", 1, 12),
        ("Urb. San Felipe Mz. C Lt. 3", "AH-02", 1, 3),
        ("urbanizacion san felipe manzana c lote 3", "AH-02", 1, 3),
        ("Urb. San Felipe Mz. C1 Lt. 3", "AH-02", 2, 3),
        ("Urb. San Felipe Mz. C-1 Lt. 3", "AH-02", 2, 3),
    ],
)
def test_mz_lt_forms_answer_the_lote(
    geocoder: Geocoder, text: str, code: str, j: int, lt: int
) -> None:
    x = next(s[3] for s in SETTLEMENTS if s[0] == code)
    got = geocoder.geocode(text)
    assert got.components["source"] == "lote" and got.components["aa_hh_code"] == code
    assert got.quality == "exact" and got.confidence >= 0.9
    assert got.lon is not None and got.lat is not None
    assert metres((got.lon, got.lat), inside_point(lote_poly(x, j, lt))) < 0.5


def test_an_ambiguous_aahh_is_not_confident(geocoder: Geocoder) -> None:
    # two AA.HH. Los Olivos (Comas and Ate) and nothing to tell which
    got = geocoder.geocode("Mz B Lote 12 AA.HH. Los Olivos")
    assert got.components["source"] == "lote" and got.confidence < 0.5
    # the reporting context settles it
    got = geocoder.geocode("Mz B Lote 12 AA.HH. Los Olivos", district="150103")
    assert got.components["aa_hh_code"] == "AH-03" and got.confidence >= 0.9
    # only Ate's Los Olivos has a Mz. D: that one is answered, still not confidently
    got = geocoder.geocode("Mz D Lote 4 AA.HH. Los Olivos")
    assert got.components["aa_hh_code"] == "AH-03" and got.components["source"] == "lote"
    assert got.confidence < 0.5
    assert got.lon is not None and got.lat is not None
    assert metres((got.lon, got.lat), inside_point(lote_poly(2100.0, 2, 4))) < 0.5


def test_a_manzana_only_answer_says_so(geocoder: Geocoder) -> None:
    want = inside_point(manzana_poly(100.0, 1, "B"))  # the L-shaped manzana
    for text in ("Mz. B AA.HH. Los Olivos, Comas", "Mz. B Lt. 99 AA.HH. Los Olivos, Comas"):
        got = geocoder.geocode(text)
        assert got.components["source"] == "manzana" and got.quality == "block"
        assert 0 < got.confidence <= 0.5
        assert got.lon is not None and got.lat is not None
        assert metres((got.lon, got.lat), want) < 0.5
    settlement = geocoder.geocode("Mz. K Lt. 1 Urb. San Felipe")  # no manzana K
    assert settlement.components["source"] == "aa_hh" and settlement.confidence <= 0.3


def test_mz_lt_without_a_settlement_name(geocoder: Geocoder) -> None:
    # Comas has one Mz. B (in Los Olivos; San Felipe has A and C): shown, not trusted
    got = geocoder.geocode("Mz. B Lt. 12", district="150110")
    assert got.components["source"] == "lote" and got.components["aa_hh_code"] == "AH-01"
    assert got.confidence < 0.5
    assert got.lon is not None and got.lat is not None
    assert metres((got.lon, got.lat), inside_point(lote_poly(100.0, 1, 12))) < 0.5
    # the whole city has two: no answer rather than a guess
    assert geocoder.geocode("Mz. B Lt. 12").quality == "failed"
    assert geocoder.geocode("Mz. A Lt. 3", district="150110").quality == "failed"
