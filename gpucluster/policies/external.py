"""A user's own CrossGuard policy pack, run offline against a preview as `pulumi preview --policy-pack DIR` runs it.

The pack is started the way the Pulumi CLI's language hosts start an analyzer plugin (pulumi/pulumi
`sdk/go/common/resource/plugin/analyzer_plugin.go`, and `RunPlugin` of `pulumi-language-python` and
`pulumi-language-nodejs`):

- Python (`runtime: python`): `python -u -m pulumi.policy ENGINE PACK_DIR` in the pack's virtual environment
  (`runtime.options.virtualenv`, created and filled from the pack's `requirements.txt` when missing, as `pulumi
  install` does; without the option, `python3` from PATH), with PULUMI_PROJECT, PULUMI_STACK, PULUMI_DRY_RUN,
  PULUMI_ORGANIZATION and PULUMI_CONFIG set from the stack.
- TypeScript or JavaScript (`runtime: nodejs`): `node <@pulumi/pulumi/cmd/run-policy-pack> ENGINE PACK_DIR` from
  the pack's own `node_modules` (installed with `npm ci` when missing), with the PULUMI_NODEJS_* variables; Node
  comes from the system.

The pack prints its port and serves the Analyzer gRPC service. This module plays the engine: it serves the Engine
service the pack logs to, then calls Handshake, ConfigureStack, GetAnalyzerInfo, Configure (the config reconciled
as the engine does it, `harness.reconcile_infos`), then per resource Remediate (only when a policy remediates)
and Analyze with the same requests the built-in packs get (`harness.AnalyzerRequests`), then AnalyzeStack.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi.runtime.proto import analyzer_pb2_grpc

from ..preview.engine import PreviewResult
from ..preview.services import EngineService, serve_engine
from .harness import WIRE_LEVELS, AnalyzerRequests, PolicyInfo, Violation, as_struct, reconcile_infos

START_SECONDS = 300  # a TypeScript pack is compiled when it starts
CALL_SECONDS = 300
INSTALL_SECONDS = 900
ORGANIZATION = "organization"  # what the CLI passes with a self-managed backend
_MESSAGE_BYTES = 512 * 1024 * 1024  # AnalyzeStack carries the whole stack


class PackError(Exception):
    """The pack cannot be read, installed or started, or it failed while analyzing; the message says which."""


@dataclass
class PackRun:
    """What one pack found: its name as configured (the folder's name), the name it reports, its policies."""

    name: str
    reported_name: str
    version: str
    policies: list[PolicyInfo]
    violations: list[Violation]
    effective: dict[str, tuple[Any, Any]]  # policy -> (EnforcementLevel, properties) it was configured with
    logs: list[str]


def _project(folder: Path) -> dict[str, Any]:
    file = folder / "PulumiPolicy.yaml"
    if not file.is_file():
        raise PackError(f"{folder}: not a policy pack (no PulumiPolicy.yaml)")
    try:
        project = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise PackError(f"{file}: not valid YAML: {exc}") from None
    runtime = project.get("runtime")
    if isinstance(runtime, str):
        runtime = {"name": runtime}
    if not isinstance(runtime, dict) or runtime.get("name") not in ("python", "nodejs"):
        raise PackError(f"{file}: runtime {runtime!r}: the offline preview runs packs whose runtime is python or nodejs")
    return {**project, "runtime": {"name": runtime["name"], "options": runtime.get("options") or {}}}


def _run(command: list[str], cwd: Path, what: str, log: Callable[[str], None]) -> None:
    log(f"  {what}: {' '.join(command)} (in {cwd})")
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PackError(f"{what} failed: {exc}") from None
    if done.returncode:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise PackError(f"{what} failed (exit code {done.returncode}):\n{tail}")


def _uv() -> str | None:
    """uv beside this interpreter (the project's environment has it) or on PATH; None without it."""
    beside = Path(sys.executable).with_name("uv")
    return str(beside) if beside.is_file() else shutil.which("uv")


def _python(folder: Path, program: Path, options: dict[str, Any], log) -> tuple[list[str], dict[str, str]]:
    virtualenv = options.get("virtualenv")
    if virtualenv:
        venv = (folder / virtualenv).resolve()
        python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if not python.exists():
            toolchain = options.get("toolchain", "pip")
            if toolchain != "pip":
                raise PackError(f"{folder}: the virtual environment {venv} does not exist, and the offline preview "
                                f"installs only with pip (toolchain is {toolchain}); create it first")
            base = shutil.which("python3") or sys.executable
            uv = _uv()
            # What the CLI does (venv, then pip), by uv when it is at hand: the same environment, several times faster.
            create = [uv, "venv", "--quiet", "--seed", "--python", base, str(venv)] if uv else [base, "-m", "venv", str(venv)]
            _run(create, folder, f"creating the pack's virtual environment {venv}", log)
            if (folder / "requirements.txt").is_file():
                install = [uv, "pip", "install", "--python", str(python)] if uv else [str(python), "-m", "pip", "install"]
                _run([*install, "--quiet", "-r", "requirements.txt"], folder, "installing the pack's requirements", log)
    else:
        found = shutil.which("python3") or shutil.which("python")
        if not found:
            raise PackError(f"{folder}: no python3 on PATH, and PulumiPolicy.yaml names no virtualenv")
        python = Path(found)
    return [str(python), "-u", "-m", "pulumi.policy"], {}


def _node(folder: Path, program: Path, options: dict[str, Any], log) -> tuple[list[str], dict[str, str]]:
    node = shutil.which("node")
    if not node:
        raise PackError(f"{folder}: a TypeScript or JavaScript pack needs Node.js (node) on PATH")
    if not (folder / "node_modules").is_dir():
        npm = shutil.which("npm")
        if not npm:
            raise PackError(f"{folder}: node_modules is missing and there is no npm on PATH to install it")
        verb = ["ci"] if (folder / "package-lock.json").is_file() else ["install"]
        _run([npm, *verb, "--no-audit", "--no-fund"], folder, f"installing the pack's packages (npm {verb[0]})", log)
    where = subprocess.run([node, "-e", "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/run-policy-pack'))"],
                           cwd=program, capture_output=True, text=True, timeout=60)
    if where.returncode:
        raise PackError(f"{folder}: @pulumi/pulumi/cmd/run-policy-pack is not installed; it looks like the pack's "
                        "dependencies are not installed: run npm install in it")
    env = {"PULUMI_NODEJS_TYPESCRIPT": "true"} if options.get("typescript", True) else {}
    if options.get("tsconfig"):
        env["PULUMI_NODEJS_TSCONFIG_PATH"] = str(options["tsconfig"])
    return [node, where.stdout.strip(), *str(options.get("nodeargs", "")).split()], env


@contextmanager
def _started(command: list[str], cwd: Path, env: dict[str, str], folder: Path) -> Iterator[int]:
    """The pack's process, until the block ends; yields the port it printed."""
    with tempfile.TemporaryFile(mode="w+") as stderr:
        try:
            process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        except OSError as exc:
            raise PackError(f"{folder}: could not start the pack: {exc}") from None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
        try:
            try:
                first = lines.get(timeout=START_SECONDS).strip()
            except queue.Empty:
                first = None
            if not first or not first.isdigit():
                process.kill()
                process.wait()
                stderr.seek(0)
                said = "\n".join(stderr.read().strip().splitlines()[-20:])
                why = "printed no port" if first is None or not first else f"printed {first!r} instead of a port"
                raise PackError(f"{folder}: the pack failed to start ({why}, exit code {process.poll()}):\n{said}")
            yield int(first)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def _environment(result: PreviewResult, stack_config: dict[str, str], extra: dict[str, str], node: bool) -> dict[str, str]:
    prefix = "PULUMI_NODEJS_" if node else "PULUMI_"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}  # nothing of ours leaks in
    env.update({f"{prefix}PROJECT": result.project, f"{prefix}STACK": result.stack, f"{prefix}DRY_RUN": "true",
                f"{prefix}ORGANIZATION": ORGANIZATION, "PULUMI_CONFIG": json.dumps(stack_config)})
    env.update(extra)
    return env


