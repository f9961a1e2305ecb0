"""Boundary import: formats, CRS, column mapping, broken input, the real Lima/Peru files."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.errors import (
    DuplicateCodeError,
    GeoError,
    InvalidGeometryError,
    MissingColumnError,
    UnknownCrsError,
    UnreadableFileError,
    UnsupportedFormatError,
)
from geo.importer import import_districts, import_sectors, import_stations, import_streets


def _squares(crs: object = 4326) -> gpd.GeoDataFrame:
    boxes = [shapely.box(-77.05 + 0.01 * i, -12.10, -77.04 + 0.01 * i, -12.09) for i in range(3)]
    return gpd.GeoDataFrame(
        {"UBI": ["150101", "150102", "150103"], "NOMB": ["A", "B", "C"], "POB": [10, 20, 30]},
        geometry=boxes,
        crs=crs,
    )


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_each_format_imports_with_mapping(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d{suffix}"
    _squares().to_file(path, engine="pyogrio")
    stages: list[str] = []
    got = import_districts(
        path,
        code_column="UBI",
        name_column="NOMB",
        population_column="POB",
        progress=lambda stage, done, total: stages.append(stage),
    )
    assert list(got.frame.columns) == ["code", "name", "population", "geometry"]
    assert got.codes.tolist() == ["150101", "150102", "150103"]
    assert got.frame["population"].tolist() == [10, 20, 30]
    assert got.frame.crs.to_epsg() == 4326
    assert {"read", "reproject", "validate", "done"} <= set(stages)
    assert got.repaired == [] and got.dropped == []


def test_projected_file_is_reprojected_to_4326(tmp_path: Path) -> None:
    path = tmp_path / "utm.gpkg"
    _squares().to_crs(32718).to_file(path, engine="pyogrio")
    got = import_districts(path, code_column="UBI", name_column="NOMB")
    assert "32718" in got.source_crs
    np.testing.assert_allclose(got.frame.total_bounds, _squares().total_bounds, atol=1e-6)


def test_file_without_crs_is_refused_unless_caller_gives_one(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="crs"):
        _squares(crs=None).to_file(path, engine="pyogrio")
    with pytest.raises(UnknownCrsError) as err:
        import_districts(path, code_column="UBI", name_column="NOMB")
    assert err.value.code == "unknown_crs" and "crs=" in err.value.message
    got = import_districts(path, code_column="UBI", name_column="NOMB", crs="EPSG:4326")
    assert len(got) == 3
    with pytest.raises(UnknownCrsError):
        import_districts(path, code_column="UBI", name_column="NOMB", crs="EPSG:999999")


def test_missing_column_names_it_and_lists_available(tmp_path: Path) -> None:
    path = tmp_path / "d.geojson"
    _squares().to_file(path, engine="pyogrio")
    with pytest.raises(MissingColumnError) as err:
        import_districts(path, code_column="IDDIST", name_column="NOMB")
    assert err.value.code == "missing_column"
    assert err.value.details["column"] == "IDDIST"
    assert set(err.value.details["available"]) == {"UBI", "NOMB", "POB"}
    assert err.value.as_dict()["details"]["option"] == "code_column"


def _broken(tmp_path: Path) -> Path:
    frame = _squares()
    bowtie = shapely.Polygon(
        [(-77.05, -12.10), (-77.04, -12.09), (-77.04, -12.10), (-77.05, -12.09)]
    )
    frame.loc[1, "geometry"] = bowtie
    frame.loc[2, "geometry"] = None
    path = tmp_path / "broken.geojson"
    frame.to_file(path, engine="pyogrio")
    return path


def test_invalid_geometry_is_repaired_and_reported(tmp_path: Path) -> None:
    got = import_districts(_broken(tmp_path), code_column="UBI", name_column="NOMB")
    assert [r["name"] for r in got.repaired] == ["B"]
    assert got.repaired[0]["row"] == 1 and "Self-intersection" in got.repaired[0]["reason"]
    assert got.dropped == [{"row": 2, "code": "150103", "name": "C", "reason": "missing_geometry"}]
    assert got.frame.geometry.is_valid.all()
    assert got.frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()


def test_invalid_geometry_refused_by_policy_names_the_row(tmp_path: Path) -> None:
    with pytest.raises(InvalidGeometryError) as err:
        import_districts(_broken(tmp_path), code_column="UBI", name_column="NOMB", invalid="refuse")
    assert err.value.code == "invalid_geometry"
    assert err.value.details["row"] == 1 and err.value.details["name"] == "B"


def test_wrong_geometry_type_and_duplicates_and_bad_paths(tmp_path: Path) -> None:
    frame = _squares()
    frame["UBI"] = ["150101", "150101", "150103"]
    dup = tmp_path / "dup.geojson"
    frame.to_file(dup, engine="pyogrio")
    with pytest.raises(DuplicateCodeError):
        import_districts(dup, code_column="UBI", name_column="NOMB")
    with pytest.raises(UnsupportedFormatError):
        import_districts(tmp_path / "x.csv")
    with pytest.raises(UnreadableFileError):
        import_districts(tmp_path / "absent.geojson")
    lines = tmp_path / "lines.geojson"
    gpd.GeoDataFrame(
        {"code": ["a"], "name": ["Av. X"]},
        geometry=[shapely.LineString([(0, 0), (1, 1)])],
        crs=4326,
    ).to_file(lines, engine="pyogrio")
    with pytest.raises(InvalidGeometryError):
        import_stations(lines, invalid="refuse")
    with pytest.raises(GeoError) as err:  # every row dropped: nothing to import
        import_stations(lines)
    assert err.value.code == "empty_layer"
    streets = import_streets(lines)
    assert streets.frame.geometry.iloc[0].geom_type == "LineString"


def test_sectors_keep_station_link(tmp_path: Path) -> None:
    frame = _squares().rename(columns={"UBI": "code", "NOMB": "name"})
    frame["station_code"] = ["st-1", "st-1", "st-2"]
    path = tmp_path / "sectors.gpkg"
    frame.to_file(path, engine="pyogrio")
    got = import_sectors(path)
    assert got.frame["station_code"].tolist() == ["st-1", "st-1", "st-2"]


def test_real_lima_file_imports_and_reports_null_geometries(shared_data_dir: Path) -> None:
    got = import_districts(shared_data_dir / "lima_callao_districts.geojson")
    assert len(got) == 47
    # As published, LA PUNTA and SANTA ANITA have no geometry at all: nothing to repair.
    assert {d["name"] for d in got.dropped} == {"LA PUNTA", "SANTA ANITA"}
    assert {d["code"] for d in got.dropped} == {"070105", "150137"}
    assert got.frame.geometry.is_valid.all()
    miraflores = got.frame[got.frame.code == "150122"].geometry.iloc[0]
    assert shapely.contains_xy(miraflores, -77.0300, -12.1210)


def test_real_peru_file_imports(shared_data_dir: Path) -> None:
    got = import_districts(shared_data_dir / "peru_distrital_simple.geojson")
    assert len(got) == 1826 and len(got.dropped) == 8
    assert all(d["reason"] == "missing_geometry" for d in got.dropped)
    with pytest.raises(InvalidGeometryError) as err:
        import_districts(shared_data_dir / "peru_distrital_simple.geojson", invalid="refuse")
    assert err.value.details["name"] == "AMANTANI"


def test_numeric_codes_are_zero_padded(tmp_path: Path) -> None:
    frame = _squares()
    frame["UBI"] = [70105, 150101, 150102]
    path = tmp_path / "numeric.shp"
    frame.to_file(path, engine="pyogrio")
    got = import_districts(path, code_column="UBI", name_column="NOMB")
    assert got.codes.tolist() == ["070105", "150101", "150102"]
