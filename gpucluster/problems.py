"""Problems found in a spec, and how they are shown: field path, bad value, what is allowed."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from .codes import ERRORS, WARNINGS

Severity = Literal["error", "warning"]

MAX_QUOTE = 60
"""The most characters of a value a message shows: a 5 MB value in a stack file must not make a 5 MB message."""


def clip(text: str) -> str:
    """`text`; when long, its start and its length."""
    return text if len(text) <= MAX_QUOTE else f"{text[:MAX_QUOTE]}… ({len(text)} characters)"


def quote(value: Any) -> str:
    """repr(value); a long string by its start and its length."""
    if isinstance(value, str) and len(value) > MAX_QUOTE:
        return f"{value[:MAX_QUOTE]!r}… ({len(value)} characters)"
    return repr(value)


# A long '...' with no space in it: a value, not the text between two short quoted ones.
_LONG_QUOTED = re.compile(f"'([^'\\s]{{{MAX_QUOTE + 1},}})'")


def clip_quoted(text: str) -> str:
    """`text` with every long quoted value in it clipped: for messages made elsewhere, which quote values
    as '{value}' or {value!r}."""
    return _LONG_QUOTED.sub(lambda m: quote(m.group(1)), text)


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    code: str  # the check's, from gpucluster.codes: stable when the message is reworded
    severity: Severity = field(init=False)  # the registry's: a check is an error or a warning wherever it fires

    def __post_init__(self) -> None:
        if self.code not in ERRORS and self.code not in WARNINGS:
            raise ValueError(f"{self.code} is not a check code in gpucluster.codes")
        object.__setattr__(self, "severity", "warning" if self.code in WARNINGS else "error")
        # Checks quote values as '{value}': clip long ones here, for every check. A path holds dict keys.
        object.__setattr__(self, "path", clip(self.path))
        object.__setattr__(self, "message", clip_quoted(self.message))

    @property
    def text(self) -> str:
        """Path, code and message, as every report shows them."""
        return f"{self.path}: [{self.code}] {self.message}"

    def __str__(self) -> str:
        return f"{self.severity}: {self.text}"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "severity": self.severity, "message": self.message}


class CheckFailed(ValueError):
    """A spec model's own check failed, with the check's code: pydantic reports it as a value error that
    `from_validation_error` turns into a Problem with this code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Skipped:
    """An advisory check the spec skips (`skipChecks`): the warnings it kept quiet, none when it did not apply."""

    code: str
    reason: str
    problems: tuple[Problem, ...]

    def __str__(self) -> str:
        if not self.problems:
            return f"skipped: {self.code}: did not apply (reason: {self.reason})"
        return f"skipped: {self.code} on {', '.join(p.path for p in self.problems)} (reason: {self.reason})"

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason, "applied": bool(self.problems),
                "problems": [p.as_dict() for p in self.problems]}


class SpecError(Exception):
    """The spec has errors; nothing was run."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(format_problems(problems))


def format_problems(problems: list[Problem], where: Callable[[str], str] | None = None) -> str:
    """The report; `where(path)` names the place a problem's path is written ("file:line"), when known."""
    errors = sum(p.severity == "error" for p in problems)
    head = f"{errors} error(s) in the cluster spec; nothing was run." if errors else "warnings:"
    lines = [f"  {p.severity}: {where(p.path)}: {p.text}" if where else f"  {p}" for p in problems]
    return "\n".join([head, *lines])


def path_of(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that holds the last key of `loc`, following aliases through lists, dicts and optionals."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        current = _innermost_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _innermost_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _innermost_model(arg)
        if found is not None:
            return found
    return None


# pydantic's error types by kind: one code per kind of structural check (the type names the case within it).
_SCHEMA_KINDS = {"extra_forbidden": "EXTRA", "literal_error": "CHOICE", "enum": "CHOICE",
                 "string_pattern_mismatch": "PATTERN", "int_from_float": "TYPE", "int_parsing_size": "RANGE",
                 "multiple_of": "RANGE", "finite_number": "RANGE"}
_SCHEMA_SHAPES = (("missing", "MISSING"), ("timezone_", "TIMEZONE"), ("greater_than", "RANGE"), ("less_than", "RANGE"))


def schema_code(error_type: str) -> str:
    """The code of a structural (pydantic) error, from its type: GPC-SCHEMA-<kind>, or GPC-SCHEMA for the rest."""
    kind = _SCHEMA_KINDS.get(error_type) or next((k for start, k in _SCHEMA_SHAPES if error_type.startswith(start)), None)
    if kind is None and error_type.endswith(("too_short", "too_long")):
        kind = "LENGTH"
    elif kind is None and error_type.endswith(("_type", "_parsing")):
        kind = "TYPE"
    return f"GPC-SCHEMA-{kind}" if kind else "GPC-SCHEMA"


def from_validation_error(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        # A check of the spec's own (CheckFailed) keeps its code; pydantic's checks get theirs from the error type.
        code = getattr(item.get("ctx", {}).get("error"), "code", None) or schema_code(item["type"])
        loc = tuple(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        value = item.get("input")
        if item["type"] == "extra_forbidden":
            holder = _model_at(model, loc)
            allowed = sorted((f.alias or n) for n, f in holder.model_fields.items()) if holder else []
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            message = f"unknown key{hint} Allowed keys: {', '.join(allowed)}"
        elif item["type"] == "missing":
            message = "required, but missing"
        elif isinstance(value, (str, int, float, bool)) or value is None:
            message = f"{message} (got {quote(value)})"
        problems.append(Problem(path_of(loc), message, code=code))
    return problems