def _info(response: proto.AnalyzerInfo) -> list[PolicyInfo]:
    infos = []
    for policy in response.policies:
        schema = json_format.MessageToDict(policy.configSchema.properties) if policy.HasField("configSchema") else {}
        required = tuple(policy.configSchema.required) if policy.HasField("configSchema") else ()
        severity = proto.PolicySeverity.Name(policy.severity).lower() if policy.severity else None
        level = WIRE_LEVELS[policy.enforcementLevel]
        infos.append(PolicyInfo(policy.name, policy.description, level, schema, required,
                                policy.remediation_steps or None, None if severity == "unspecified" else severity))
    return infos


def _initial(response: proto.AnalyzerInfo) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    for name, config in response.initialConfig.items():
        value = json_format.MessageToDict(config.properties)
        if config.enforcementLevel or not value:
            value["enforcementLevel"] = WIRE_LEVELS[config.enforcementLevel]
        initial[name] = value
    return initial


def _call(folder: Path, what: str, method, request, engine: EngineService):
    try:
        return method(request, timeout=CALL_SECONDS)
    except grpc.RpcError as exc:
        logs = "\n".join(engine.logs[-10:])
        raise PackError(f"{folder}: {what} failed: {exc.details() if hasattr(exc, 'details') else exc}"
                        + (f"\nthe pack logged:\n{logs}" if logs else "")) from None


