"""`--policy-pack DIR`: a user's own CrossGuard packs, started as the Pulumi CLI starts them and spoken to over the
analyzer protocol: a Python pack built in a fresh virtual environment of its own, and Pulumi's published AWSGuard
pack (TypeScript, from npm) installed with its own `npm ci`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from gpucluster import cli
from gpucluster.policies import external

from .helpers import ROOT, remove_installed

PACKS = ROOT / "tests/fixtures/policy-packs"
USER_PROGRAM = ROOT / "tests/fixtures/user-program"
SARIF_SCHEMA = json.loads((ROOT / "tests/fixtures/sarif/sarif-schema-2.1.0.json").read_text())
TOPIC = "urn:pulumi:dev::research-platform::aws:sns/topic:Topic::alerts"
NOTEBOOK = "urn:pulumi:dev::research-platform::aws:ec2/instance:Instance::notebook"


def _copy(tmp: Path, name: str) -> Path:
    target = tmp / name
    shutil.copytree(PACKS / name, target, ignore=shutil.ignore_patterns("venv", "node_modules"))
    return target


def _program(tmp: Path, extra_config: dict | None = None) -> Path:
    """The user's own program (no cluster spec: it builds one in code and adds resources of its own)."""
    project = tmp / "program"
    shutil.copytree(USER_PROGRAM, project, dirs_exist_ok=True)
    (project / "Pulumi.yaml").write_text((USER_PROGRAM / "Pulumi.yaml").read_text() + f"main: {USER_PROGRAM}\n")
    stack = yaml.safe_load((USER_PROGRAM / "Pulumi.dev.yaml").read_text())
    stack["config"].update(extra_config or {})
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack))
    return project


def _preview(capsys, project: Path, *extra: str) -> tuple[int, dict | None, str]:
    code = cli.main(["preview", "dev", "--project", str(project), "--json", *extra])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else None), captured.err


def _found(document: dict, pack: str) -> dict[tuple[str, str], dict]:
    return {(p["policy"], p["resource"]): p for p in document["policies"] if p["pack"] == pack}


@pytest.fixture(scope="module")
def python_pack(tmp_path_factory) -> Iterator[Path]:
    """The Python pack, copied without a virtual environment: the first run creates `venv` and installs it."""
    pack = _copy(tmp_path_factory.mktemp("packs"), "research-rules")
    assert not (pack / "venv").exists()
    yield pack
    remove_installed(pack / "venv")


def test_a_python_pack_runs_in_its_own_fresh_virtual_environment(python_pack, tmp_path, capsys):
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"research-rules": {"notebook-instance-types": {"allowedTypes": ["g5.2xlarge"]}}}))
    code, document, err = _preview(capsys, _program(tmp_path), "--policy-pack", str(python_pack), "--policy-config", str(config))
    assert (python_pack / "venv/bin/python").exists()  # built from the pack's requirements.txt, as `pulumi install` does
    found = _found(document, "research-rules")
    # A mandatory resource policy, configured through the policy config under the pack's folder name.
    notebook = found[("notebook-instance-types", NOTEBOOK)]
    assert notebook["enforcement"] == "mandatory" and notebook["message"].endswith("is not one of g5.2xlarge")
    assert code == 1
    # Remediate runs before Analyze, and Analyze sees the remediated inputs: the topic now has tags, without an owner.
    assert found[("team-tag", TOPIC)]["enforcement"] == "remediate"
    assert found[("owner-tag", TOPIC)]["enforcement"] == "advisory"
    assert ("owner-tag", NOTEBOOK) not in found  # it has its owner tag
    # The stack policy ran (AnalyzeStack) and saw one group, within its default cap of 1.
    assert not any(policy == "node-group-cap" for policy, _ in found)


