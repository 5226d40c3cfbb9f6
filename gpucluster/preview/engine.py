"""Runs a stack program the way the Pulumi language host does, against a monitor that records the graph.

The program is executed with `pulumi.runtime.run_in_stack`, as `pulumi preview` executes it, but the
resource monitor is a mock: nothing is sent anywhere. Each run happens in a fresh context, so runs in
one process do not share a root stack or config.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import runpy
import sys
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import pulumi
from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import configure
from pulumi.runtime.stack import run_in_stack

from .mocks import PreviewMocks

COMPUTED = "<computed>"  # how an unknown (computed) value appears in inputs and outputs
SECRET = "[secret]"
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    provider: str | None = None  # an explicit provider reference, "<provider urn>::<provider id>"
    dependencies: dict[str, list[str]] = field(default_factory=dict)  # input property -> URNs it came from
    depends_on: list[str] = field(default_factory=list)  # every dependency: properties' and `depends_on`
    options: dict[str, Any] = field(default_factory=dict)  # resource options the engine keeps (set ones only)


@dataclass
class PreviewResult:
    stack: str
    project: str
    resources: list[Registration]
    outputs: dict[str, Any]
    component_outputs: dict[str, dict[str, Any]]
    diagnostics: list[tuple[str, str]] = field(default_factory=list)
    reads: list[Registration] = field(default_factory=list)  # existing resources the program read (`.get`)
    invokes: list[tuple[str, str | None]] = field(default_factory=list)  # (token, explicit provider reference)


def plain(value: Any) -> Any:
    """Deserialized engine values as JSON-ready data: unknowns and secrets made visible."""
    if isinstance(value, Unknown):
        return COMPUTED
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return SECRET
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, pulumi.Resource):
        return COMPUTED
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format has only doubles; the program sent an int
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock resource monitor that keeps every registration, with engine-style URNs."""

    def __init__(self, mocks: PreviewMocks, on_register: Callable[[int], None] | None = None):
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self.reads: list[Registration] = []
        self.outputs: dict[str, dict[str, Any]] = {}
        self.stack_urn = ""
        self._on_register = on_register

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root stack out of its children's type chain; the stock mock does not.
        if parent and parent != self.stack_urn:
            type_ = parent.split("::")[2] + "$" + type_
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{type_}::{name}"

    def RegisterResource(self, request):
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            self.stack_urn = urn
            self.registrations.append(Registration(urn, STACK_TYPE, request.name, None, False, {}, options=_options(request, [])))
            return resource_pb2.RegisterResourceResponse(urn=urn)

        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        checked = self.mocks.check(request.type, request.name, inputs) if request.custom else {}
        self.registrations.append(
            Registration(
                urn=urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                inputs={**plain(inputs), **checked},  # inputs as the engine has them after the provider's check
                provider=request.provider or None,
                dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items() if v.urns},
                depends_on=list(request.dependencies),
                options=_options(request, self._aliases(request)),
            )
        )
        if self._on_register:
            self._on_register(len(self.registrations))
        if not request.custom:
            return resource_pb2.RegisterResourceResponse(urn=urn)

        resource_id, computed = self.mocks.new_resource(
            pulumi.runtime.MockResourceArgs(
                typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
                resource_id=request.importId, custom=True,
            )
        )
        # The engine answers a preview with the checked inputs plus what the provider knows; unknown inputs
        # stay unknown because the request's own encoding is passed back.
        state = struct_pb2.Struct()
        state.CopyFrom(request.object)
        state.update(computed)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=state)

    def _aliases(self, request) -> list[str]:
        """Alias URNs, as the engine resolves the alias specs the SDK sends (unset parts: the resource's own)."""
        urns = list(request.aliasURNs)
        for alias in request.aliases:
            if alias.urn:
                urns.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            type_ = spec.type or request.type
            if parent and parent != self.stack_urn:
                type_ = parent.split("::")[2] + "$" + type_
            urns.append(f"urn:pulumi:{spec.stack or pulumi.get_stack()}::{spec.project or pulumi.get_project()}::"
                        f"{type_}::{spec.name or request.name}")
        return urns

    def ReadResource(self, request):
        urn = self.make_urn(request.parent, request.type, request.name)
        self.reads.append(
            Registration(urn, request.type, request.name, request.parent or None, True, {"id": request.id})
        )
        state = self.mocks.read(request.type, request.id)
        return resource_pb2.ReadResourceResponse(urn=urn, properties=_struct(state))

    def RegisterResourceOutputs(self, request):
        self.outputs[request.urn] = plain(rpc.deserialize_properties(request.outputs, keep_unknowns=True))
        return super().RegisterResourceOutputs(request)


def _options(request, aliases: list[str]) -> dict[str, Any]:
    """The options of a registration that the engine keeps in its state and hands to analyzers."""
    timeouts = request.customTimeouts if request.HasField("customTimeouts") else None
    options = {
        "protect": request.protect if request.HasField("protect") else None,
        "ignoreChanges": list(request.ignoreChanges),
        "deleteBeforeReplace": request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
        "additionalSecretOutputs": list(request.additionalSecretOutputs),
        "aliases": aliases,
        "customTimeouts": {k: v for k in ("create", "update", "delete") if (v := getattr(timeouts, k))} if timeouts else {},
        "replaceOnChanges": list(request.replaceOnChanges),
        "retainOnDelete": request.retainOnDelete if request.HasField("retainOnDelete") else None,
        "deletedWith": request.deletedWith or None,
    }
    return {k: v for k, v in options.items() if v not in (None, [], {})}


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


