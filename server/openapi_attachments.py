"""OpenAPI of attachments: tus uploads and downloads (docs/attachments.md is the prose)."""

from __future__ import annotations

from typing import Any

from server.openapi import ALWAYS, _error_response, _path

Schema = dict[str, Any]
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
TUS_HEADERS = {
    "Tus-Resumable": {"schema": {"type": "string", "const": "1.0.0"}},
    "Upload-Offset": {"schema": {"type": "integer", "minimum": 0}},
    "Upload-Expires": {"schema": {"type": "string"}},
}


def _header(name: str, description: str, required: bool = True) -> Schema:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "schema": {"type": "string"},
        "description": description,
    }


def _answers(ok: dict[str, Schema], errors: dict[int, list[str]]) -> dict[str, Schema]:
    out = dict(ok)
    merged = {status: list(codes) for status, codes in ALWAYS.items()}
    for status, codes in errors.items():  # 503 is both ALWAYS's timeout and the blob store's
        merged[status] = [*codes, *(c for c in merged.get(status, []) if c not in codes)]
    for status, codes in sorted(merged.items()):
        out[str(status)] = _error_response(codes)
    return out


def _op(summary: str, ok: dict[str, Schema], errors: dict[int, list[str]], **more: Any) -> Schema:
    return {
        "summary": summary,
        "tags": ["sync"],
        "security": BEARER,
        "responses": _answers(ok, {401: ["unauthorized"], **errors}),
        **more,
    }


def _empty(description: str) -> Schema:
    return {"description": description, "headers": TUS_HEADERS}


TUS = _header("Tus-Resumable", "`1.0.0`")
UPLOAD = [_path("upload_id"), TUS]
OFFSET_BODY = {
    "required": True,
    "content": {"application/offset+octet-stream": {"schema": {"type": "string"}}},
}
ATTACHMENT = [_path("collection"), _path("record_id"), _path("sha256")]
BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
LISTING: Schema = {
    "type": "object",
    "properties": {
        "collection": {"type": "string"},
        "id": {"type": "string"},
        "attachments": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["collection", "id", "attachments"],
}


def attachment_paths() -> dict[str, Schema]:
    patch_errors = {
        400: ["invalid_request", "checksum_unsupported"],
        404: ["not_found"],
        409: ["offset_mismatch"],
        410: ["upload_expired"],
        412: ["tus_version_unsupported"],
        415: ["unsupported_media_type", "attachment_type_refused"],
        422: ["attachment_hash_mismatch"],
        423: ["upload_locked"],
        460: ["checksum_mismatch"],
        503: ["blob_store_unavailable"],  # the S3 store, when the upload goes into it
    }
    create_errors = {
        **patch_errors,
        403: ["forbidden"],
        413: ["payload_too_large"],
        429: ["quota_exceeded"],
    }
    read_errors = {
        403: ["forbidden"],
        404: ["not_found", "attachment_missing"],
        503: ["blob_store_unavailable"],
    }
    return {
        "/v1/uploads": {
            "options": {
                "summary": "tus capabilities: Tus-Version, Tus-Extension, Tus-Max-Size",
                "tags": ["sync"],
                "security": [],
                "responses": _answers({"204": _empty("Capabilities in the headers")}, {}),
            },
            "post": _op(
                "Create a resumable upload (tus creation; Upload-Metadata: sha256, collection, "
                "record_id, filename); bytes may follow (creation-with-upload)",
                {"201": _empty("Created: Location; Upload-Offset if bytes came or were held")},
                create_errors,
                parameters=[
                    TUS,
                    _header("Upload-Length", "total bytes"),
                    _header("Upload-Metadata", "base64 key-value pairs"),
                ],
            ),
        },
        "/v1/uploads/{upload_id}": {
            "patch": _op(
                "Append bytes at Upload-Offset (Upload-Checksum: sha256 optional)",
                {"204": _empty("Written and fsynced: the new Upload-Offset")},
                patch_errors,
                parameters=[*UPLOAD, _header("Upload-Offset", "where the bytes go")],
                requestBody=OFFSET_BODY,
            ),
            "delete": _op(
                "Terminate an upload (tus termination)",
                {"204": _empty("Removed")},
                {404: ["not_found"], 412: ["tus_version_unsupported"]},
                parameters=UPLOAD,
            ),
        },
        "/v1/attachments/{collection}/{record_id}": {
            "get": _op(
                "A record's attachments, and whether each has arrived",
                {
                    "200": {
                        "description": "The list",
                        "content": {"application/json": {"schema": LISTING}},
                    }
                },
                {403: ["forbidden"], 404: ["not_found"]},
                parameters=ATTACHMENT[:2],
            ),
        },
        "/v1/attachments/{collection}/{record_id}/{sha256}": {
            "get": _op(
                "Download (Range, ETag = sha256): originals to roles allowed the record's "
                "personal data, metadata-free image copies to the others",
                {
                    "200": {"description": "The file", "content": BINARY},
                    "206": {"description": "A range of it", "content": BINARY},
                    "304": {"description": "Not modified (If-None-Match)"},
                },
                {**read_errors, 409: ["attachment_tampered"]},
                parameters=ATTACHMENT,
            ),
        },
        "/v1/attachments/{collection}/{record_id}/{sha256}/thumbnail": {
            "get": _op(
                "A JPEG thumbnail (320 px, no metadata) of an image attachment",
                {
                    "200": {
                        "description": "The thumbnail",
                        "content": {
                            "image/jpeg": {"schema": {"type": "string", "format": "binary"}}
                        },
                    }
                },
                {**read_errors, 409: ["attachment_tampered"]},
                parameters=ATTACHMENT,
            ),
        },
    }
