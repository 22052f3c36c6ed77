"""``/openapi.json`` describes the API: credentials, required fields and every dialect's errors."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient

from yinzi.queue.embedded import Worker

from conftest import FileServer
from helpers import User, drain

OPEN_API = [{"bearerAuth": []}, {"apiKeyQuery": []}]
VOCAL_REMOVAL = [{"bearerAuth": []}]
TEXT_TO_MUSIC = [{"keyHeader": []}]

# method, path, security, error envelope, the envelope's code field, error statuses
OPERATIONS = [
    ("post", "/api/open/v1/order/create", OPEN_API, "OpenApiError", "code", [400, 401, 500, 503]),
    ("get", "/api/open/v1/order/query", OPEN_API, "OpenApiError", "code", [400, 401, 500]),
    ("get", "/api/open/v1/order/list", OPEN_API, "OpenApiError", "code", [400, 401, 500]),
    ("post", "/api/open/v1/order/cancel", OPEN_API, "OpenApiError", "code", [400, 401, 500]),
    (
        "post",
        "/api/open/v1/order/delete-results",
        OPEN_API,
        "OpenApiError",
        "code",
        [400, 401, 500],
    ),
    ("post", "/api/open/v1/file/upload", OPEN_API, "OpenApiError", "code", [400, 401, 500, 503]),
    (
        "post",
        "/api/open/v1/short-video/analyze",
        OPEN_API,
        "OpenApiError",
        "code",
        [400, 401, 500, 503],
    ),
    (
        "post",
        "/api/v1/vocal-removal/generate",
        VOCAL_REMOVAL,
        "VocalRemovalError",
        "code",
        [401, 402, 404, 409, 422, 429, 451, 455, 500],
    ),
    (
        "get",
        "/api/v1/vocal-removal/record-info",
        VOCAL_REMOVAL,
        "VocalRemovalError",
        "code",
        [401, 404, 422, 429, 500],
    ),
    ("get", "/api/v1/chat/credit", VOCAL_REMOVAL, "VocalRemovalError", "code", [401, 429, 500]),
    (
        "post",
        "/v1/textToMusic",
        TEXT_TO_MUSIC,
        "TextToMusicError",
        "statusCode",
        [400, 401, 402, 500, 503],
    ),
    ("get", "/v1/textToMusic", TEXT_TO_MUSIC, "TextToMusicError", "statusCode", [400, 401, 500]),
    (
        "get",
        "/v1/textToMusic/{uid}",
        TEXT_TO_MUSIC,
        "TextToMusicError",
        "statusCode",
        [400, 401, 404, 500],
    ),
    ("get", "/files/{key}", None, "FileError", "code", [400, 403, 404, 416, 500]),
]


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


def test_the_three_security_schemes_are_declared(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert all(scheme.pop("description") for scheme in schemes.values())
    assert schemes == {
        "bearerAuth": {"type": "http", "scheme": "bearer"},
        "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "apiKey"},
        "keyHeader": {"type": "apiKey", "in": "header", "name": "key"},
    }


@pytest.mark.parametrize(("method", "path", "security", "envelope", "field", "errors"), OPERATIONS)
def test_each_operation_names_its_dialects_credentials(
    document: dict[str, Any],
    method: str,
    path: str,
    security: list[dict[str, list[str]]] | None,
    envelope: str,
    field: str,
    errors: list[int],
) -> None:
    operation = document["paths"][path][method]
    assert operation.get("security") == security
    names = [p["name"] for p in operation.get("parameters", [])]
    assert "key" not in names or path.startswith("/files")  # the key header is a scheme


@pytest.mark.parametrize(("method", "path", "security", "envelope", "field", "errors"), OPERATIONS)
def test_each_operation_documents_its_errors_in_its_dialects_envelope(
    document: dict[str, Any],
    method: str,
    path: str,
    security: list[dict[str, list[str]]] | None,
    envelope: str,
    field: str,
    errors: list[int],
) -> None:
    responses = document["paths"][path][method]["responses"]
    documented = sorted(int(status) for status in responses if not status.startswith("2"))
    assert documented == errors
    for status in errors:
        body = responses[str(status)]["content"]["application/json"]["schema"]
        assert body["allOf"] == [
            {"$ref": f"#/components/schemas/{envelope}"},
            {"properties": {field: {"const": status}}},
        ]


def test_the_error_envelopes_are_the_dialects_own(document: dict[str, Any]) -> None:
    shapes = {
        name: schema(document, name)["required"]
        for name in ("OpenApiError", "VocalRemovalError", "TextToMusicError", "FileError")
    }
    assert shapes == {
        "OpenApiError": ["code", "data", "msg"],
        "VocalRemovalError": ["code", "msg", "data"],
        "TextToMusicError": ["statusCode", "message", "error"],
        "FileError": ["code", "msg"],
    }


def test_fastapis_validation_error_is_not_documented(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for item in document["paths"].values():
        for operation in item.values():
            body = operation["responses"].get("422", {}).get("content", {})
            assert "HTTPValidationError" not in str(body)


def test_every_operation_documents_a_success_body(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            successes = [s for s in operation["responses"] if s.startswith("2")]
            assert successes, f"{method} {path}"
            if method != "head" and not path.startswith("/files"):
                content = operation["responses"][successes[0]]["content"]["application/json"]
                assert content["schema"]["$ref"].startswith("#/components/schemas/")


def test_open_api_create_requires_order_type_and_stuff(document: dict[str, Any]) -> None:
    create = schema(document, "OrderCreate")
    assert create["required"] == ["orderType", "stuff"]
    assert "track-separation" in create["properties"]["orderType"]["enum"]
    assert create["then"] == {"properties": {"stuff": {"required": ["text", "length"]}}}
    assert create["else"] == {"properties": {"stuff": {"required": ["pathKey"]}}}
    body = document["paths"]["/api/open/v1/order/create"]["post"]["requestBody"]
    assert body["required"] is True


def test_vocal_removal_generate_requires_a_callback_and_an_audio(document: dict[str, Any]) -> None:
    generate = schema(document, "GenerateRequest")
    assert generate["required"] == ["callBackUrl"]
    assert generate["properties"]["callBackUrl"]["type"] == "string"
    assert generate["oneOf"] == [
        {
            "required": ["audioUrl"],
            "not": {"anyOf": [{"required": ["taskId"]}, {"required": ["audioId"]}]},
        },
        {"required": ["taskId", "audioId"], "not": {"required": ["audioUrl"]}},
    ]
    assert generate["properties"]["type"]["enum"] == [
        "separate_vocal",
        "split_stem",
        "split_stem_advanced",
    ]
    assert generate["then"] == {"required": ["stemName"]}


def test_text_to_music_requires_text_and_a_length_of_1_to_12(document: dict[str, Any]) -> None:
    body = document["paths"]["/v1/textToMusic"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TextToMusicCreate"
    }
    create = schema(document, "TextToMusicCreate")
    assert create["required"] == ["text", "config"]
    config = create["properties"]["config"]
    assert config["required"] == ["length"]
    assert config["properties"]["length"] | {"description": ""} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 12,
        "description": "",
    }
    assert create["properties"]["text"]["maxLength"] == 200


def test_query_parameters_the_dialects_require_are_required(document: dict[str, Any]) -> None:
    def parameter(path: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(
            p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name
        )
        return found

    assert parameter("/api/open/v1/order/query", "orderNo")["required"] is True
    assert parameter("/api/open/v1/order/list", "perPage")["schema"]["maximum"] == 100
    assert parameter("/api/open/v1/order/list", "status")["required"] is False
    assert parameter("/api/v1/vocal-removal/record-info", "taskId")["required"] is True
    assert parameter("/files/{key}", "expires")["schema"]["type"] == "integer"
    assert parameter("/v1/textToMusic", "status")["required"] is False


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    ids = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    ]
    assert len(ids) == len(set(ids))
    assert "download_files__key__head" in ids and "download_files__key__get" in ids


def test_a_required_field_still_gets_the_dialects_own_message(
    client: TestClient, user: User
) -> None:
    """The document marks fields required; validation and its messages stay the dialect's."""
    answer = client.post("/api/open/v1/order/create", json={}, headers=user.auth)
    assert answer.status_code == 400
    assert answer.json() == {"code": 400, "data": None, "msg": "orderType is required"}
    answer = client.post("/v1/textToMusic", json={"text": "jazz"}, headers={"key": user.key})
    assert answer.json()["message"] == ["config.length must be an integer number"]


