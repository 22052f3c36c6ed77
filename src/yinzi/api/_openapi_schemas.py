"""The OpenAPI component schemas that FastAPI cannot infer from the routes.

Routes return plain dicts and their request models keep every field optional (see
:mod:`yinzi.api.openapi`), so the shapes here come from the seeds and docs/: the error envelope of
each dialect, each success body, and the request fields a client must send.
"""

from __future__ import annotations

from typing import Any

from yinzi.api import text_to_music, vocal_removal
from yinzi.services.orders import FORMATS, ORDER_KINDS, OrderStatus, Stage

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
NULLABLE_INTEGER: Schema = {"type": ["integer", "null"]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """An object whose properties are all required but those named ``optional``."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "required": required, "properties": properties}


SECURITY_SCHEMES: dict[str, Schema] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer KEY`: the Open API and the vocal-removal API.",
    },
    "apiKeyQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "apiKey",
        "description": "`?apiKey=KEY`: the Open API's second form.",
    },
    "keyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "key",
        "description": "`key: KEY`: the text-to-music API.",
    },
}

# -- error envelopes -------------------------------------------------------------------------

ERRORS: dict[str, Schema] = {
    "OpenApiError": {
        **obj({"code": INTEGER, "data": {"type": "null"}, "msg": STRING}),
        "description": "Open API error: `code` equals the HTTP status (400, 401 or 500).",
    },
    "VocalRemovalError": {
        **obj({"code": INTEGER, "msg": STRING, "data": {"type": "null"}}),
        "description": "Vocal-removal (Kie) error: `code` equals the HTTP status.",
    },
    "TextToMusicError": {
        **obj(
            {
                "statusCode": INTEGER,
                "message": {"anyOf": [STRING, {"type": "array", "items": STRING}]},
                "error": STRING,
            }
        ),
        "description": "Text-to-music (NestJS-style) error; a 400 lists every problem found.",
    },
    "FileError": {
        **obj({"code": INTEGER, "msg": STRING}),
        "description": "Download-link error: `code` equals the HTTP status.",
    },
}
ERROR_CODE_FIELD = {
    "OpenApiError": "code",
    "VocalRemovalError": "code",
    "TextToMusicError": "statusCode",
    "FileError": "code",
}

# -- request bodies --------------------------------------------------------------------------

TEXT: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": "^ *[A-Za-z][A-Za-z ]*$",
    "description": "The prompt: English letters and spaces, e.g. `guitar solo bossa nova C minor`.",
}
LENGTH: Schema = {
    "type": "integer",
    "minimum": 1,
    "maximum": 12,
    "description": "Bars of 4/4 music to generate.",
}

# Fields merged into FastAPI's schema of each request model; see openapi._complete_model.
MODEL_FIELDS: dict[str, dict[str, Schema]] = {
    "OrderCreate": {
        "orderType": {"enum": list(ORDER_KINDS), "description": "The order type."},
        "stuff": {"description": "The material; which fields depend on `orderType`."},
    },
    "StuffIn": {
        "pathKey": {
            "description": "An http(s) URL, or the `pathKey` of a file this account uploaded "
            "(every type but `text-to-music`)."
        },
        "format": {"enum": list(FORMATS), "description": "Result audio format (default mp3)."},
        "language": {
            "pattern": "^(auto|[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})?)$",
            "description": "`extract-text`: `auto` (default) or a language code; Chinese takes "
            "a script: `zh` (Simplified, as `zh-CN` and `zh-Hans`), `zh-TW` or `zh-Hant` "
            "(Traditional).",
        },
        "stemName": {
            "description": "`split_stem_advanced`: the instrument to isolate, one of Kie's stem "
            "names (see docs/vocal-removal.md).",
        },
        "text": {**TEXT, "description": "`text-to-music`: the prompt."},
        "length": {**LENGTH, "description": "`text-to-music`: bars to generate, 1 to 12."},
    },
    "GenerateRequest": {
        "callBackUrl": {
            "pattern": "^https?://",
            "description": "The http(s) URL that is POSTed the result.",
        },
        "type": {"enum": list(vocal_removal.TYPES)},
        "stemName": {
            "minLength": 1,
            "description": "`split_stem_advanced` (required): the instrument to isolate, one of "
            "Kie's stem names, e.g. `Lead Vocal`, `Kick`, `Bass`, `String Section`.",
        },
        "audioUrl": {
            "minLength": 1,
            "description": "The audio: an http(s) URL or an uploaded file's pathKey, at most "
            "20 MiB; not with `taskId` or `audioId`.",
        },
        "taskId": {"minLength": 1, "description": "Or a finished text-to-music task's `taskId`"},
        "audioId": {"minLength": 1, "description": "and its `uid` (or `0`)."},
    },
    "OrderRef": {"orderNo": {"minLength": 1, "description": "The order's `orderNo`."}},
    "AnalyzeRequest": {
        "link": {
            "minLength": 1,
            "description": "A short-video share link, or the whole share text.",
        },
    },
    "Body_upload_file_api_open_v1_file_upload_post": {
        "file": {"description": "The audio or video file."},
    },
}
MODEL_REQUIRED: dict[str, list[str]] = {
    "OrderCreate": ["orderType", "stuff"],
    "GenerateRequest": ["callBackUrl"],
    "AnalyzeRequest": ["link"],
    "OrderRef": ["orderNo"],
    "Body_upload_file_api_open_v1_file_upload_post": ["file"],
}
MODEL_RULES: dict[str, Schema] = {
    "OrderCreate": {
        "if": {"properties": {"orderType": {"const": "text-to-music"}}},
        "then": {"properties": {"stuff": {"required": ["text", "length"]}}},
        "else": {"properties": {"stuff": {"required": ["pathKey"]}}},
    },
    "GenerateRequest": {  # audioUrl, or taskId and audioId; never both
        "oneOf": [
            {
                "required": ["audioUrl"],
                "not": {"anyOf": [{"required": ["taskId"]}, {"required": ["audioId"]}]},
            },
            {"required": ["taskId", "audioId"], "not": {"required": ["audioUrl"]}},
        ],
        "if": {"properties": {"type": {"const": "split_stem_advanced"}}, "required": ["type"]},
        "then": {"required": ["stemName"]},
    },
}

BODIES: dict[str, Schema] = {
    "TextToMusicCreate": obj({"text": TEXT, "config": obj({"length": LENGTH})}),
}

# -- success bodies --------------------------------------------------------------------------

ORDER_STATUSES = [str(status) for status in OrderStatus]
MUSIC_STATUSES = sorted(set(text_to_music.STATUSES.values()))
DATE_TIME: Schema = {"type": "string", "format": "date-time"}


def open_api_ok(data: Schema) -> Schema:
    return obj({"code": {"const": 0}, "data": data, "msg": STRING})


def vocal_removal_ok(data: Schema) -> Schema:
    return obj({"code": {"const": 200}, "msg": STRING, "data": data})


STUFF_OUT = obj({"name": STRING, "business": STRING, "url": STRING})
PROGRESS: Schema = {
    "type": "integer",
    "minimum": 0,
    "maximum": 100,
    "description": "Percent done, 0 to 100; it only grows (100 once finished).",
}
STAGE: Schema = {
    "enum": [str(stage) for stage in Stage],
    "description": "Where the order is; `done` once it ended.",
}
QUEUE_POSITION: Schema = {
    "type": ["integer", "null"],
    "minimum": 1,
    "description": "While pending: 1 for the next order to run, 2 for the one after... "
    "Null otherwise.",
}
ORDER_FIELDS: dict[str, Schema] = {
    "orderNo": STRING,
    "orderType": STRING,
    "status": {"enum": ORDER_STATUSES},
    "cost": INTEGER,
    "reason": NULLABLE_STRING,
    "stuffs": {"type": "array", "items": STUFF_OUT},
    "progress": PROGRESS,
    "stage": STAGE,
    "queuePosition": QUEUE_POSITION,
}
ORDER_INFO = obj({**ORDER_FIELDS, "balance": INTEGER})
ORDER_ITEM = obj(
    {
        **ORDER_FIELDS,
        "stuffs": {"type": "array", "items": obj({"name": STRING, "business": STRING})},
    }
)
MUSIC_TASK = obj(
    {
        "uid": STRING,
        "taskId": STRING,
        "status": {"enum": MUSIC_STATUSES},
        "createdAt": DATE_TIME,
        "updatedAt": DATE_TIME,
        "text": STRING,
        "config": obj({"length": INTEGER}),
        "audioUrl": NULLABLE_STRING,
    }
)

SUCCESS: dict[str, Schema] = {
    "OrderCreated": open_api_ok(
        obj(
            {
                "orderNo": STRING,
                "orderType": STRING,
                "orderStatus": {"enum": ORDER_STATUSES},
                "payStatus": {"enum": ["waiting", "paid", "refunded"]},
                "messageId": STRING,
            }
        )
    ),
    "OrderInfo": open_api_ok(ORDER_INFO),
    "OrderItem": ORDER_ITEM,
    "OrderPage": open_api_ok(
        obj(
            {
                "items": {"type": "array", "items": ref("OrderItem")},
                "page": INTEGER,
                "perPage": INTEGER,
                "total": INTEGER,
                "nextPage": NULLABLE_INTEGER,
            }
        )
    ),
    "Uploaded": open_api_ok(obj({"pathKey": STRING})),
    "VideoAnalysis": open_api_ok(
        obj(
            {
                "title": STRING,
                "author": STRING,
                "cover": NULLABLE_STRING,
                "videoUrl": NULLABLE_STRING,
                "musicUrl": NULLABLE_STRING,
                "balance": INTEGER,
            }
        )
    ),
    "VocalRemovalCreated": vocal_removal_ok(obj({"taskId": STRING})),
    "KieCredit": vocal_removal_ok(
        {**INTEGER, "description": "The credits the account has available."}
    ),
    "VocalRemovalRecord": vocal_removal_ok(
        obj(
            {
                "taskId": STRING,
                "musicId": NULLABLE_STRING,
                "callbackUrl": NULLABLE_STRING,
                "musicIndex": INTEGER,
                "completeTime": NULLABLE_INTEGER,
                "response": obj(dict.fromkeys(vocal_removal.URL_FIELDS, NULLABLE_STRING)),
                "successFlag": {
                    "enum": [
                        "PENDING",
                        "SUCCESS",
                        "CREATE_TASK_FAILED",
                        "GENERATE_AUDIO_FAILED",
                        "CALLBACK_EXCEPTION",
                    ]
                },
                "createTime": INTEGER,
                "errorCode": NULLABLE_INTEGER,
                "errorMessage": NULLABLE_STRING,
                "progress": PROGRESS,
                "stage": STAGE,
            }
        )
    ),
    "MusicTaskCreated": obj(
        {
            "uid": STRING,
            "status": {"enum": MUSIC_STATUSES},
            "createdAt": DATE_TIME,
            "updatedAt": DATE_TIME,
        }
    ),
    "MusicTask": MUSIC_TASK,
    "MusicTaskResult": obj(
        {
            "uid": STRING,
            "status": {"enum": MUSIC_STATUSES},
            "text": STRING,
            "config": obj({"length": INTEGER}),
            "audioUrl": NULLABLE_STRING,
            "reason": {**NULLABLE_STRING, "description": "Why the task ended in `error`."},
            "progress": PROGRESS,
            "stage": STAGE,
        },
        optional=("reason",),
    ),
    "MusicTaskPage": obj(
        {
            "page": INTEGER,
            "perPage": INTEGER,
            "total": INTEGER,
            "nextPage": NULLABLE_INTEGER,
            "data": {"type": "array", "items": ref("MusicTask")},
        }
    ),
    "Health": obj(
        {
            "status": {"enum": ["ok", "degraded"]},
            "ready": {"type": "boolean"},
            "version": STRING,
            "checks": {
                "type": "object",
                "additionalProperties": obj(
                    {"ok": {"type": "boolean"}, "ms": {"type": "number"}, "error": NULLABLE_STRING}
                ),
            },
        }
    ),
}
