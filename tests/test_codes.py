"""Check codes: one registry (gpucluster/codes.py), every code used is in it, README.md lists it, and a stack can
skip an advisory check by its code, with a reason, while errors and unknown codes are refused."""

from __future__ import annotations

import json
import re
import typing

import pytest
import pydantic_core.core_schema

from gpucluster import cli
from gpucluster.codes import BEGIN, CODES, END, ERRORS, FORMAT, POLICIES, WARNINGS, readme_list
from gpucluster.policies import PACKS
from gpucluster.problems import SpecError, schema_code
from gpucluster.validate import load_spec

from .helpers import BASE_SPEC, ROOT, pool, spec_with
from .test_stackfile import PROJECT_YAML, VALID

SOURCES = [p for folder in ("gpucluster", "components") for p in (ROOT / folder).rglob("*.py")
           if p != ROOT / "gpucluster/codes.py"]
LITERAL = re.compile(r"""["'](GPC-[A-Z0-9-]+)["']""")
FABRIC_OFF = spec_with(pools=[pool(fabric="off")])
SKIP = {"code": "GPC-FABRIC-OFF", "reason": "single-node fine-tuning"}


def test_codes_are_well_formed_unique_and_titled():
    assert len(CODES) == len(ERRORS) + len(WARNINGS) + len(POLICIES)  # no code in two groups
    assert len({code for code, _ in POLICIES.values()}) == len(POLICIES)
    for code, title in CODES.items():
        assert FORMAT.match(code), code
        assert title.strip() and "\n" not in title, code


def test_every_code_in_the_source_is_registered_and_every_check_code_is_used():
    used = {code for path in SOURCES for code in LITERAL.findall(path.read_text())}
    assert used - CODES.keys() == set()
    schema = {schema_code(t) for t in typing.get_args(pydantic_core.core_schema.ErrorType)}
    assert (ERRORS.keys() | WARNINGS.keys()) - used - schema == set()  # a registered check that nothing raises


def test_every_pydantic_error_type_has_a_registered_code():
    for error_type in typing.get_args(pydantic_core.core_schema.ErrorType):
        assert schema_code(error_type) in ERRORS, error_type
    assert schema_code("missing") == "GPC-SCHEMA-MISSING" and schema_code("extra_forbidden") == "GPC-SCHEMA-EXTRA"
    assert schema_code("int_parsing") == "GPC-SCHEMA-TYPE" and schema_code("value_error") == "GPC-SCHEMA"


def test_every_built_in_policy_has_a_code():
    policies = {(key, policy.name) for key, pack in PACKS.items() for policy in pack.policies}
    assert policies == POLICIES.keys()


def test_the_readme_lists_every_code():
    text = (ROOT / "README.md").read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    listed = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert listed == readme_list(), "README.md's check codes differ from gpucluster/codes.py: paste codes.readme_list()"


def test_a_problem_shows_its_code_and_keeps_it_when_reworded():
    with pytest.raises(SpecError) as err:
        load_spec(spec_with(pools=[pool(size={"min": 3, "max": 1})]))
    [problem] = err.value.problems
    assert (problem.path, problem.code) == ("pools[0].size", "GPC-SIZE-ORDER")
    assert str(problem) == f"error: pools[0].size: [GPC-SIZE-ORDER] {problem.message}"
    assert "[GPC-SIZE-ORDER]" in str(err.value)


def test_a_skipped_warning_is_listed_with_its_reason_instead():
    assert [w.code for w in load_spec(FABRIC_OFF).warnings] == ["GPC-FABRIC-OFF"]
    checked = load_spec({**FABRIC_OFF, "skipChecks": [SKIP]})
    assert checked.warnings == []
    [skipped] = checked.skipped
    assert str(skipped) == "skipped: GPC-FABRIC-OFF on pools[0].fabric (reason: single-node fine-tuning)"
    assert skipped.as_dict()["applied"] and skipped.as_dict()["problems"][0]["code"] == "GPC-FABRIC-OFF"
    spec, warnings = checked  # as programs unpack it
    assert spec.skip_checks[0].reason == "single-node fine-tuning" and warnings == []


