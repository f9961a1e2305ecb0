"""The officer's app on a Spanish screen (server/static/app/js, run by node 20): what the
officer types or clears is read as meant, and what the app tells the officer is Spanish."""

from __future__ import annotations

from tests.app.node_run import run_node


def test_an_emptied_date_is_no_date_and_a_lima_time_is_utc_plus_five() -> None:
    """Chrome's picker gives "" when cleared; it must not become 2000-01-01 on the wire."""
    got = run_node(
        "import { fromLimaInput } from './i18n.js';"
        "const values = ['', '2026-12-03T04:30', '2026-12-03', 'x'];"
        "console.log(JSON.stringify(values.map(fromLimaInput)));"
    )
    assert got == [None, "2026-12-03T09:30:00Z", None, None]


def test_the_outbox_checks_read_as_spanish_sentences() -> None:
    got = run_node(
        "globalThis.document = undefined;"
        "const { problemText } = await import('./ui/incidents.js');"
        "console.log(JSON.stringify(['occurred_at: required', 'pii.victims.0.dni: 8 digits',"
        " 'description: too long', 'pii.witnesses.1.age: 0-130'].map(problemText)));"
    )
    assert got == [
        "Fecha y hora: obligatorio",
        "Agraviado(a) 1 · El DNI tiene 8 dígitos",
        "Descripción: demasiado largo",
        "Testigo 2 · Edad: de 0 a 130",
    ]


def test_log_kinds_are_named_in_both_languages() -> None:
    got = run_node(
        "import { t, setLang } from './i18n.js';"
        "const kinds = ['shift_start', 'shift_end', 'checkpoint', 'note', 'stop'];"
        "const es = kinds.map((k) => t('log_' + k)); setLang('en');"
        "const en = kinds.map((k) => t('log_' + k));"
        "console.log(JSON.stringify({ es, en }));"
    )
    assert got == {
        "es": ["Inicio de turno", "Fin de turno", "Posición", "Nota", "Intervención"],
        "en": ["Shift start", "Shift end", "Position", "Note", "Stop"],
    }


def test_the_last_pin_attempt_warns_that_unsynced_data_goes_with_the_wipe() -> None:
    got = run_node(
        "import { t, setLang } from './i18n.js';"
        "const es = t('last_try'); setLang('en');"
        "console.log(JSON.stringify([es, t('last_try')]));"
    )
    assert isinstance(got, list)
    assert got[0].startswith("Último intento") and "sincronizó" in got[0]
    assert got[1].startswith("Last attempt") and "synced" in got[1]


def test_a_refused_change_is_explained_in_spanish() -> None:
    got = run_node(
        "import { errorText } from './i18n.js';"
        "const codes = ['invalid_field', 'out_of_scope', 'read_only'];"
        "console.log(JSON.stringify(codes.map(errorText)));"
    )
    assert got == ["un dato no es válido", "es de otra comisaría", "su rol solo puede leer"]
