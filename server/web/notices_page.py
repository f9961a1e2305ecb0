"""The notices page (``/notices``) for chiefs and analysts: post a notice (BOLO) to the phones,
see who acknowledged each one and who has not yet, withdraw one. Forms are CSRF-checked and
redirect after posting; writes go through ``sync.notices`` like the API, under the officer's
web device ``web-<officer id>`` (as the conflict review does). Spanish first; Lima time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.conflict_decide import web_identity
from server.context import ctx
from server.web.forms import FORM_MAX_BYTES, read_form
from server.web.guard import page_user
from server.web.notice_photo import PHOTO_MAX_BYTES, PhotoRefused, store_photo
from server.web.render import page_language, render
from server.web.sessions import SignedIn, check_csrf
from sync.clock import now_ms
from sync.errors import Forbidden, InvalidRequest, NotFound
from sync.notices import (
    POSTER_ROLES,
    Notice,
    acks_of,
    area_of,
    check_expiry,
    check_poster,
    end_notice,
    notices_for,
    post_notice,
)
from sync.protocol_notices import NoticeDraft, expiry_ms, utc_text

HOURS = (1, 4, 8, 12, 24, 48, 72, 168)
MESSAGES = ("posted", "withdrawn", "invalid", "forbidden", "not_found", "photo_refused")
TEXT: dict[str, dict[str, str]] = {
    "es": {
        "title": "Avisos a los teléfonos",
        "intro": "Un aviso (requisitoria, persona o vehículo buscado) llega a los teléfonos de"
        " la comisaría en segundos; cada efectivo lo marca como leído.",
        "new": "Nuevo aviso",
        "text": "Texto del aviso",
        "category": "Categoría (p. ej. robo, vehiculo_buscado)",
        "hours": "Vigente durante (horas)",
        "stations": "Comisarías (códigos separados por comas)",
        "district": "o distrito (UBIGEO)",
        "post": "Publicar aviso",
        "active": "Avisos vigentes",
        "none": "No hay avisos vigentes.",
        "until": "Vigente hasta",
        "posted_at": "Publicado",
        "acked": "Enterados",
        "missing": "Aún no enterados",
        "withdraw": "Retirar aviso",
        "posted": "Aviso publicado: los teléfonos lo recibirán en segundos.",
        "withdrawn": "Aviso retirado: sale de los teléfonos con su próxima sincronización.",
        "invalid": "El aviso no es válido: revise el texto, la categoría y el área.",
        "forbidden": "No puede publicar avisos para esas comisarías.",
        "not_found": "Ese aviso no existe o no es de su comisaría.",
        "area": "Área",
        "photo": "Foto (opcional; JPEG, PNG o WebP, hasta 12 MB)",
        "has_photo": "Con foto",
        "photo_refused": "La foto no se aceptó: envíe una imagen JPEG, PNG o WebP propia.",
    },
    "en": {
        "title": "Notices to the phones",
        "intro": "A notice (wanted person or vehicle) reaches the station's phones within"
        " seconds; each officer marks it as read.",
        "new": "New notice",
        "text": "Notice text",
        "category": "Category (e.g. robo, vehiculo_buscado)",
        "hours": "In force for (hours)",
        "stations": "Stations (codes, comma separated)",
        "district": "or district (UBIGEO)",
        "post": "Post notice",
        "active": "Notices in force",
        "none": "No notices in force.",
        "until": "In force until",
        "posted_at": "Posted",
        "acked": "Acknowledged",
        "missing": "Not yet acknowledged",
        "withdraw": "Withdraw notice",
        "posted": "Notice posted: the phones get it within seconds.",
        "withdrawn": "Notice withdrawn: it leaves the phones with their next sync.",
        "invalid": "The notice is not valid: check the text, category and area.",
        "forbidden": "You may not post notices for those stations.",
        "not_found": "No such notice in your stations.",
        "area": "Area",
        "photo": "Photo (optional; JPEG, PNG or WebP, up to 12 MB)",
        "has_photo": "With photo",
        "photo_refused": "The photo was not accepted: send a JPEG, PNG or WebP image of your own.",
    },
}


async def _poster(request: Request) -> SignedIn | Response:
    """The signed-in user when they may post notices; else the answer to give instead."""
    return await page_user(request, POSTER_ROLES, "/notices")


def _lima(text: str, offset_min: int) -> str:
    local = dt.datetime.fromtimestamp(expiry_ms(text.replace("Z", "+00:00")) / 1000, dt.UTC)
    return (local + dt.timedelta(minutes=offset_min)).strftime("%d/%m/%Y %H:%M")


async def _rows(request: Request, notices: list[Notice], who: Any) -> list[dict[str, Any]]:
    c = ctx(request)
    offset = c.settings.public.utc_offset_minutes
    rows = []
    for notice in notices:
        acks = await acks_of(c.engine, who, notice)
        acked = {a["officer_id"]: a for a in acks}
        staff = [
            o
            for s in notice.stations
            for o in await c.store.list_officers(s)
            if o.role in ("officer", "chief")
        ]
        names = {o.id: o.name for o in staff}
        rows.append(
            {
                "n": notice.as_json(),
                "until": _lima(notice.expires_at, offset),
                "posted": _lima(notice.posted_at, offset),
                "acked": [
                    {"name": names.get(i, i), "at": _lima(utc_of(a["at"]), offset)}
                    for i, a in acked.items()
                ],
                "missing": sorted(o.name for o in staff if o.id not in acked),
            }
        )
    return rows


def utc_of(text: str) -> str:
    """A phone's ISO time (any zone) as UTC text."""
    return utc_text(expiry_ms(text.replace("Z", "+00:00")))


