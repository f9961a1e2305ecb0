"""Normalisation and parsing of Peruvian address text."""

from __future__ import annotations

import pytest

from geo.geocode.normalise import normalise, strip_fillers, tokens
from geo.geocode.parse import landmark_kind, parse, parse_all


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Av. Los Próceres N° 1234", "av los proceres nro 1234"),
        ("AVENIDA los proceres #1234", "av los proceres nro 1234"),
        ("Jirón Huallaga cdra. 5", "jr huallaga cdra 5"),
        ("Jr Huallaga Cda 5", "jr huallaga cdra 5"),
        ("Calle Tacna nro. 12", "ca tacna nro 12"),
        ("Cl. Tacna No 12", "ca tacna nro 12"),
        ("Psje. Las Rosas", "psje las rosas"),
        ("Pje Las Rosas", "psje las rosas"),
        ("Prolongación Huánuco 300", "prol huanuco 300"),
        ("AA.HH. Señor de los Milagros Mz.B Lt.12", "aahh senor de los milagros mz b lt 12"),
        ("A.H. Los Olivos manzana b lote 12", "aahh los olivos mz b lt 12"),
        ("Asentamiento Humano Keiko Sofía Mz. C Lote 3", "aahh keiko sofia mz c lt 3"),
        ("esq. Av. Brasil con Jr. Ucayali", "esq av brasil con jr ucayali"),
        ("Jr. Tacna 123 - Breña", "jr tacna 123 , brena"),
        ("I.E. José Olaya", "colegio jose olaya"),
        ("Parroquia San Pedro", "iglesia san pedro"),
        ("Av. Grau 5ta cuadra", "av grau 5 cdra"),
        ("quinta cuadra de Av. Grau", "5 cdra de av grau"),
        ("Av. Dos de Mayo 300", "av 2 de mayo 300"),
        ("Jr. Tacna 123 Dpto. 402", "jr tacna 123 unit 402"),
        ("Jr. Tacna s/n", "jr tacna sn"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_fillers_are_stripped_only_at_the_start() -> None:
    assert strip_fillers(tokens("a la altura de Av. Brasil 123")) == ["av", "brasil", "123"]
    assert strip_fillers(tokens("frente al Mercado Central")) == ["mercado", "central"]
    assert strip_fillers(tokens("Jr. 28 de Julio 456")) == ["jr", "28", "de", "julio", "456"]


def test_parse_number_and_names_with_numbers() -> None:
    p = parse(tokens("Av. Los Próceres 1234"))
    assert (p.kind, p.street_type, p.street, p.number) == ("number", "av", "los proceres", 1234)
    p = parse(tokens("Jr. 28 de Julio 456"))
    assert (p.kind, p.street, p.number) == ("number", "28 de julio", 456)
    p = parse(tokens("Av. 2 de Mayo"))
    assert (p.kind, p.street, p.number) == ("street", "2 de mayo", None)


def test_parse_block() -> None:
    p = parse(tokens("Jr. Huallaga cdra. 5"))
    assert (p.kind, p.street_type, p.street, p.block) == ("block", "jr", "huallaga", 5)
    assert parse(tokens("altura de la cuadra 7 de Av. Brasil")).kind in (
        "block",
        "street",
        "unknown",
    )


def test_parse_units_ordinals_and_no_number() -> None:
    p = parse(tokens("Jr. Tacna 123 Dpto. 402"))
    assert (p.kind, p.street, p.number) == ("number", "tacna", 123)
    p = parse(tokens("Jr. Tacna 123 int. 4"))
    assert (p.kind, p.street, p.number) == ("number", "tacna", 123)
    p = parse(tokens("Jr. Tacna s/n"))
    assert (p.kind, p.street, p.number) == ("street", "tacna", None)
    p = parse(tokens("a la altura de la quinta cuadra de la Av. Grau"))
    assert (p.kind, p.street_type, p.street, p.block) == ("block", "av", "grau", 5)
    p = parse(tokens("Av. Grau 3ra cuadra"))
    assert (p.kind, p.street, p.block) == ("block", "grau", 3)


@pytest.mark.parametrize(
    "text",
    [
        "Av. Brasil con Jr. Ucayali",
        "esquina Av. Brasil y Jr. Ucayali",
        "esq. Av Brasil con Jr Ucayali",
        "cruce de Av. Brasil con Ucayali",
        "Av. Brasil esquina con Jr. Ucayali",
        "Av. Brasil y Jr. Ucayali",
    ],
)
def test_parse_intersection(text: str) -> None:
    p = parse(tokens(text))
    assert (p.kind, p.street, p.street2) == ("intersection", "brasil", "ucayali")


def test_untyped_y_is_also_read_as_an_intersection() -> None:
    first, second = parse_all(tokens("calle Naranjal y Manuel Pardo"))
    assert (first.kind, first.street) == ("street", "naranjal y manuel pardo")
    assert (second.kind, second.street, second.street2) == (
        "intersection",
        "naranjal",
        "manuel pardo",
    )
    assert len(parse_all(tokens("Av. Brasil 123"))) == 1


def test_parse_mzlt_and_landmarks() -> None:
    p = parse(tokens("Mz. E Lt. 3 AA.HH. Pachacútec"))
    assert (p.kind, p.aahh, p.mz, p.lt) == ("mzlt", "pachacutec", "E", 3)
    p = parse(tokens("AA.HH. Los Olivos Mz. B Lt. 12"))
    assert (p.kind, p.aahh, p.mz, p.lt) == ("mzlt", "los olivos", "B", 12)
    p = parse(tokens("Villa Hermosa Mz.C Lt.4"))
    assert (p.kind, p.aahh, p.mz, p.lt) == ("mzlt", "villa hermosa", "C", 4)
    p = parse(tokens("frente al colegio José Olaya"))
    assert (p.kind, p.landmark_kind, p.landmark) == ("landmark", "colegio", "jose olaya")
    p = parse(tokens("cerca del Colerio Melitón Carbajal"))
    assert (p.kind, p.landmark_kind) == ("landmark", "colegio")
    assert landmark_kind("av") is None and landmark_kind("mercaddo") == "mercado"
    assert parse([]).kind == "unknown"