class _DiagnosticsHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname.lower(), record.getMessage()))


def _default_providers(regs: list[Registration], invokes: list[tuple[str, str | None]], config: dict[str, str],
                       project: str, stack: str) -> list[Registration]:
    """The engine registers one default provider per package that a resource or an invoke uses without an explicit
    provider; provider resources themselves are served by the engine, not by a provider."""
    packages = {r.type.split(":")[0] for r in regs if r.custom and not r.provider and not r.type.startswith("pulumi:providers:")}
    packages |= {token.split(":")[0] for token, provider in invokes if not provider}
    providers = []
    for package in sorted(packages):
        try:
            version = metadata.version(f"pulumi-{package}")
        except metadata.PackageNotFoundError:
            version = "0.0.0"
        name = "default_" + version.replace(".", "_")
        inputs = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{package}:")}
        inputs["version"] = version
        type_ = f"pulumi:providers:{package}"
        providers.append(Registration(f"urn:pulumi:{stack}::{project}::{type_}::{name}", type_, name, None, True, inputs))
    return providers


async def _execute(main: str) -> None:
    runpy.run_path(main, run_name="__main__")
    # Registrations the program just queued start only when the loop gets a turn. Giving it one here lets the
    # SDK's final wait drain them as RPCs; otherwise it polls every pending output, quadratic in stack size.
    await asyncio.sleep(0)


def _tree_order(regs: list[Registration], root: str) -> list[Registration]:
    """Parents before children, siblings by name: registrations arrive in whatever order the event loop ran
    them, and a preview must read the same twice."""
    children: dict[str, list[Registration]] = {}
    for reg in regs:
        children.setdefault(reg.parent or root, []).append(reg)
    ordered: list[Registration] = []
    pending = sorted(children.get(root, []), key=lambda r: (r.name, r.type), reverse=True)
    while pending:  # depth first, so each component's subtree stays together
        reg = pending.pop()
        ordered.append(reg)
        pending.extend(sorted(children.get(reg.urn, []), key=lambda r: (r.name, r.type), reverse=True))
    return ordered


def run_program(
    main: str,
    project: str,
    stack: str,
    config: dict[str, str],
    preview: bool = True,
    on_register: Callable[[int], None] | None = None,
    existing: dict[str, dict[str, Any]] | None = None,
) -> PreviewResult:
    """Run the program at `main` and return the graph it declared. Exceptions from the program propagate.

    `existing` answers the program's reads of existing resources (`Resource.get`), by resource id, with
    their state (camelCase). Reads it does not answer come back unknown, as for a resource not yet known.

    The program runs on a thread of its own, with its own event loop and context, as the language host runs it in a
    process of its own: the SDK walks the whole call stack at every resource registration (for its source position),
    so under a deep caller, a test runner say, each registration would cost in proportion to the caller's depth.
    """
    outcome: dict[str, Any] = {}

    def program() -> None:
        try:
            outcome["result"] = contextvars.Context().run(
                _run, main, project, stack, config, preview, on_register, existing or {})
        except BaseException as exc:  # noqa: BLE001 re-raised on the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=program, name=f"pulumi-program-{project}-{stack}", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome.pop("error")
    return outcome["result"]


def _run(main, project, stack, config, preview, on_register, existing) -> PreviewResult:
    region = config.get("aws:region") or config.get("gcp:region", "")
    monitor = RecordingMonitor(PreviewMocks(region, preview, existing, config.get("gcp:project", "")), on_register)
    logger = logging.getLogger(f"gpucluster.preview.{project}.{stack}")
    logger.propagate = False
    logger.setLevel(logging.INFO)  # as the CLI shows them: info and above (the root logger would drop info)
    handler = _DiagnosticsHandler()
    logger.handlers[:] = [handler]
    configure(
        pulumi_mocks.MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=pulumi_mocks.MockEngine(logger),
            project=project,
            stack=stack,
            dry_run=preview,
            organization="organization",
            callbacks=None,
            root_directory=None,
        )
    )
    pulumi.runtime.set_all_config(config)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    saved_path = list(sys.path)
    sys.path.insert(0, str(Path(main).parent))
    try:
        loop.run_until_complete(run_in_stack(lambda: _execute(main)))
    finally:
        sys.path[:] = saved_path
        asyncio.set_event_loop(None)
        loop.close()
    regs = monitor.registrations
    stack_reg, rest = regs[0], regs[1:]
    invokes = monitor.mocks.invokes
    providers = _default_providers(rest, invokes, config, project, stack)
    return PreviewResult(
        stack=stack,
        project=project,
        resources=[stack_reg, *providers, *_tree_order(rest, stack_reg.urn)],
        outputs=monitor.outputs.get(monitor.stack_urn, {}),
        component_outputs={urn: out for urn, out in monitor.outputs.items() if urn != monitor.stack_urn},
        diagnostics=handler.records,
        reads=monitor.reads,
        invokes=invokes,
    )