def run_pack(folder: Path, result: PreviewResult, user_config: dict[str, Any] | None,
             stack_config: dict[str, str] | None = None, log: Callable[[str], None] | None = None,
             requests: AnalyzerRequests | None = None) -> PackRun:
    """Start the pack in `folder`, analyze the preview with it, and stop it. `user_config` is the pack's policy
    config (Pulumi's --policy-pack-config shape); `stack_config` the stack's config values."""
    log = log or (lambda line: None)
    folder = folder.resolve()
    if not folder.is_dir():
        raise PackError(f"{folder}: no such policy pack folder")
    project = _project(folder)
    program = (folder / project.get("main", ".")).resolve()
    runtime = project["runtime"]
    node = runtime["name"] == "nodejs"
    log(f"policy pack {folder.name}: starting ({runtime['name']})")
    command, extra_env = (_node if node else _python)(folder, program, runtime["options"], log)
    requests = requests or AnalyzerRequests(result)
    with serve_engine(requests.stack_urn) as (engine, address):
        env = _environment(result, stack_config or {}, extra_env, node)
        with _started([*command, address, str(program)], program, env, folder) as port, \
                grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", _MESSAGE_BYTES),
                                                                    ("grpc.max_send_message_length", _MESSAGE_BYTES)]) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=60)
            except grpc.FutureTimeoutError:
                raise PackError(f"{folder}: the pack printed port {port} but does not answer on it") from None
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            # As the CLI: PulumiPolicy.yaml's version wins (a Python pack always reports 0.0.1 itself).
            version = str(project.get("version") or "")
            return _analyze(folder, stub, engine, address, result, stack_config or {}, user_config or {}, requests,
                            version, log)


def _analyze(folder, stub, engine, address, result, stack_config, user_config, requests, version, log) -> PackRun:
    try:
        stub.Handshake(proto.AnalyzerHandshakeRequest(engine_address=address, root_directory=str(folder),
                                                      program_directory=str(folder)), timeout=CALL_SECONDS)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNIMPLEMENTED:  # older packs do not implement it, as the engine allows
            raise PackError(f"{folder}: Handshake failed: {exc.details()}") from None
    try:
        stub.ConfigureStack(proto.AnalyzerStackConfigureRequest(
            stack=result.stack, project=result.project, organization=ORGANIZATION, dry_run=True,
            config=stack_config), timeout=CALL_SECONDS)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise PackError(f"{folder}: ConfigureStack failed: {exc.details()}") from None
    info = _call(folder, "GetAnalyzerInfo", stub.GetAnalyzerInfo, empty_pb2.Empty(), engine)
    version, initial = version or info.version, _initial(info)
    # A policy's own level is the one the pack sets, its initial config included (AWSGuard's `all: mandatory`), so
    # that a waiver is a level below what the pack's author chose.
    policies = _info(info)
    own = reconcile_infos(folder.name, version, policies, {}, initial)
    policies = [replace(p, level=own[p.name][0].value) for p in policies]
    effective = reconcile_infos(folder.name, version, policies, user_config, initial)
    _call(folder, "Configure", stub.Configure, proto.ConfigureAnalyzerRequest(policyConfig={
        name: proto.PolicyConfig(enforcementLevel=proto.EnforcementLevel.Value(level.value.upper()), properties=as_struct(props))
        for name, (level, props) in effective.items()}), engine)
    remediates = any(level.value == "remediate" for level, _ in effective.values())
    log(f"policy pack {folder.name} ({info.name} {version}): analyzing {len(requests.analyze)} resources")
    violations = []

    def found(diagnostics, urn):
        for diag in diagnostics:
            violations.append(Violation(pack=folder.name, policy=diag.policyName, resource=urn or (
                diag.urn if diag.urn in requests.urns else requests.stack_urn), message=diag.message,
                enforcement=WIRE_LEVELS[diag.enforcementLevel], severity=_severity(policies, diag.policyName)))

    for request in requests.analyze:
        if remediates:
            request = _remediated(folder, stub, engine, request, violations, policies)
        found(_call(folder, f"Analyze({request.urn})", stub.Analyze, request, engine).diagnostics, request.urn)
    found(_call(folder, "AnalyzeStack", stub.AnalyzeStack, requests.stack, engine).diagnostics, None)
    for line in engine.logs:
        log(f"  {folder.name}: {line}")
    return PackRun(folder.name, info.name, version, policies, violations, effective, engine.logs)


def _remediated(folder, stub, engine, request, violations, policies) -> proto.AnalyzeRequest:
    """Remediate before Analyze, as the engine does: each remediation's properties are what the resource is then
    analyzed (and would be created) with; each is reported as a `remediate` finding."""
    response = _call(folder, f"Remediate({request.urn})", stub.Remediate, request, engine)
    for remediation in response.remediations:
        if remediation.HasField("properties"):
            request = proto.AnalyzeRequest(type=request.type, properties=remediation.properties, urn=request.urn,
                                           name=request.name, options=request.options, provider=request.provider)
        message = remediation.diagnostic or f"{remediation.description}: the inputs were changed by the policy"
        violations.append(Violation(pack=folder.name, policy=remediation.policyName, resource=request.urn,
                                    message=message, enforcement="remediate",
                                    severity=_severity(policies, remediation.policyName)))
    return request


def _severity(policies: list[PolicyInfo], name: str) -> str | None:
    return next((p.severity for p in policies if p.name == name), None)
