"""The normaliser's faster paths give the same text as the plain ones they replace.

The reference here is written out in the test: the rules as one plain alternation (no
lookahead), NFKD with combining marks dropped one by one, and white space collapsed by a
regular expression.
"""

from __future__ import annotations

import random
import re
import unicodedata

from geo.geocode import normalise as gn


def _reference(text: str) -> str:
    t = unicodedata.normalize("NFKD", text.lower())
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = gn._NO_NUMBER.sub(" sn ", t)
    t = gn._SEPARATORS.sub(" , ", t)
    t = gn._WORD_NUMBER.sub(lambda m: str(gn._NUMBER_WORDS[m.group(1)]), t)
    t = gn._ORDINAL.sub(r"\1", t)
    t = gn._UNIT.sub(" unit ", t)
    t = t.replace("º", "°")
    plain = re.compile("|".join(f"(?P<r{i}>{p})" for i, (p, _) in enumerate(gn._RULES)))
    t = plain.sub(lambda m: gn._REPLACEMENTS[m.lastgroup or ""], t)
    t = gn._PUNCT.sub(" ", t)
    t = gn._GLUED.sub(" ", t)
    return re.sub(r"\s+", " ", t).strip(" ,")


PIECES = [
    *"abcdefghijklmnopqrstuvwxyz0123456789 .,;:-–—#°º/()'\t",
    *"áéíóúñüÁÉÍÓÚÑÜ",
    "Av.",
    "Jr.",
    "Ca.",
    "Psje.",
    "Prol.",
    "cdra.",
    "Mz.",
    "Lt.",
    "N°",
    "Nº",
    "nro",
    "s/n",
    "esq.",
    "A.A.H.H.",
    "a. h.",
    "Urb.",
    "P.J.",
    "Asoc. de Vivienda",
    " y ",
    " con ",
    "quinta",
    "5ta",
    "Dpto. 4",
    "I.E.",
    "cruce de",
    "ﬁ",  # compatibility ligature: NFKD makes it "fi"
    "²",
    "\u00a0",  # no-break space
    "\u2003",
    "e\u0301",  # a combining accent already decomposed
]


def test_rules_lookahead_covers_every_rule() -> None:
    assert gn._ONE_PASS.pattern.startswith("(?=[")  # the analysis succeeded for these rules
    for pattern, _ in gn._RULES:
        assert gn._first_chars(re._parser.parse(pattern))


def test_a_rule_the_analysis_cannot_read_drops_the_lookahead() -> None:
    rx = gn._one_pass([(r"\bav\b", " av "), (r".x", " x ")])
    assert not rx.pattern.startswith("(?=")
    assert rx.sub(lambda m: "|", "zx av") == "|" + " " + "|"


def test_normalise_equals_the_plain_reference_on_varied_text() -> None:
    rng = random.Random(17)
    texts = [
        "Av. Los Próceres N° 1234, San Juan de Lurigancho",
        "JR. HUALLAGA CDRA. 5 - BREÑA",
        "esquina Av. Túpac Amaru y Jr. 28 de Julio",
        "A.A.H.H. Los Olivos Mz. B1 Lt. 12",
        "frente al mercado Unión, Cercado",
        "Calle Ñandú #45 Dpto. 402 s/n",
    ]
    texts += ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30))) for _ in range(20_000)]
    for text in texts:
        assert gn.normalise(text) == _reference(text), text
