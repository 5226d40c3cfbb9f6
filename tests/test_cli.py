"""The command line: exit codes and the schema."""

import json

from gpucluster import cli

from .helpers import ROOT


def test_schema_is_json_schema_of_the_spec(capsys, tmp_path):
    assert cli.main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["type"] == "object" and {"name", "cloud", "region", "zones", "pools", "tags"} <= set(schema["required"])
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


def test_missing_cluster_key_exits_2(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: gpucluster\nruntime: python\n")
    (tmp_path / "Pulumi.empty.yaml").write_text("config:\n  aws:region: us-east-1\n")
    assert cli.main(["preview", "empty", "--project", str(tmp_path)]) == 2
    assert "has no 'gpucluster:cluster'" in capsys.readouterr().err


def test_program_failure_exits_1(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: gpucluster\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("raise RuntimeError('boom')\n")
    spec = {"name": "x", "cloud": "aws", "region": "us-east-1", "zones": ["us-east-1a"],
            "pools": [{"name": "p", "instanceType": "g5.xlarge", "size": {"min": 0, "max": 1}}],
            "tags": {"owner": "o", "costCenter": "c", "project": "p"}}
    (tmp_path / "Pulumi.s.yaml").write_text(json.dumps({"config": {"gpucluster:cluster": spec}}))
    assert cli.main(["preview", "s", "--project", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "preview failed: RuntimeError: boom" in err and "Traceback" not in err


def test_catalog_listing(capsys):
    assert cli.main(["catalog", "--cloud", "aws"]) == 0
    out = capsys.readouterr().out
    assert "p5.48xlarge" in out and "32 EFA" in out and "a3-megagpu-8g" not in out
