"""How a building block checks its inputs: as the parts of a cluster spec they are (a pool, the network, the storage,
the tags), with the spec's own models and `gpucluster.validate`'s checks, so that a block is refused what a stack
file holding the same values is refused, with the same code and message, before anything is registered. Only the
paths differ: a problem is reported at the block's input (`instanceType`), not at the spec's (`pools[0].instanceType`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel, ValidationError

from gpucluster.problems import Problem, format_problems, from_validation_error

from .clusters import to_spec
from .keys import schema

Model = TypeVar("Model", bound=BaseModel)


class BlockInputs:
    """The problems found in one block's inputs, reported together by `refuse_errors`."""

    def __init__(self, component: str, name: str):
        self.component, self.name = component, name
        self.problems: list[Problem] = []

    def model(self, model: type[Model], value: Any, at: str = "") -> Model | None:
        """`value` (the input at `at`, in the package's Python keys; at "": the block's own inputs) as the spec's
        `model`; None, its problems noted, when the model refuses it."""
        defs = schema()["$defs"]
        data = to_spec(value, defs[model.__name__], defs, at)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.problems += [_at(problem, at) for problem in from_validation_error(exc, model)]
            return None

    def check(self, problems: Iterable[Problem], renames: dict[str, str]) -> None:
        """Note what a spec check found, each spec path renamed to the block's input it came from: the longest
        prefix in `renames` is replaced ("" drops it)."""
        self.problems += [dataclasses.replace(p, path=_renamed(p.path, renames)) for p in problems]

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def refuse_errors(self) -> None:
        """A RunError naming every error, as the cluster components raise it; else the warnings, logged."""
        errors = [p for p in self.problems if p.severity == "error"]
        if errors:
            raise pulumi.RunError(f"{self.component} {self.name!r}: {format_problems(errors)}")
        for warning in self.problems:
            pulumi.log.warn(f"{self.component} {self.name!r}: {warning.text}")

    def refuse(self, path: str, message: str, code: str) -> None:
        """Refuse what only a block can get wrong (a spec has no such field), in the same form and with its code."""
        raise pulumi.RunError(f"{self.component} {self.name!r}: {path}: [{code}] {message}")


def given_or_config(inputs: BlockInputs, args: dict[str, Any], key: str, config: str) -> str:
    """The input `key` (such as region), else the stack's `config` key (aws:region), as the cloud's provider reads it."""
    path = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
    namespace, name = config.split(":")
    value = known(args.get(key), path) or pulumi.Config(namespace).get(name)
    if not isinstance(value, str) or not value:
        inputs.refuse(path, f"not given, and the stack has no {config}", "GPC-INPUT-MISSING")
    return value


def known(value: Any, path: str) -> Any:
    """`value`, which decides which resources exist: refused when it is another resource's output."""
    return to_spec(value, {}, {}, path)


def _at(problem: Problem, at: str) -> Problem:
    if not at:
        return problem
    path = at if problem.path == "(top level)" else f"{at}{'' if problem.path.startswith('[') else '.'}{problem.path}"
    return dataclasses.replace(problem, path=path)


def _renamed(path: str, renames: dict[str, str]) -> str:
    for old in sorted(renames, key=len, reverse=True):
        if path == old or path.startswith((f"{old}.", f"{old}[")):
            rest, new = path[len(old):], renames[old]
            return f"{new}{rest}" if new else rest.removeprefix(".") or "(top level)"
    return path
