"""The OpenAPI document (``/openapi.json``): FastAPI's, completed where the routes leave it vague.

Request models keep every field optional on purpose, so that a missing field gets the dialect's
own message rather than FastAPI's; the document still says what a client must send. This module
post-processes FastAPI's schema once per app, adding:

- each dialect's security scheme to its operations (download links and ``/healthz`` need none);
- required fields and documented values of request bodies and parameters;
- each operation's success body and error responses in its dialect's envelope, with the envelope's
  code pinned to the HTTP status. FastAPI's ``422 HTTPValidationError`` goes: no route answers it.

Nothing here changes how requests are validated.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from yinzi.api import files, open_v1, text_to_music, vocal_removal
from yinzi.api._openapi_schemas import (
    BODIES,
    ERROR_CODE_FIELD,
    ERRORS,
    MODEL_FIELDS,
    MODEL_REQUIRED,
    MODEL_RULES,
    SECURITY_SCHEMES,
    SUCCESS,
    Schema,
    ref,
)
from yinzi.services.orders import ORDER_KINDS, OrderStatus

ANNOTATIONS = ("title", "description", "default")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Dialect:
    prefix: str
    security: tuple[str, ...]  # alternatives: any one of these schemes authenticates
    error: str  # the component schema of its error envelope
    statuses: tuple[int, ...]  # the error statuses its operations answer unless listed below


DIALECTS = (
    Dialect(open_v1.PREFIX, ("bearerAuth", "apiKeyQuery"), "OpenApiError", open_v1.CODES),
    Dialect(vocal_removal.PREFIX, ("bearerAuth",), "VocalRemovalError", vocal_removal.CODES),
    Dialect(vocal_removal.CHAT_PREFIX, ("bearerAuth",), "VocalRemovalError", vocal_removal.CODES),
    Dialect(text_to_music.PREFIX, ("keyHeader",), "TextToMusicError", (400, 401, 402, 404, 500)),
    Dialect(files.PREFIX, (), "FileError", (400, 403, 404, 416, 500)),
)


@dataclass(frozen=True)
class Operation:
    success: str  # the component schema of its success body
    status: str = "200"
    errors: tuple[int, ...] | None = None  # None: all of its dialect's statuses


CREATES = (*open_v1.CODES, 503)
"""An Open API call that makes something new is refused with 503 under maintenance."""

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("post", "/api/open/v1/order/create"): Operation("OrderCreated", errors=CREATES),
    ("get", "/api/open/v1/order/query"): Operation("OrderInfo"),
    ("get", "/api/open/v1/order/list"): Operation("OrderPage"),
    ("post", "/api/open/v1/order/cancel"): Operation("OrderInfo"),
    ("post", "/api/open/v1/order/delete-results"): Operation("OrderInfo"),
    ("post", "/api/open/v1/file/upload"): Operation("Uploaded", errors=CREATES),
    ("post", "/api/open/v1/short-video/analyze"): Operation("VideoAnalysis", errors=CREATES),
    ("post", "/api/v1/vocal-removal/generate"): Operation("VocalRemovalCreated"),
    ("get", "/api/v1/vocal-removal/record-info"): Operation(
        "VocalRemovalRecord", errors=(401, 404, 422, 429, 500)
    ),
    ("get", "/api/v1/chat/credit"): Operation("KieCredit", errors=(401, 429, 500)),
    ("post", "/v1/textToMusic"): Operation("MusicTaskCreated", "201", (400, 401, 402, 500, 503)),
    ("get", "/v1/textToMusic"): Operation("MusicTaskPage", errors=(400, 401, 500)),
    ("get", "/v1/textToMusic/{uid}"): Operation("MusicTaskResult", errors=(400, 401, 404, 500)),
    ("get", "/healthz"): Operation("Health", errors=()),
}

REQUIRED: Schema = {"required": True, "schema": {"minLength": 1}}
EXPIRES: Schema = {
    "required": True,
    "schema": {"type": "integer"},
    "description": "When the link expires, in seconds since the epoch.",
}
SIGNATURE: Schema = {"required": True, "description": "The link's HMAC signature."}

# Merged into a parameter (its "schema" merged into the parameter's schema); None removes it.
PARAMETERS: dict[tuple[str, str, str], Schema | None] = {
    ("get", "/api/open/v1/order/query", "orderNo"): REQUIRED,
    ("get", "/api/open/v1/order/list", "page"): {
        "schema": {"type": "integer", "minimum": 1, "default": 1},
        "description": "The page to show, from 1.",
    },
    ("get", "/api/open/v1/order/list", "perPage"): {
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        "description": "Orders per page, 1 to 100.",
    },
    ("get", "/api/open/v1/order/list", "status"): {
        "schema": {"enum": [str(status) for status in OrderStatus]},
        "description": "Only orders in this status.",
    },
    ("get", "/api/open/v1/order/list", "orderType"): {
        "schema": {"enum": list(ORDER_KINDS)},
        "description": "Only orders of this type.",
    },
    ("get", "/api/v1/vocal-removal/record-info", "taskId"): REQUIRED,
    ("get", "/v1/textToMusic", "page"): {
        "schema": {"type": "integer", "minimum": 1, "default": 1},
        "description": "The page to show, from 1.",
    },
    ("get", "/v1/textToMusic", "perPage"): {
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "description": "Tasks per page, 1 to 100.",
    },
    ("get", "/v1/textToMusic", "status"): {
        "schema": {"enum": ["pending", "ongoing", "completed", "error"]},
        "description": "Only tasks in this status.",
    },
    **{
        (method, "/files/{key}", name): patch
        for method in ("get", "head")
        for name, patch in (("expires", EXPIRES), ("signature", SIGNATURE))
    },
    # The text-to-music key header is the keyHeader security scheme, not a parameter.
    ("post", "/v1/textToMusic", "key"): None,
    ("get", "/v1/textToMusic", "key"): None,
    ("get", "/v1/textToMusic/{uid}", "key"): None,
}
# Bodies the route reads as free-form JSON, by their component schema.
REQUEST_BODIES: dict[tuple[str, str], str] = {("post", "/v1/textToMusic"): "TextToMusicCreate"}


def install(app: FastAPI) -> None:
    """Serve the completed document at ``app.openapi_url``, built on first use."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(_fastapi_schema(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point