def test_the_stack_config_reaches_the_pack_as_under_the_cli(python_pack, tmp_path, capsys):
    code, document, _ = _preview(capsys, _program(tmp_path, {"research-platform:maxGroups": 0}), "--policy-pack", str(python_pack))
    cap = [p for p in document["policies"] if p["policy"] == "node-group-cap"]
    assert len(cap) == 1 and cap[0]["message"].endswith("1 node groups, more than 0")
    assert cap[0]["resource"].endswith("aws:autoscaling/group:Group::research-g6-asg")  # the URN the pack named
    assert cap[0]["enforcement"] == "advisory"  # the pack's default level


def test_a_user_pack_waiver_is_shown_and_the_config_is_validated(python_pack, tmp_path, capsys):
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"research-rules": {"notebook-instance-types": {"enforcementLevel": "advisory",
                                                                                 "allowedTypes": ["m5.large"]}}}))
    code, document, _ = _preview(capsys, _program(tmp_path), "--policy-pack", str(python_pack), "--policy-config", str(config))
    assert document["waivers"] == [{"pack": "research-rules", "policy": "notebook-instance-types", "default": "mandatory",
                                    "effective": "advisory", "source": f"--policy-config ({config})"}]
    assert _found(document, "research-rules")[("notebook-instance-types", NOTEBOOK)]["enforcement"] == "advisory"
    config.write_text(json.dumps({"research-rules": {"node-group-cap": {"maxGroups": "many"}}}))
    code, document, err = _preview(capsys, _program(tmp_path), "--policy-pack", str(python_pack), "--policy-config", str(config))
    assert code == 2 and document is None
    assert "validating policy config: research-rules 0.3.0  node-group-cap: maxGroups: 'many' is not of type 'integer'" in err
    config.write_text(json.dumps({"research-rules": {"no-such-policy": "mandatory"}}))
    assert _preview(capsys, _program(tmp_path), "--policy-pack", str(python_pack), "--policy-config", str(config))[0] == 2


def test_packs_that_cannot_run_are_refused_with_the_reason(python_pack, tmp_path, capsys):
    program = _program(tmp_path)
    code, _, err = _preview(capsys, program, "--policy-pack", str(tmp_path))
    assert code == 2 and "not a policy pack (no PulumiPolicy.yaml)" in err
    broken = tmp_path / "broken"
    shutil.copytree(python_pack, broken, ignore=shutil.ignore_patterns("venv"))  # it runs in the original's venv
    (broken / "PulumiPolicy.yaml").write_text((broken / "PulumiPolicy.yaml").read_text().replace("virtualenv: venv",
                                                                                                 f"virtualenv: {python_pack / 'venv'}"))
    (broken / "__main__.py").write_text("raise SystemExit('the pack refuses to start')\n")
    code, _, err = _preview(capsys, program, "--policy-pack", str(broken))
    assert code == 2 and "the pack failed to start (printed no port" in err and "the pack refuses to start" in err
    builtin_named = tmp_path / "cost"
    shutil.copytree(python_pack, builtin_named, symlinks=True, ignore=shutil.ignore_patterns("venv"))
    code, _, err = _preview(capsys, program, "--policy-pack", str(builtin_named))
    assert code == 2 and "share the folder name 'cost'" in err
    (builtin_named / "PulumiPolicy.yaml").write_text("runtime: dotnet\n")
    renamed = builtin_named.rename(tmp_path / "dotnet-pack")
    code, _, err = _preview(capsys, program, "--policy-pack", str(renamed))
    assert code == 2 and "runtime {'name': 'dotnet'}: the offline preview runs packs whose runtime is python or nodejs" in err


