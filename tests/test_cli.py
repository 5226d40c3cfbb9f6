"""The command line: exit codes and the schema."""

import json

import pytest
from pydantic import ValidationError

from gpucluster import cli
from gpucluster.problems import MAX_QUOTE, Problem, from_validation_error
from gpucluster.spec import ClusterSpec

from .helpers import ROOT
from .test_stackfile import VALID, run_cli


def test_schema_is_json_schema_of_the_spec(capsys, tmp_path):
    assert cli.main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["type"] == "object" and {"name", "cloud", "region", "pools", "tags"} <= set(schema["required"])
    out = tmp_path / "schema.json"
    assert cli.main(["schema", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == schema


def test_usage_errors_exit_2(capsys):
    assert cli.main(["preview", "no-such-stack", "--project", str(ROOT)]) == 2
    assert "no stack 'no-such-stack'" in capsys.readouterr().err
    try:
        cli.main(["frobnicate"])
    except SystemExit as exc:
        assert exc.code == 2


def test_missing_cluster_key(tmp_path, capsys):
    """A stack without a cluster spec is previewed as the program it is; commands that work from the spec refuse it."""
    (tmp_path / "Pulumi.yaml").write_text("name: gpucluster\nruntime: python\n")
    (tmp_path / "Pulumi.empty.yaml").write_text("config:\n  aws:region: us-east-1\n")
    assert cli.main(["preview", "empty", "--project", str(tmp_path)]) == 2
    assert "no program to preview" in capsys.readouterr().err
    assert cli.main(["job-template", "empty", "--project", str(tmp_path)]) == 2
    assert "has no 'gpucluster:cluster'; `gpucluster job-template` works from a cluster spec" in capsys.readouterr().err
    (tmp_path / "__main__.py").write_text((ROOT / "__main__.py").read_text())  # the spec-driven program itself
    assert cli.main(["preview", "empty", "--project", str(tmp_path)]) == 1
    assert "stack config has no 'gpucluster:cluster'" in capsys.readouterr().err


def test_program_failure_exits_1(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: gpucluster\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("raise RuntimeError('boom')\n")
    spec = {"name": "x", "cloud": "aws", "region": "us-east-1", "zones": ["us-east-1a"],
            "pools": [{"name": "p", "instanceType": "g5.xlarge", "size": {"min": 0, "max": 1}}],
            "tags": {"owner": "o", "costCenter": "c", "project": "p"}}
    (tmp_path / "Pulumi.s.yaml").write_text(json.dumps({"config": {"aws:region": "us-east-1", "gpucluster:cluster": spec}}))
    assert cli.main(["preview", "s", "--project", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "preview failed: RuntimeError: boom" in err and "Traceback" not in err


def test_catalog_listing(capsys):
    assert cli.main(["catalog", "--cloud", "aws"]) == 0
    out = capsys.readouterr().out
    assert "p5.48xlarge" in out and "32 EFA" in out and "a3-megagpu-8g" not in out


def test_cluster_string_that_is_not_json_names_key_line_and_position(tmp_path, capsys):
    stack = 'config:\n  aws:region: us-east-1\n  gpucluster:cluster: "{name: x"\n'
    code, err = run_cli(tmp_path, capsys, stack)
    assert code == 2
    assert "Pulumi.x.yaml:3: gpucluster:cluster is a string, but not valid JSON: " in err
    assert "line 1 column 2 (char 1)" in err


@pytest.mark.parametrize("line, before, field", [(9, "- name: train", "pools[0].name"), (10, "instanceType: p5.48xlarge", "pools[0].instanceType")])
def test_5_mb_value_is_quoted_by_a_short_prefix(tmp_path, capsys, line, before, field):
    key = before.split(":")[0]
    code, err = run_cli(tmp_path, capsys, VALID.replace(before, f"{key}: {'a' * 5_000_000}"))
    assert code == 2
    assert f"Pulumi.x.yaml:{line}: {field}: " in err and "a'… (5000000 characters)" in err
    assert "a" * (MAX_QUOTE + 1) not in err and len(err) < 2000


def test_long_values_are_clipped_in_every_problem():
    with pytest.raises(ValidationError) as error:
        ClusterSpec.model_validate({"name": "x" * 500})
    [message] = [p.message for p in from_validation_error(error.value, ClusterSpec) if p.path == "name"]
    assert message.endswith(f"(got '{'x' * MAX_QUOTE}'… (500 characters))")
    # messages made by the catalog checks (gpucluster/validate.py) are clipped too
    problem = Problem("zones", f"none of {['z' * 500]} offers it", code="GPC-ZONES-OFFER")
    assert str(problem) == f"error: zones: [GPC-ZONES-OFFER] none of ['{'z' * MAX_QUOTE}'… (500 characters)] offers it"


GCP_REGION_LINE = next(n for n, line in enumerate((ROOT / "stacks" / "Pulumi.gcp-a3-ultra-eu.yaml").read_text().splitlines(), 1)
                       if "gcp:region:" in line)


@pytest.mark.parametrize(
    "stack, message",
    [
        (VALID.replace("aws:region: us-east-1", "aws:region: us-west-2"),
         "Pulumi.x.yaml:2: aws:region: [GPC-PROVIDER-REGION] 'us-west-2', but the cluster spec says region 'us-east-1'; set them equal"),
        (VALID.replace("  aws:region: us-east-1\n", ""), "Pulumi.x.yaml: aws:region: [GPC-PROVIDER-REGION] not set"),
        ((ROOT / "stacks" / "Pulumi.gcp-a3-ultra-eu.yaml").read_text().replace("gcp:region: europe-west4", "gcp:region: europe-west1"),
         f"Pulumi.x.yaml:{GCP_REGION_LINE}: gcp:region: [GPC-PROVIDER-REGION] 'europe-west1'"),
        ((ROOT / "stacks" / "Pulumi.gcp-a3-ultra-eu.yaml").read_text().replace("  gcp:project: my-training-project\n", ""),
         "Pulumi.x.yaml: gcp:project: [GPC-PROVIDER-PROJECT] not set"),
    ],
    ids=["aws-region-differs", "aws-region-missing", "gcp-region-differs", "gcp-project-missing"],
)
def test_provider_config_that_contradicts_the_spec_exits_2(tmp_path, capsys, stack, message):
    code, err = run_cli(tmp_path, capsys, stack)
    assert code == 2 and "nothing was run" in err and message in err


def test_a_program_of_the_users_own_gets_the_same_preview_cost_and_policies(capsys):
    """Components composed in code, next to resources gpucluster knows nothing about; no cluster spec in the config."""
    project = ROOT / "tests/fixtures/user-program"
    assert cli.main(["preview", "dev", "--project", str(project), "--json"]) == 1  # the untagged instance: mandatory
    document = json.loads(capsys.readouterr().out)
    types = {r["type"] for r in document["resources"]}
    assert {"gpucluster:aws:GpuCluster", "aws:autoscaling/group:Group", "aws:sns/topic:Topic", "aws:ec2/instance:Instance"} <= types
    assert document["resources"][0]["urn"] == "urn:pulumi:dev::research-platform::pulumi:pulumi:Stack::research-platform-dev"
    assert document["cost"]["pools"]["g6"]["gpus"]["max"] == 8  # the program's own config: nodes = 2
    unpriced = {u["type"] for u in document["cost"]["unpriced"]}
    assert {"aws:sns/topic:Topic", "aws:ec2/instance:Instance"} <= unpriced
    mandatory = [(p["policy"], p["resource"].rsplit("::", 1)[-1]) for p in document["policies"] if p["enforcement"] == "mandatory"]
    assert mandatory == [("cost-allocation-tags", "notebook")]