def _fastapi_schema(app: FastAPI) -> dict[str, Any]:
    with warnings.catch_warnings():
        # GET and HEAD of one route share an operation id; complete() makes the ids unique.
        warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
        return FastAPI.openapi(app)


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of FastAPI's ``document`` that describes the API fully (see the module doc)."""
    document = copy.deepcopy(document)
    components = document.setdefault("components", {})
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    schemas = components.setdefault("schemas", {})
    for name, model in schemas.items():
        _complete_model(name, model)
    schemas.update(copy.deepcopy({**ERRORS, **SUCCESS, **BODIES}))
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in METHODS:
                _complete_operation(method, path, operation)
    _drop_unused(schemas, document)
    _unique_operation_ids(document)
    return document


def _complete_model(name: str, model: Schema) -> None:
    properties = model.get("properties", {})
    required = MODEL_REQUIRED.get(name, [])
    for field, extra in MODEL_FIELDS.get(name, {}).items():
        if field in properties:
            properties[field] = _refine(properties[field], extra, required=field in required)
    if required:
        model["required"] = sorted({*model.get("required", []), *required})
    model.update(copy.deepcopy(MODEL_RULES.get(name, {})))


def _refine(prop: Schema, extra: Schema, *, required: bool) -> Schema:
    """``prop`` with the constraints in ``extra``; ``null`` stays allowed only if optional."""
    others = [m for m in prop.get("anyOf", []) if m != {"type": "null"}]
    nullable = len(others) < len(prop.get("anyOf", []))
    value = {k: v for k, v in prop.items() if k != "anyOf"}
    if len(others) == 1:
        value.update(others[0])
    elif others:
        value["anyOf"] = others
    if value.get("default", "") is None:
        del value["default"]
    annotations: Schema = {k: value.pop(k) for k in ANNOTATIONS if k in value}
    value.update({k: v for k, v in extra.items() if k != "description"})
    if nullable and not required:
        value = {"anyOf": [value, {"type": "null"}]}
    if "description" in extra:
        annotations["description"] = extra["description"]
    return {**value, **annotations}


