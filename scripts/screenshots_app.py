"""Phone screenshots of the officer's app (docs/img/app-*.png): enrollment, a patrol under way,
a new incident, the outbox while offline and the briefing map. Called by scripts/screenshots.py
with a running demo server and an enrollment code; the same Chromium as the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PIN = "246810"
PHONE = {"width": 390, "height": 844}
LIMA = {"latitude": -12.0580, "longitude": -77.0350, "accuracy": 7}


def _tid(name: str) -> str:
    return f'[data-testid="{name}"]'


def _settle(page: Any) -> None:
    page.wait_for_function(
        "() => !window.rondaApp.syncer.running && !!window.rondaApp.vault.get('last_sync')",
        timeout=300_000,
    )


def _incident(page: Any, category: str, text: str, victim: str | None = None) -> None:
    page.click(_tid("nav-incidents"))
    page.click(_tid("incident-new"))
    page.select_option(_tid("inc-category"), category)
    page.fill(_tid("inc-description"), text)
    page.fill(_tid("inc-address"), "Jr. Huánuco 1250, Cercado de Lima")
    page.click(_tid("inc-gps"))
    page.wait_for_function(
        "() => /\\d/.test(document.querySelector('[data-testid=\"inc-location\"]').textContent)"
    )
    if victim:
        page.click(_tid("person-add-victims"))
        page.fill(f"{_tid('person-victims')} {_tid('person-name')}", victim)
        page.fill(f"{_tid('person-victims')} {_tid('person-age')}", "34")


def shoot_app(browser: Any, base: str, code: str, out: Path) -> list[Path]:
    """Enroll with ``code`` and photograph five screens; returns the files written."""
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        locale="es-PE",
        timezone_id="America/Lima",
        geolocation=LIMA,
        permissions=["geolocation"],
    )
    page = context.new_page()
    written: list[Path] = []

    def snap(name: str) -> None:
        page.evaluate("document.querySelector('[data-testid=\"toast\"]').hidden = true")
        page.evaluate("window.scrollTo(0, 0)")
        path = out / f"app-{name}.png"
        page.screenshot(path=str(path))
        written.append(path)

    page.goto(f"{base}/app")
    page.wait_for_selector("body[data-ready='1']")
    page.fill(_tid("enroll-code"), code)
    page.fill(_tid("enroll-device-name"), "Moto G — patrullero 12")
    page.fill(_tid("enroll-pin"), PIN)
    page.fill(_tid("enroll-pin-repeat"), PIN)
    snap("enroll")
    page.click(_tid("enroll-submit"))
    page.wait_for_selector(_tid("screen-shift"))
    _settle(page)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    # a patrol under way: the shift, positions along the avenue, a note
    page.fill(_tid("shift-vehicle"), "PL-1234")
    page.fill(_tid("shift-partner"), "S3 Quispe")
    page.click(_tid("shift-start"))
    page.wait_for_selector(_tid("shift-end"))
    page.evaluate(
        """async ([lon, lat]) => {
            const start = Date.now();
            for (let i = 1; i <= 24; i++) {
                await window.rondaApp.patrol.take({lon: lon + i * 0.0011, lat: lat + i * 0.0004,
                                                   accuracy: 6, time: start + i * 60000});
            }
        }""",
        [LIMA["longitude"], LIMA["latitude"]],
    )
    page.fill(_tid("note-text"), "Reunión con la junta vecinal del parque Universitario")
    page.click(_tid("note-add"))
    page.wait_for_selector(_tid("log-item"))
    snap("patrol")

    _incident(
        page,
        "robo",
        "Arrebato de celular a transeúnte; dos sujetos en motocicleta",
        victim="María Quispe",
    )
    snap("incident")
    page.click(_tid("inc-save"))
    page.wait_for_selector(_tid("screen-incidents"))

    # offline: what is waiting to be sent
    context.set_offline(True)
    _incident(page, "hurto", "Hurto de autopartes, Jr. Ica cuadra 4")
    page.click(_tid("inc-save"))
    page.wait_for_selector(_tid("screen-incidents"))
    page.click(_tid("nav-shift"))
    page.fill(_tid("note-text"), "Visita a bodega, sin novedad")
    page.click(_tid("note-add"))
    page.click(_tid("nav-sync"))
    page.wait_for_selector(_tid("screen-sync"))
    snap("outbox")

    context.set_offline(False)
    _settle(page)
    page.click(_tid("nav-briefing"))
    page.wait_for_selector(_tid("briefing-map") + "[data-ready='1']", timeout=120_000)
    snap("briefing")
    context.close()
    return written
