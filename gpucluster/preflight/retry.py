"""Asking a cloud API with retries on throttling, and turning what cannot be answered into an "error" check.

Our own backoff rather than botocore's: the sleep is injectable (tests do not wait), and one policy covers both
clouds. The default boto3 clients are made with botocore's retries off, so attempts do not multiply."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .model import Check

T = TypeVar("T")

# Error codes AWS services answer a throttled request with (botocore's retry handler lists the same family).
AWS_THROTTLING = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "RequestThrottled",
    "TooManyRequestsException", "RequestLimitExceeded", "RateExceeded", "SlowDown", "PriorRequestNotComplete",
})
AWS_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                               "UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure"})

AWS_NO_CREDENTIALS = frozenset({"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                                "TokenRetrievalError", "SSOTokenLoadError", "UnauthorizedSSOTokenError"})
GCP_NO_CREDENTIALS = frozenset({"DefaultCredentialsError", "RefreshError"})  # google.auth.exceptions


class GcpHttpError(Exception):
    """A Compute Engine API answer other than 200: its HTTP status and Google's error message."""

    def __init__(self, status: int, message: str, reason: str = ""):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message, self.reason = status, message, reason


def aws_error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)  # botocore ClientError
    return response.get("Error", {}).get("Code") if isinstance(response, dict) else None


def throttled(exc: BaseException) -> bool:
    if isinstance(exc, GcpHttpError):
        return exc.status == 429 or exc.reason in ("rateLimitExceeded", "userRateLimitExceeded")
    return aws_error_code(exc) in AWS_THROTTLING


@dataclass
class Backoff:
    """Exponential backoff: base, 2 x base, 4 x base ... capped, for at most `attempts` tries."""

    attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def call(self, ask: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        for attempt in range(self.attempts):
            try:
                return ask(*args, **kwargs)
            except Exception as exc:
                if attempt + 1 == self.attempts or not throttled(exc):
                    raise
                self.sleep(min(self.cap_seconds, self.base_seconds * 2 ** attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")


def unanswered(check: str, exc: BaseException, permission: str, service: str, region: str) -> Check:
    """The "error" check for a question the cloud did not answer, saying what to do about it."""
    name = type(exc).__name__
    code = aws_error_code(exc)
    if name in AWS_NO_CREDENTIALS:
        return Check(check, "error", action="give AWS credentials: AWS_PROFILE, `aws sso login` or an instance role",
                     detail=f"{name}: {exc}")
    if name in GCP_NO_CREDENTIALS:
        return Check(check, "error", action="give Google credentials: `gcloud auth application-default login` or "
                     "GOOGLE_APPLICATION_CREDENTIALS", detail=f"{name}: {exc}")
    if code in AWS_ACCESS_DENIED or (isinstance(exc, GcpHttpError) and exc.status in (401, 403)):
        return Check(check, "error", action=f"allow {permission}", detail=f"access denied: {exc}")
    if throttled(exc):
        return Check(check, "error", action="run preflight again later", detail=f"still throttled after retries: {exc}")
    if name in ("ConnectTimeoutError", "ReadTimeoutError", "ConnectTimeout", "ReadTimeout", "Timeout"):
        return Check(check, "error", action=f"check the network path to {service} in {region}",
                     detail=f"the endpoint did not answer in time: {exc}")
    if name in ("EndpointConnectionError", "UnknownEndpointError", "ConnectionError"):
        return Check(check, "error", action=f"check that {service} is offered in {region} and the network reaches it",
                     detail=f"no endpoint answered: {exc}")
    return Check(check, "error", detail=f"{name}: {exc}")