def _dialect(path: str) -> Dialect | None:
    return next((d for d in DIALECTS if path.startswith(d.prefix)), None)


def _complete_operation(method: str, path: str, operation: Schema) -> None:
    dialect = _dialect(path)
    if dialect is not None and dialect.security:
        operation["security"] = [{scheme: []} for scheme in dialect.security]
    _complete_parameters(method, path, operation)
    body = operation.get("requestBody")
    if body is not None:
        body["required"] = True
        if (method, path) in REQUEST_BODIES:
            body["content"] = {"application/json": {"schema": ref(REQUEST_BODIES[method, path])}}
    spec = OPERATIONS.get((method, path))
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    if path.startswith(files.PREFIX):
        responses.clear()
        responses.update(_file_responses(with_body=method != "head"))
    elif spec is not None:
        responses.pop("200", None)
        responses[spec.status] = _json("Success", ref(spec.success))
    if dialect is not None:
        errors = spec.errors if spec is not None and spec.errors is not None else dialect.statuses
        for status in errors:
            responses[str(status)] = _error(dialect.error, status, with_body=method != "head")


def _complete_parameters(method: str, path: str, operation: Schema) -> None:
    kept = []
    for parameter in operation.get("parameters", []):
        patch = PARAMETERS.get((method, path, parameter["name"]), {})
        if patch is None:
            continue
        parameter["schema"] = {**parameter.get("schema", {}), **patch.get("schema", {})}
        parameter.update({k: v for k, v in patch.items() if k != "schema"})
        kept.append(parameter)
    if kept:
        operation["parameters"] = kept
    else:
        operation.pop("parameters", None)


def _json(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_REASONS = {
    400: "Bad request: a parameter is missing or invalid",
    401: "The API key is missing or invalid",
    402: "Not enough credits",
    403: "The link is invalid or has expired",
    404: "Not found",
    409: "The Idempotency-Key was already used with a different request",
    416: "The requested range is not satisfiable",
    422: "Validation error: a parameter is missing or invalid",
    429: "Too many requests",
    451: "The input could not be fetched",
    455: "Under maintenance",
    500: "Internal server error",
    503: "Under maintenance: new work is refused, queries keep working",
}


def _error(envelope: str, status: int, *, with_body: bool) -> Schema:
    description = _REASONS.get(status, "Error")
    if not with_body:
        return {"description": description}
    pinned = {"properties": {ERROR_CODE_FIELD[envelope]: {"const": status}}}
    return _json(description, {"allOf": [ref(envelope), pinned]})


def _file_responses(*, with_body: bool) -> dict[str, Schema]:
    content = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
    ok = "The file; its media type follows its name"
    partial = "The requested byte range (`Range` header)"
    if not with_body:
        return {"200": {"description": ok}, "206": {"description": partial}}
    return {
        "200": {"description": ok, "content": content},
        "206": {"description": partial, "content": content},
    }


def _drop_unused(schemas: dict[str, Any], document: dict[str, Any]) -> None:
    """Remove FastAPI's validation-error schemas once no response refers to them."""
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas and not _refers(document, name):
            del schemas[name]


def _refers(document: dict[str, Any], name: str) -> bool:
    target = f"#/components/schemas/{name}"
    found = False

    def visit(node: Any) -> None:
        nonlocal found
        if isinstance(node, dict):
            if node.get("$ref") == target:
                found = True
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit({k: v for k, v in document.items() if k != "components"})
    visit({k: v for k, v in document["components"]["schemas"].items() if k != name})
    return found


def _unique_operation_ids(document: dict[str, Any]) -> None:
    """Tell apart the methods of one route: ``download_files__key__get``, ``..._head``."""
    operations = [
        (method, operation)
        for item in document.get("paths", {}).values()
        for method, operation in item.items()
        if method in METHODS and "operationId" in operation
    ]
    counts = Counter(operation["operationId"] for _, operation in operations)
    for method, operation in operations:
        op_id = operation["operationId"]
        if counts[op_id] > 1:
            stem = re.sub(f"_({'|'.join(METHODS)})$", "", op_id)
            operation["operationId"] = f"{stem}_{method}"
