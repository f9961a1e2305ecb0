"""``ronda import population FILE`` (issue 19, item 10): population by UBIGEO into the imported
districts, so that rates per population are computed; on SQLite and, when RONDA_TEST_PG_URL
is set, PostgreSQL.

The populations below are made-up test figures, not census data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geo.public import Rules
from server.maps.population import parse_code, parse_population, read_population
from server.maps.public_summary import districts_body
from sync.store.records import Boundary
from tests.cli_support import db_url_on_both_backends, ronda, said, with_store
from tests.server.test_cli_people import import_two_districts

db_url = db_url_on_both_backends()


def districts(url: str) -> list[Boundary]:
    return with_store(url, lambda s: s.boundaries("districts"))


@pytest.mark.parametrize(
    ("raw", "code"),
    [("150101", "150101"), ("70105", "070105"), ("70105.0", "070105"), (" 150132 ", "150132")],
)
def test_codes_are_ubigeos_padded_as_a_spreadsheet_loses_zeros(raw: str, code: str) -> None:
    assert parse_code(raw) == code


@pytest.mark.parametrize("raw", ["", "abc", "1501011", "15-01-01", "-150101"])
def test_codes_that_are_not_ubigeos_are_refused(raw: str) -> None:
    assert parse_code(raw) is None


@pytest.mark.parametrize(
    ("raw", "people"),
    [
        ("268000", 268000),
        ("268 000", 268000),
        ("268,000", 268000),
        ("268.000", 268000),
        ("1\u00a0038\u00a0495", 1038495),
        ("268000.0", 268000),
        ("0", 0),
    ],
)
def test_populations_read_with_thousands_separators(raw: str, people: int) -> None:
    assert parse_population(raw) == people


@pytest.mark.parametrize("raw", ["", "-5", "12,5", "2.68e5", "n.d.", "26 80"])
def test_populations_that_are_not_counts_are_refused(raw: str) -> None:
    assert parse_population(raw) is None


def test_a_latin1_semicolon_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "poblacion.csv"
    path.write_bytes("UBIGEO;DISTRITO;POBLACIÓN\n150101;Lima;12 345\n".encode("latin-1"))
    table = read_population(path, population_column="POBLACIÓN")
    assert table == {"150101": 12345}


def test_import_sets_population_and_rates_follow(db_url: str, tmp_path: Path) -> None:
    import_two_districts(db_url)
    rules = Rules(k=5)
    # 8 incidents in Lima, 6 in SJL: both at least k, so both counts are published.
    codes = np.array(["150101"] * 8 + ["150132"] * 6, dtype=object)
    cats = np.array(["robo"] * 14, dtype=object)
    before = districts_body(codes, cats, districts(db_url), rules, 10_000)
    assert [row["rate"] for row in before["districts"]] == [None, None]  # no population, no rate

    path = tmp_path / "pob.csv"
    path.write_text('ubigeo,nombre,pob_total\n150101,Lima,"40,000"\n150132,SJL,1000\n')
    answer = ronda(
        db_url,
        "import",
        "population",
        str(path),
        "-o",
        "code_column=ubigeo",
        "-o",
        "population_column=pob_total",
    )
    assert answer.exit_code == 0, answer.output
    assert "population: 2 districts updated" in said(answer)
    found = {b.code: b for b in districts(db_url)}
    assert {c: b.props["population"] for c, b in found.items()} == {
        "150101": 40000,
        "150132": 1000,
    }
    assert {c: b.name for c, b in found.items()} == {"150101": "Lima", "150132": "SJL"}
    after = districts_body(codes, cats, list(found.values()), rules, 10_000)
    rates = {row["district"]: row["rate"] for row in after["districts"]}
    assert rates == {"150101": 8 / 40000 * 10_000, "150132": 6 / 1000 * 10_000}


def test_a_file_naming_unknown_and_missing_districts_says_so(db_url: str, tmp_path: Path) -> None:
    import_two_districts(db_url)
    path = tmp_path / "pob.csv"
    path.write_text("UBIGEO,POBLACION\n150101,500\n999999,7\n")
    answer = ronda(db_url, "import", "population", str(path))
    assert answer.exit_code == 0, answer.output
    text = said(answer)
    assert "1 districts updated" in text
    assert "1 codes match no imported district: 999999" in text
    assert "1 districts not in the file keep their population: 150132" in text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("UBIGEO,POBLACION\n150101,500\n150101,600\n", "duplicated"),
        ("UBIGEO,POBLACION\n150101,500\nTOTAL,9999\n", "invalid_population"),
        ("UBIGEO,POBLACION\n150101,n.d.\n", "invalid_population"),
        ("CODIGO,POBLACION\n150101,500\n", "missing_column"),
    ],
)
def test_a_bad_file_changes_nothing(
    db_url: str, tmp_path: Path, content: str, expected: str
) -> None:
    import_two_districts(db_url)
    path = tmp_path / "pob.csv"
    path.write_text(content)
    answer = ronda(db_url, "import", "population", str(path))
    assert answer.exit_code != 0
    assert expected in said(answer)
    assert all(
        "population" not in b.props or b.props["population"] is None for b in districts(db_url)
    )


def test_population_before_districts_is_refused(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "pob.csv"
    path.write_text("UBIGEO,POBLACION\n150101,500\n")
    answer = ronda(db_url, "import", "population", str(path))
    assert answer.exit_code != 0
    assert "import the districts first" in said(answer)


def test_real_lima_and_callao_districts_take_a_population_file(
    shared_data_dir: Path, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ronda.db'}"
    boundaries = shared_data_dir / "lima_callao_districts.geojson"
    assert ronda(url, "import", "districts", str(boundaries)).exit_code == 0
    codes = sorted(b.code for b in districts(url))
    assert len(codes) >= 47 and "070101" in codes  # 49 rows; the importer may drop 2 invalid
    # Codes as a spreadsheet writes them (Callao's 0701xx without the zero); test figures.
    lines = [f"{int(code)},{1000 + i}" for i, code in enumerate(codes)]
    path = tmp_path / "pob.csv"
    path.write_text("UBIGEO,POBLACION\n" + "\n".join(lines) + "\n")
    answer = ronda(url, "import", "population", str(path))
    assert answer.exit_code == 0, answer.output
    assert f"{len(codes)} districts updated" in said(answer)
    found = {b.code: b.props["population"] for b in districts(url)}
    assert found == {code: 1000 + i for i, code in enumerate(codes)}
    assert found["070101"] == 1000 + codes.index("070101")
