"""Reads Pulumi.yaml and Pulumi.<stack>.yaml the way the CLI does, into the engine's flat config map."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class StackFileError(Exception):
    """A project or stack file is missing or malformed (a usage error: exit 2)."""


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    main: Path
    stack_config_dir: Path
    defaults: dict[str, Any]

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in self.stack_config_dir.glob("Pulumi.*.yaml"))


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise StackFileError(f"{path}: no such file") from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML: {exc}") from None


def find_project(start: Path) -> Project:
    """The nearest Pulumi.yaml at or above `start`."""
    for folder in [start.resolve(), *start.resolve().parents]:
        if (folder / "Pulumi.yaml").is_file():
            return load_project(folder)
    raise StackFileError(f"no Pulumi.yaml in {start.resolve()} or above it; run from the project or pass --project")


def load_project(root: Path) -> Project:
    raw = _read_yaml(root / "Pulumi.yaml")
    if not isinstance(raw, dict) or "name" not in raw:
        raise StackFileError(f"{root / 'Pulumi.yaml'}: needs at least a 'name'")
    defaults = {}
    for key, decl in (raw.get("config") or {}).items():
        value = decl.get("value", decl.get("default")) if isinstance(decl, dict) else decl
        if value is not None:
            defaults[key] = value
    main = root / raw.get("main", "")
    return Project(
        root=root,
        name=raw["name"],
        main=main if main.is_file() else main / "__main__.py",
        stack_config_dir=root / raw.get("stackConfigDir", "."),
        defaults=defaults,
    )


def _namespaced(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _engine_string(value: Any) -> str:
    """The engine hands every config value to the program as a string; objects and lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def stack_config(project: Project, stack: str) -> dict[str, str]:
    path = project.stack_file(stack)
    if not path.is_file():
        known = ", ".join(project.stacks()) or "none"
        raise StackFileError(f"no stack '{stack}': {path} does not exist (stacks here: {known})")
    raw = _read_yaml(path) or {}
    if not isinstance(raw, dict):
        raise StackFileError(f"{path}: expected a mapping with a 'config' key")
    merged = {_namespaced(project.name, k): v for k, v in project.defaults.items()}
    for key, value in (raw.get("config") or {}).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            raise StackFileError(
                f"{path}: {key} is a secret; the offline preview cannot decrypt it. "
                "Use a plain value in a preview stack, or run the Pulumi CLI"
            )
        merged[_namespaced(project.name, key)] = value
    return {key: _engine_string(value) for key, value in merged.items()}