def test_finished_and_failed_orders_answer_as_documented(
    client: TestClient, user: User, worker: Worker, file_server: FileServer
) -> None:
    """What the fuzz run cannot reach (it runs no worker): bodies of orders that ended."""
    api = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    answers: list[tuple[str, str, Any]] = []

    def call(method: str, path: str, url: str | None = None, **kwargs: Any) -> Any:
        response = client.request(method.upper(), url or path, **kwargs)
        answers.append((method, path, response))
        return response.json()

    music = {"orderType": "text-to-music", "stuff": {"text": "pop piano happy", "length": 2}}
    order = call("post", "/api/open/v1/order/create", json=music, headers=user.auth)["data"]
    missing = {"audioUrl": file_server.url("missing.mp3"), "callBackUrl": "http://127.0.0.1:9/"}
    failing = call("post", "/api/v1/vocal-removal/generate", json=missing, headers=user.auth)
    drain(worker)
    kie = {"taskId": order["orderNo"], "audioId": order["messageId"], **missing}
    del kie["audioUrl"]
    task = call("post", "/api/v1/vocal-removal/generate", json=kie, headers=user.auth)["data"]
    drain(worker)
    query = f"/api/open/v1/order/query?orderNo={order['orderNo']}"
    stuffs = call("get", "/api/open/v1/order/query", query, headers=user.auth)["data"]["stuffs"]
    for task_id in (task["taskId"], failing["data"]["taskId"]):
        record = f"/api/v1/vocal-removal/record-info?taskId={task_id}"
        call("get", "/api/v1/vocal-removal/record-info", record, headers=user.auth)
    key = {"key": user.key}
    call("get", "/v1/textToMusic/{uid}", f"/v1/textToMusic/{order['messageId']}", headers=key)
    call("get", "/v1/textToMusic", "/v1/textToMusic?status=completed", headers=key)
    download = stuffs[0]["url"].removeprefix("http://testserver")
    answers.append(("get", "/files/{key}", client.get(download)))
    listing = "/api/open/v1/order/list?perPage=2"
    call("get", "/api/open/v1/order/list", listing, headers=user.auth)
    ref = {"orderNo": order["orderNo"]}
    call("post", "/api/open/v1/order/delete-results", json=ref, headers=user.auth)
    again = call("post", "/api/open/v1/order/create", json=music, headers=user.auth)["data"]
    ref = {"orderNo": again["orderNo"]}
    call("post", "/api/open/v1/order/cancel", json=ref, headers=user.auth)

    assert [r.status_code for _, _, r in answers] == [200] * 13
    for method, path, response in answers:
        api[path][method.upper()].validate_response(response)
