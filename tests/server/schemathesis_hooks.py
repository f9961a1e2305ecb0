"""schemathesis hooks (SCHEMATHESIS_HOOKS): tus PATCH bodies are raw bytes like octet-stream."""

from __future__ import annotations

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
