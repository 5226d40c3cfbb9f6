"""Problems found in a spec, and how they are shown: field path, bad value, what is allowed."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

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
    severity: Severity = "error"

    def __post_init__(self) -> None:
        # Checks quote values as '{value}': clip long ones here, for every check. A path holds dict keys.
        object.__setattr__(self, "path", clip(self.path))
        object.__setattr__(self, "message", clip_quoted(self.message))

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}"


class SpecError(Exception):
    """The spec has errors; nothing was run."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(format_problems(problems))


def format_problems(problems: list[Problem], where: Callable[[str], str] | None = None) -> str:
    """The report; `where(path)` names the place a problem's path is written ("file:line"), when known."""
    errors = sum(p.severity == "error" for p in problems)
    head = f"{errors} error(s) in the cluster spec; nothing was run." if errors else "warnings:"
    lines = [f"  {p.severity}: {where(p.path)}: {p.path}: {p.message}" if where else f"  {p}" for p in problems]
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


def from_validation_error(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
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
        problems.append(Problem(path_of(loc), message))
    return problems
