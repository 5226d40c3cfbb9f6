"""A stack that lowers a policy shows it (text, JSON, SARIF), and an organisation can lock policies a stack
cannot lower."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gpucluster import cli
from gpucluster.policies.harness import PolicyConfigError
from gpucluster.policies.waivers import Layer, combine

from .helpers import BASE_SPEC, PROJECT


def _project(root: Path, policy: dict | None = None, region: str = "us-east-1") -> Path:
    (root / "stacks").mkdir()
    (root / "Pulumi.yaml").write_text(f"name: gpucluster\nruntime: python\nmain: {PROJECT.main}\nstackConfigDir: stacks\n")
    config = {"aws:region": region, "gpucluster:cluster": {**BASE_SPEC, "region": region, "zones": [f"{region}a"]}}
    if policy is not None:
        config["gpucluster:policy"] = policy
    (root / "stacks" / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": config}))
    return root


def _preview(root: Path, *extra: str) -> int:
    return cli.main(["preview", "dev", "--project", str(root), *extra])


def test_a_stack_waiver_is_printed_with_where_it_was_set(tmp_path, capsys):
    root = _project(tmp_path, {"sovereignty": {"allowed-regions": "disabled"}})
    assert _preview(root) == 0
    out = capsys.readouterr().out
    assert "Waivers: 1 policy runs below the pack's own level" in out
    assert "sovereignty/allowed-regions: mandatory -> disabled, set by gpucluster:policy (" in out
    assert "Pulumi.dev.yaml:" in out.split("allowed-regions: mandatory -> disabled")[1].splitlines()[0]


def test_waivers_are_in_the_json_and_the_sarif(tmp_path, capsys):
    root = _project(tmp_path, {"cost": {"all": "advisory"}})
    assert _preview(root, "--json", "--policy-config", str(_budget(tmp_path))) == 0  # over budget, but only advisory now
    doc = json.loads(capsys.readouterr().out)
    waived = {(w["pack"], w["policy"]): w for w in doc["waivers"]}
    assert waived[("cost", "stack-budget")]["effective"] == "advisory" and "('all')" in waived[("cost", "stack-budget")]["source"]
    assert any(v["policy"] == "stack-budget" and v["enforcement"] == "advisory" for v in doc["policies"])
    assert _preview(root, "--format", "sarif", "--policy-config", str(_budget(tmp_path))) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    overrides = {o["descriptor"]["id"]: o for o in run["invocations"][0]["ruleConfigurationOverrides"]}
    assert overrides["cost/stack-budget"]["configuration"] == {"enabled": True, "level": "warning"}
    budget = next(r for r in run["results"] if r["ruleId"] == "cost/stack-budget")
    assert budget["suppressions"][0]["status"] == "accepted" and "waived" in budget["suppressions"][0]["justification"]


def _budget(tmp_path: Path) -> Path:
    path = tmp_path / "budget.json"
    path.write_text(json.dumps({"cost": {"stack-budget": {"maxHourlyUsd": 1}}}))
    return path


def test_no_waiver_without_a_lowered_level(tmp_path, capsys):
    root = _project(tmp_path, {"cost": {"stack-budget": {"maxHourlyUsd": 10_000}}, "security": {"all": "mandatory"}})
    assert _preview(root, "--json") == 0
    assert json.loads(capsys.readouterr().out)["waivers"] == []


def test_an_organisation_lock_refuses_a_stack_that_sets_the_policy(tmp_path, capsys):
    org = tmp_path / "org.json"
    org.write_text(json.dumps({"sovereignty": {"allowed-regions": {"locked": True, "allowedRegions": ["us"]}}}))
    root = _project(tmp_path, {"sovereignty": {"allowed-regions": "disabled"}})
    assert _preview(root, "--org-policy-config", str(org)) == 2
    err = capsys.readouterr().err
    assert "sets sovereignty/allowed-regions, which the organisation's policy config locks" in err and "Traceback" not in err


def test_all_in_a_stack_passes_a_locked_policy_by(tmp_path, capsys, monkeypatch):
    org = tmp_path / "org.json"
    org.write_text(json.dumps({"sovereignty": {"allowed-regions": {"locked": True, "allowedRegions": ["eu-west-1"]}}}))
    monkeypatch.setenv(cli.ORG_POLICY_ENV, str(org))
    root = _project(tmp_path, {"sovereignty": {"all": "disabled"}})
    assert _preview(root, "--json") == 1  # us-east-1 is outside the organisation's regions, and stays mandatory
    doc = json.loads(capsys.readouterr().out)
    assert {v["policy"] for v in doc["policies"] if v["enforcement"] == "mandatory"} == {"allowed-regions"}
    assert ("sovereignty", "allowed-regions") not in {(w["pack"], w["policy"]) for w in doc["waivers"]}
    assert {(w["pack"], w["policy"]) for w in doc["waivers"]} >= {("sovereignty", "customer-managed-keys")}


def test_combine_refuses_a_lock_on_an_unknown_policy():
    with pytest.raises(PolicyConfigError, match="not a policy of these packs"):
        combine([Layer("organisation (org.json)", {"cost": {"no-such-policy": {"locked": True}}})])


def test_policy_config_command_prints_the_waivers_of_its_pack(tmp_path, capsys):
    root = _project(tmp_path, {"cost": {"stack-budget": "advisory"}})
    assert cli.main(["policy-config", "dev", "--pack", "cost", "--project", str(root)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["stack-budget"] == "advisory"
    assert "waiver: cost/stack-budget: mandatory -> advisory" in captured.err
