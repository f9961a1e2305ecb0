"""The app's attachment helpers (server/static/app/js/attachments.js, run by node 20) name a
file's type as the server does (sync/attachments/sniff.py is the reference), and write tus
Upload-Metadata and Lima capture times the server reads back."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from server.routes.tus import parse_metadata
from sync.attachments.sniff import sniff
from tests.app.node_run import run_node

HEADS = [
    b"\xff\xd8\xff\xe0\x00\x10JFIF",
    b"\x89PNG\r\n\x1a\n\x00\x00",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"RIFF\x00\x00\x00\x00WAVEfmt ",
    b"%PDF-1.7\n",
    b"OggS\x00\x02",
    b"\x00\x00\x00\x18ftypheic\x00\x00",
    b"\x00\x00\x00\x18ftypmif1\x00\x00",
    b"\x00\x00\x00\x20ftypM4A \x00\x00",
    b"\x00\x00\x00\x20ftypisom\x00\x00",
    b"GIF89a\x01\x00",
    b"<html>",
    b"\x1aE\xdf\xa3webm",
]


def test_the_app_names_types_as_the_server_does() -> None:
    heads = [base64.b64encode(h.ljust(64, b"\x00")).decode() for h in HEADS]
    got = run_node(
        "const { sniff } = await import('./attachments.js');"
        f"const heads = {json.dumps(heads)};"
        "console.log(JSON.stringify(heads.map((b) => sniff(Buffer.from(b, 'base64')))));"
    )
    assert got == [sniff(h.ljust(64, b"\x00")) for h in HEADS]
    assert got[-3:] == [None, None, None]


def test_metadata_and_capture_time_read_back() -> None:
    got = run_node(
        "const { metadata, limaStamp } = await import('./attachments.js');"
        "console.log(JSON.stringify([metadata({sha256: 'ab'.repeat(32), collection: 'incidents',"
        " record_id: 'r1', filename: 'foto señora Núñez.jpg'}),"
        " limaStamp(Date.UTC(2026, 11, 3, 2, 15, 9))]));"
    )
    assert isinstance(got, list)
    raw, stamp = got
    assert parse_metadata(raw) == {
        "sha256": "ab" * 32,
        "collection": "incidents",
        "record_id": "r1",
        "filename": "foto señora Núñez.jpg",
    }
    # 02:15:09 UTC on 3 December is 21:15:09 on the 2nd in Lima
    assert stamp == "2026-12-02T21:15:09-05:00"
    assert datetime.fromisoformat(stamp).utcoffset() is not None
