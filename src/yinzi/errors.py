"""One error hierarchy for the whole platform.

Every error carries an HTTP status and a stable machine code. Services raise these; each HTTP
dialect renders them in its own envelope in exactly one place. A class's docstring is its default
message, so ``raise NotFound()`` reads well and still says something useful to the client.
"""

from __future__ import annotations


class YinziError(Exception):
    """Internal server error"""

    status: int = 500
    code: str = "internal_error"
    keeps_status: bool = False
    """HTTP-level errors (no such route, method, body too large) keep their status in every
    dialect; the others map onto the codes each dialect documents."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (type(self).__doc__ or "").strip().splitlines()[0]
        super().__init__(self.message)


# -- request errors (raised before an order exists) ------------------------------------------


class BadRequest(YinziError):
    """Request parameter error"""

    status = 400
    code = "bad_request"


class Unauthorized(YinziError):
    """Invalid API Key"""

    status = 401
    code = "unauthorized"


class MissingApiKey(Unauthorized):
    """API Key is required"""

    code = "api_key_required"


class InsufficientCredits(YinziError):
    """ErrorCode.USER_BLANCE_NOT_ENOUGH"""

    # The Open API spells this message exactly so (typo included); clients match on it.
    status = 402
    code = "insufficient_credits"


class Forbidden(YinziError):
    """Forbidden"""

    status = 403
    code = "forbidden"


class NotFound(YinziError):
    """Not found"""

    status = 404
    code = "not_found"


class OrderNotFound(NotFound):
    """Order not found"""

    code = "order_not_found"


class RouteNotFound(NotFound):
    """Not Found"""

    code = "route_not_found"
    keeps_status = True


class MethodNotAllowed(YinziError):
    """Method Not Allowed"""

    status = 405
    code = "method_not_allowed"
    keeps_status = True


class PayloadTooLarge(YinziError):
    """The request body is too large"""

    status = 413
    code = "payload_too_large"
    keeps_status = True


class Conflict(YinziError):
    """Idempotency-Key was already used with a different request"""

    status = 409
    code = "conflict"


class ValidationFailed(YinziError):
    """Request validation failed"""

    status = 422
    code = "validation_failed"


class RateLimited(YinziError):
    """Too many requests"""

    status = 429
    code = "rate_limited"
    keeps_status = True

    def __init__(self, message: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Maintenance(YinziError):
    """The service is under maintenance; try again later"""

    # Kie's code; the Open API and the text-to-music API answer 503 in their envelopes.
    status = 455
    code = "maintenance"


# -- processing errors (an order fails with the message as its reason) -----------------------


class InputError(YinziError):
    """The input could not be used"""

    status = 400
    code = "input_error"


class FetchError(InputError):
    """The input could not be fetched"""

    status = 451
    code = "fetch_failed"

    def __init__(self, message: str | None = None, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or self.message
        """Why, without the URL the message names: for callers that name the address
        their own way (a link analysis names the user's link, not the platform's API)."""


class AddressRefused(FetchError):
    """The URL leads to an address this server may not fetch from"""

    code = "address_refused"


class InputTooLarge(FetchError):
    """The input is larger than this order may take"""

    code = "input_too_large"


class MediaError(InputError):
    """The input is not a readable audio or video file"""

    code = "media_error"


class EngineError(YinziError):
    """The engine failed to process the audio"""

    code = "engine_failed"


class Cancelled(YinziError):
    """cancelled by the user"""

    # The order's owner asked to stop it (``order/cancel``); its worker stops at the next check.
    code = "cancelled"


class Unsupported(YinziError):
    """The engine cannot produce what was asked"""

    status = 501
    code = "unsupported"


class ConfigurationError(YinziError):
    """The server is misconfigured"""

    code = "configuration_error"


class SignInRefused(YinziError):
    """Wrong email or password."""

    # One message whatever the reason (unknown email, wrong password, no password, disabled),
    # so a sign-in form never tells whether an email has an account.
    status = 401
    code = "sign_in_refused"


class SignInLocked(RateLimited):
    """Too many failed sign-ins. Wait a few minutes and try again."""

    code = "sign_in_locked"