@pytest.mark.parametrize("uv", ["/opt/bin/uv", None], ids=["uv", "pip"])
def test_a_missing_pack_environment_is_made_as_the_cli_makes_it_by_uv_when_at_hand(monkeypatch, tmp_path, uv):
    """Without uv the environment is made exactly as the CLI makes it (venv, then pip); with uv, the same steps by uv.
    The commands are recorded, not run: the test above builds one for real."""
    (tmp_path / "requirements.txt").write_text("pulumi-policy\n")
    ran: list[list[str]] = []
    monkeypatch.setattr(external, "_uv", lambda: uv)
    monkeypatch.setattr(external, "_run", lambda command, cwd, what, log: ran.append(command))
    command, _ = external._python(tmp_path, tmp_path, {"virtualenv": "venv"}, log=lambda line: None)
    python = str(tmp_path / "venv/bin/python")
    if uv:
        assert ran == [[uv, "venv", "--quiet", "--seed", "--python", ran[0][5], str(tmp_path / "venv")],
                       [uv, "pip", "install", "--python", python, "--quiet", "-r", "requirements.txt"]]
    else:
        assert ran == [[ran[0][0], "-m", "venv", str(tmp_path / "venv")],
                       [python, "-m", "pip", "install", "--quiet", "-r", "requirements.txt"]]
    assert command == [python, "-u", "-m", "pulumi.policy"]


needs_node = pytest.mark.skipif(not (shutil.which("node") and shutil.which("npm")), reason="Node.js and npm are not on PATH")


@pytest.fixture(scope="module")
def awsguard(tmp_path_factory) -> Iterator[Path]:
    pack = _copy(tmp_path_factory.mktemp("packs"), "awsguard")
    yield pack
    remove_installed(pack / "node_modules")


@needs_node
def test_awsguard_runs_offline_and_flags_what_it_flags(awsguard, tmp_path, capsys):
    """Pulumi's AWSGuard (TypeScript) against an example stack: installed with its own `npm ci`, started through
    @pulumi/pulumi's policy-pack runner, every policy mandatory through the pack's initial config. It was written for
    pulumi-aws 4, whose buckets held their logging inline: our buckets log through separate BucketLogging resources,
    so its `s3-bucket-logging-enabled` flags each of them."""
    code = cli.main(["preview", "aws-p5-spot", "--project", str(ROOT), "--json", "--policy-pack", str(awsguard)])
    document = json.loads(capsys.readouterr().out)
    assert (awsguard / "node_modules/@pulumi/awsguard").is_dir()
    flagged = [p for p in document["policies"] if p["pack"] == "awsguard"]
    buckets = {p["resource"].rsplit("::", 1)[1] for p in flagged if p["policy"] == "s3-bucket-logging-enabled"}
    assert buckets == {"p5-spot-storage-datasets", "p5-spot-storage-checkpoints", "p5-spot-storage-logs"}
    assert all(p["enforcement"] == "mandatory" and p["message"].endswith("Bucket logging must be defined.") for p in flagged)
    assert code == 1


@needs_node
def test_ci_runs_user_packs_on_every_stack_and_a_waiver_reaches_the_typescript_pack(awsguard, python_pack, tmp_path):
    """`gpucluster ci` with both packs, AWSGuard's bucket-logging policy waived to advisory in the policy config: the
    findings stay in the report and in SARIF (as warnings, suppressed), and the run passes."""
    out = tmp_path / "out"
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"awsguard": {"s3-bucket-logging-enabled": "advisory"}}))
    code = cli.main(["ci", "aws-p5-train", "aws-p5-spot", "--project", str(ROOT), "--out", str(out), "--policy-config",
                     str(config), "--policy-pack", str(awsguard), "--policy-pack", str(python_pack)])
    assert code == 0
    assert "`awsguard/s3-bucket-logging-enabled`" in (out / "report.md").read_text()
    sarif = json.loads((out / "results.sarif").read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    rules = {rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert {"awsguard/s3-bucket-logging-enabled", "awsguard/ec2-instance-no-public-ip", "research-rules/node-group-cap",
            "cost/stack-budget"} <= rules
    results = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "awsguard/s3-bucket-logging-enabled"]
    assert len(results) == 3 and all(r["level"] == "warning" and r["suppressions"] for r in results)
    spot = json.loads((out / "aws-p5-spot.json").read_text())
    assert {(w["pack"], w["policy"], w["default"], w["effective"]) for w in spot["waivers"]} == {
        ("awsguard", "s3-bucket-logging-enabled", "mandatory", "advisory")}
