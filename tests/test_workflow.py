"""`.github/workflows/preview.yml` is a valid workflow that runs what the README says, with the files `gpucluster ci`
writes; `.ci/run` runs the README's test command, which previews every example stack with every pack."""

from __future__ import annotations

import json
import re

import jsonschema
import yaml

from gpucluster.ci.report import MARKER
from gpucluster.preview.stackfile import _Loader  # YAML 1.2 as GitHub reads it: `on` stays a key, not `true`

from .helpers import ROOT

WORKFLOW = yaml.load((ROOT / ".github/workflows/preview.yml").read_text(), Loader=_Loader)


def steps(job: str) -> list[dict]:
    return WORKFLOW["jobs"][job]["steps"]


def test_the_workflow_fits_githubs_schema():
    schema = json.loads((ROOT / "tests/fixtures/github/github-workflows.json").read_text())
    jsonschema.Draft7Validator(schema).validate(WORKFLOW)
    assert list(WORKFLOW["on"]) == ["pull_request"]


def test_offline_job_runs_ci_posts_one_comment_and_uploads_sarif():
    offline = steps("offline")
    ci = next(s for s in offline if s.get("id") == "ci")
    assert re.search(r"gpucluster ci --base-ref \"origin/\$\{\{ github.base_ref \}\}\" --out gpucluster-ci", ci["run"])
    comment = next(s for s in offline if s.get("uses", "").startswith("actions/github-script"))
    script = comment["with"]["script"]
    assert MARKER in script and "updateComment" in script and "createComment" in script  # updated, not duplicated
    assert "gpucluster-ci/report.md" in script
    sarif = next(s for s in offline if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert sarif["with"]["sarif_file"] == "gpucluster-ci/results.sarif"
    assert WORKFLOW["jobs"]["offline"]["permissions"]["security-events"] == "write"
    assert next(s for s in offline if s.get("uses", "").startswith("actions/checkout"))["with"]["fetch-depth"] == 0


def test_pulumi_job_runs_the_real_preview_with_the_three_packs_only_when_configured():
    job = WORKFLOW["jobs"]["pulumi"]
    assert "vars.PULUMI_PREVIEW_STACKS" in job["if"]
    action = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert action["with"]["command"] == "preview"
    packs = action["with"]["policyPacks"].split()
    assert packs == ["policies/cost", "policies/sovereignty", "policies/security"]
    assert all((ROOT / pack / "PulumiPolicy.yaml").is_file() for pack in packs)
    assert len(action["with"]["policyPackConfigs"].split()) == len(packs)  # pairwise, as the action reads them


def test_ci_run_previews_every_stack_through_the_readme_test_command():
    assert "make test" in (ROOT / ".ci/run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    recipe = (ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    # The whole suite, with no selection: it holds the gate that previews every stack with every built-in pack.
    pytest_line = next(line for line in recipe.splitlines() if "-m pytest" in line)
    assert not re.search(r"\s(-k|-m|--deselect|--ignore)\b|\btests/", pytest_line.split("-m pytest", 1)[1])
    assert "def test_every_example_stack_passes_ci_with_every_pack" in (ROOT / "tests/test_ci.py").read_text()