async def notices_page(request: Request) -> Response:
    c = ctx(request)
    user = await _poster(request)
    if not isinstance(user, SignedIn):
        return user
    lang = page_language(request)
    found = await notices_for(c.engine, user.who, include_ended=False, limit=100)
    message = request.query_params.get("msg", "")
    values = {
        "r": TEXT[lang],
        "rows": await _rows(request, found, user.who),
        "hours": HOURS,
        "analyst": user.who.station_id is None,
        "message": message if message in MESSAGES else "",
    }
    answer = render(request, "notices.html", values, user=user)
    answer.headers["Cache-Control"] = "private, no-store"
    return answer


def _draft(form: Any, now: int, photo: dict[str, Any] | None = None) -> NoticeDraft:
    hours = str(form.get("hours", "24"))
    span = int(hours) if hours.isdigit() and int(hours) in HOURS else 24
    raw: dict[str, Any] = {
        "text": str(form.get("text", "")),
        "category": str(form.get("category", "")).strip(),
        "expires_at": utc_text(now + span * 3_600_000),
    }
    stations = [s.strip() for s in str(form.get("stations", "")).split(",") if s.strip()]
    district = str(form.get("district", "")).strip()
    if stations:
        raw["stations"] = stations
    if district:
        raw["district"] = district
    if photo is not None:
        raw["photo"] = photo
    return NoticeDraft.model_validate(raw)


async def post(request: Request) -> Response:
    user = await _poster(request)
    if not isinstance(user, SignedIn):
        return user
    form = await read_form(request, PHOTO_MAX_BYTES + FORM_MAX_BYTES, max_files=1)
    try:
        check_csrf(request, user, str(form.get("csrf", "")))
        message = await _post(request, user.who, form)
    finally:
        await form.close()  # the photo's spooled file
    return RedirectResponse(f"/notices?{urlencode({'msg': message})}", 303)


async def _post(request: Request, who: Any, form: Any) -> str:
    """Post the form's notice (and its photo); the page's message for the outcome."""
    c = ctx(request)
    now = now_ms()
    try:
        device = await web_identity(c.store, who)
        draft = _draft(form, now)  # checked before a photo is stored
        chosen = form.get("photo")
        if isinstance(chosen, UploadFile):
            # And who may post it where, before the photo is stored: a refused notice stored
            # its photo all the same (security review, 2026-12-05).
            check_poster(device)
            await area_of(c.engine, device, draft)
            check_expiry(draft.expires_at, now)
            draft = _draft(form, now, await store_photo(request, device, chosen, now))
        await post_notice(c.engine, device, draft, now)
        return "posted"
    except PhotoRefused:
        return "photo_refused"
    except (ValidationError, InvalidRequest):
        return "invalid"
    except Forbidden:
        return "forbidden"


async def withdraw(request: Request) -> Response:
    c = ctx(request)
    user = await _poster(request)
    if not isinstance(user, SignedIn):
        return user
    form = await read_form(request)
    check_csrf(request, user, str(form.get("csrf", "")))
    notice_id = request.path_params["notice_id"][:64]
    try:
        visible = {n.notice_id for n in await notices_for(c.engine, user.who, True, 500)}
        if notice_id not in visible:
            raise NotFound("no such notice")
        await end_notice(c.engine, notice_id, "withdrawn", now_ms(), user.who)
        message = "withdrawn"
    except NotFound:
        message = "not_found"
    except Forbidden:
        message = "forbidden"
    return RedirectResponse(f"/notices?{urlencode({'msg': message})}", 303)


routes = [
    Route("/notices", notices_page, methods=["GET"]),
    Route("/notices", post, methods=["POST"]),
    Route("/notices/{notice_id}/withdraw", withdraw, methods=["POST"]),
]
