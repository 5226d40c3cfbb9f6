"""Every config under tests/invalid/ is refused before anything runs, naming its field and the code of the check
that refuses it (codes stay when messages are reworded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gpucluster import cli
from gpucluster.codes import ERRORS
from gpucluster.problems import SpecError
from gpucluster.validate import load_spec

CORPUS = sorted(Path(__file__).parent.joinpath("invalid").glob("*.yaml"))


def _case(path: Path) -> tuple[dict, dict]:
    doc = yaml.safe_load(path.read_text())
    return doc["expect"], doc["cluster"]


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 25


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_refused_with_field_path_and_code(path):
    expect, cluster = _case(path)
    assert set(expect) == {"path", "code"} and expect["code"] in ERRORS, expect
    with pytest.raises(SpecError) as err:
        load_spec(cluster)
    at_path = [p for p in err.value.problems if p.path == expect["path"]]
    assert at_path, f"no problem at {expect['path']}; got {[str(p) for p in err.value.problems]}"
    assert expect["code"] in {p.code for p in at_path}, [str(p) for p in at_path]


def _write_project(root: Path, cluster: dict) -> None:
    (root / "stacks").mkdir()
    (root / "Pulumi.yaml").write_text("name: gpucluster\nruntime: python\nstackConfigDir: stacks\n")
    config = {"config": {"aws:region": cluster.get("region", "us-east-1"), "gpucluster:cluster": cluster}}
    (root / "stacks" / "Pulumi.bad.yaml").write_text(yaml.safe_dump(config))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_cli_exits_2_with_the_report_and_no_traceback(path, tmp_path, capsys):
    expect, cluster = _case(path)
    _write_project(tmp_path, cluster)
    assert cli.main(["preview", "bad", "--project", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing previewed
    assert "nothing was run" in captured.err and f"{expect['path']}: [{expect['code']}] " in captured.err
    assert "Traceback" not in captured.err


def test_installed_command_exits_2_without_traceback(tmp_path):
    _, cluster = _case(Path(__file__).parent / "invalid" / "mixed-fabric-layouts.yaml")
    cluster["pools"].append({"name": "train", "instanceType": "g5.xlarge", "size": {"min": 3, "max": 1}})
    _write_project(tmp_path, cluster)
    gpucluster = Path(sys.executable).parent / "gpucluster"
    run = subprocess.run([gpucluster, "preview", "bad", "--project", tmp_path], capture_output=True, text=True)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "pools[1].size: [GPC-SIZE-ORDER] min (3) is greater than max (1)" in run.stderr
    assert run.stdout == ""