def test_a_skip_that_did_not_apply_says_so():
    [skipped] = load_spec({**BASE_SPEC, "skipChecks": [SKIP]}).skipped
    assert str(skipped) == "skipped: GPC-FABRIC-OFF: did not apply (reason: single-node fine-tuning)"
    assert skipped.as_dict() == {"code": "GPC-FABRIC-OFF", "reason": "single-node fine-tuning", "applied": False,
                                 "problems": []}


@pytest.mark.parametrize("code, refused_as, says", [
    ("GPC-FABRIC-ZONES", "GPC-SKIP-ERROR", "is an error, and errors cannot be skipped"),
    ("GPC-COST-BUDGET", "GPC-SKIP-ERROR", "is a policy finding: waive it in the policy config"),
    ("GPC-FABRIC-OF", "GPC-SKIP-UNKNOWN", "is not a check code; did you mean GPC-FABRIC-OFF"),
])
def test_skipping_an_error_or_an_unknown_code_is_refused(code, refused_as, says):
    with pytest.raises(SpecError) as err:
        load_spec({**FABRIC_OFF, "skipChecks": [{"code": code, "reason": "r"}]})
    [problem] = err.value.problems
    assert (problem.path, problem.code) == ("skipChecks[0].code", refused_as)
    assert f"'{code}'" in problem.message and says in problem.message
    assert "the advisory checks it can skip: GPC-FABRIC-OFF, GPC-KUBE-CHECKPOINT, GPC-SCRATCH-NO-DISKS" in problem.message


def test_skipping_a_check_twice_is_refused():
    with pytest.raises(SpecError) as err:
        load_spec({**FABRIC_OFF, "skipChecks": [SKIP, SKIP]})
    assert [(p.path, p.code) for p in err.value.problems] == [("skipChecks[1].code", "GPC-SKIP-DUPLICATE")]


SKIPPING_STACK = VALID.replace("        fabric: auto\n", "        fabric: off\n") + """\
    skipChecks:
      - {code: GPC-FABRIC-OFF, reason: single-node fine-tuning}
      - {code: GPC-SCRATCH-NO-DISKS, reason: no scratch yet}
"""


def _project(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text(PROJECT_YAML)  # the project's own program
    (tmp_path / "stacks" / "Pulumi.x.yaml").write_text(SKIPPING_STACK)
    return str(tmp_path)


def test_the_preview_shows_skipped_checks_in_text_and_json(tmp_path, capsys):
    project = _project(tmp_path)
    cli.main(["preview", "x", "--project", project])
    text = capsys.readouterr().out
    assert "info: skipped: GPC-FABRIC-OFF on pools[0].fabric (reason: single-node fine-tuning)" in text
    assert "info: skipped: GPC-SCRATCH-NO-DISKS: did not apply (reason: no scratch yet)" in text
    assert "warning:" not in text.split("Diagnostics:", 1)[1].split("Outputs:", 1)[0]
    cli.main(["preview", "x", "--project", project, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert [(s["code"], s["applied"]) for s in document["skippedChecks"]] == [("GPC-FABRIC-OFF", True),
                                                                               ("GPC-SCRATCH-NO-DISKS", False)]
    assert document["skippedChecks"][0]["problems"][0]["path"] == "pools[0].fabric"


def test_policy_findings_carry_their_code_in_text_json_and_sarif(capsys):
    project = str(ROOT)
    cli.main(["preview", "aws-p5-train", "--project", project, "--json"])
    findings = json.loads(capsys.readouterr().out)["policies"]
    assert findings and all(f["code"] == POLICIES[(f["pack"], f["policy"])][0] for f in findings)
    cli.main(["preview", "aws-p5-train", "--project", project])
    assert f"{findings[0]['pack']}/{findings[0]['policy']} [{findings[0]['code']}] on " in capsys.readouterr().out
    cli.main(["preview", "aws-p5-train", "--project", project, "--format", "sarif"])
    run = json.loads(capsys.readouterr().out)["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["cost/stack-budget"]["properties"]["code"] == "GPC-COST-BUDGET"
    assert {r["properties"]["code"] for r in run["results"]} == {f["code"] for f in findings}
