"""OpenAPI description of the tracking API, which is served outside FastAPI for speed."""

from typing import Any

from c360.api.tracking import ENDPOINTS

_ERROR = {
    "description": "Refused: JSON with code and message",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        }
    },
}

_SUCCESS = {
    "description": "Every accepted message is durably stored; bad items are quarantined",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["success"],
                "properties": {"success": {"type": "boolean", "enum": [True]}},
            }
        }
    },
}

_MESSAGE = {
    "type": "object",
    "description": "A Segment message (identify, track, page, screen, group or alias).",
    "additionalProperties": True,
}
_ITEM = {
    "description": "A Segment message. An item that breaks a rule (even one that is not an "
    "object) is answered 200 with the rest and quarantined with a reason code."
}


def tracking_paths() -> dict[str, Any]:
    """Path items for ``/v1/*`` in the OpenAPI document."""
    paths: dict[str, Any] = {}
    for path, kind in ENDPOINTS.items():
        schema: dict[str, Any]
        if kind is None:
            schema = {
                "type": "object",
                "required": ["batch"],
                "properties": {
                    "batch": {"type": "array", "items": _ITEM},
                    "context": {"type": "object"},
                    "integrations": {"type": "object"},
                    "writeKey": {"type": "string"},
                    "sentAt": {
                        "description": "ISO-8601; an unreadable value quarantines the items"
                    },
                },
            }
            summary = "Send a batch of messages" if path.endswith("batch") else "Import messages"
        else:
            schema = _MESSAGE
            summary = f"Send one {kind} message"
        paths[path] = {
            "post": {
                "tags": ["tracking"],
                "summary": summary,
                "operationId": f"tracking_{path.rsplit('/', 1)[1]}",
                "security": [{"writeKeyBasic": []}, {"writeKeyHeader": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": schema}},
                },
                "responses": {
                    "200": _SUCCESS,
                    "400": _ERROR,
                    "401": _ERROR,
                    "413": _ERROR,
                    "415": _ERROR,
                    "429": _ERROR,
                    "503": _ERROR,
                },
            }
        }
    paths["/v1/webhooks/{source}"] = {
        "post": {
            "tags": ["tracking"],
            "summary": "Send records from a form tool or an automation",
            "description": "A JSON object, or an array of objects, each read through the "
            "source's newest mapping and logged as a record (see docs/sources.md). Items "
            "without a record id or that are not objects are quarantined.",
            "operationId": "webhook",
            "security": [{"writeKeyBasic": []}, {"writeKeyHeader": []}],
            "parameters": [
                {
                    "name": "source",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "The source the key writes to",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"type": "object"},
                                {"type": "array", "items": {"type": "object"}},
                            ]
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "Every item logged or quarantined, durably",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["success", "accepted", "quarantined"],
                                "properties": {
                                    "success": {"type": "boolean", "enum": [True]},
                                    "accepted": {"type": "integer"},
                                    "quarantined": {"type": "integer"},
                                },
                            }
                        }
                    },
                },
                "400": _ERROR,
                "401": _ERROR,
                "403": _ERROR,
                "409": _ERROR,
                "413": _ERROR,
                "429": _ERROR,
                "503": _ERROR,
            },
        }
    }
    return paths


SECURITY_SCHEMES = {
    "writeKeyBasic": {"type": "http", "scheme": "basic", "description": "write key as user name"},
    "writeKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Write-Key"},
    "bearer": {"type": "http", "scheme": "bearer", "description": "admin or read key"},
}
