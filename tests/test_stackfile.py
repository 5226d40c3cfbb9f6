"""Stack and project files are read as the Pulumi CLI reads them."""

import json
from pathlib import Path

import pytest
import yaml

from gpucluster import cli
from gpucluster.preview import stackfile
from gpucluster.preview.stackfile import (
    MAX_FILE_BYTES,
    MAX_NODES,
    StackFileError,
    find_project,
    load_project,
    read_stack,
    stack_config,
)
from gpucluster.validate import load_spec


@pytest.fixture(autouse=True, params=["libyaml", "pyyaml"])
def parser(request, monkeypatch):
    """Every test here runs twice: parsed by libyaml (PyYAML has it here), and by PyYAML's own parser, which reads the
    files where PyYAML was built without it."""
    if request.param == "pyyaml":
        monkeypatch.setattr(stackfile, "_LibyamlParser", None)
    else:
        assert stackfile._LibyamlParser is not None
    return request.param


def make(tmp_path, stack_yaml: str, project_yaml: str = "name: demo\nruntime: python\nstackConfigDir: stacks\n"):
    (tmp_path / "stacks").mkdir(exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text(project_yaml)
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text(stack_yaml)
    return load_project(tmp_path)


def test_values_become_engine_strings(tmp_path):
    project = make(tmp_path, "config:\n  aws:region: eu-west-1\n  count: 3\n  flag: true\n  demo:obj: {a: [1, 2]}\n")
    config = stack_config(project, "dev")
    assert config == {"aws:region": "eu-west-1", "demo:count": "3", "demo:flag": "true", "demo:obj": json.dumps({"a": [1, 2]})}


def test_project_defaults_apply_and_stack_wins(tmp_path):
    project = make(
        tmp_path,
        "config:\n  size: big\n",
        "name: demo\nruntime: python\nstackConfigDir: stacks\nconfig:\n  size: {default: small}\n  zone: {value: a}\n",
    )
    assert stack_config(project, "dev") == {"demo:size": "big", "demo:zone": "a"}


def test_secrets_are_refused_with_a_reason(tmp_path):
    project = make(tmp_path, "config:\n  demo:token:\n    secure: v1:abc\n")
    with pytest.raises(StackFileError, match="demo:token is a secret; the offline preview cannot decrypt it"):
        stack_config(project, "dev")


def test_missing_stack_lists_the_ones_there(tmp_path):
    project = make(tmp_path, "config: {}\n")
    with pytest.raises(StackFileError, match=r"no stack 'prod'.*stacks here: dev"):
        stack_config(project, "prod")


def test_malformed_yaml_is_a_clear_error(tmp_path):
    project = make(tmp_path, "config: [unclosed\n")
    with pytest.raises(StackFileError, match="not valid YAML"):
        stack_config(project, "dev")


def test_project_is_found_from_a_subfolder(tmp_path):
    make(tmp_path, "config: {}\n")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    assert find_project(tmp_path / "deep" / "er").root == tmp_path.resolve()
    with pytest.raises(StackFileError, match="no Pulumi.yaml"):
        find_project(tmp_path.parent / "elsewhere-not-a-project")


# --- Through the CLI: every malformed file exits 2 naming the file and line, with no traceback. ---

ROOT = Path(__file__).resolve().parent.parent
PROJECT_YAML = f"name: gpucluster\nruntime: python\nmain: {ROOT}\nstackConfigDir: stacks\n"

# stacks/Pulumi.aws-p5-train.yaml, trimmed; the line numbers below are this text's.
VALID = """\
config:
  aws:region: us-east-1
  gpucluster:cluster:
    name: p5-train
    cloud: aws
    region: us-east-1
    zones: [us-east-1a]
    pools:
      - name: train
        instanceType: p5.48xlarge
        size: {min: 16, max: 16}
        fabric: auto
    tags:
      owner: ml-platform
      costCenter: cc-4711
      project: llm-pretrain
"""

CAPACITY_BLOCK = """\
        capacity:
          type: capacity-block
          reservationId: cr-0a1b2c3d4e5f60718
          blockStart: {start}
          blockEnd: 2026-12-15T11:30:00Z
"""


def run_cli(tmp_path, capsys, stack_yaml: str, project_yaml: str = PROJECT_YAML, command: str = "preview") -> tuple[int, str]:
    """Exit code and standard error of `gpucluster COMMAND x` on a project holding `stack_yaml` as stack x."""
    (tmp_path / "stacks").mkdir(exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text(project_yaml)
    (tmp_path / "stacks" / "Pulumi.x.yaml").write_text(stack_yaml)
    extra = ["--pack", "cost"] if command == "policy-config" else []
    code = cli.main([command, "x", "--project", str(tmp_path), *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def with_block(start: str) -> str:
    return VALID.replace("        fabric: auto\n", CAPACITY_BLOCK.format(start=start))


def test_unquoted_timestamp_that_is_no_date_names_the_field_and_line(tmp_path, capsys):
    code, err = run_cli(tmp_path, capsys, with_block("2026-13-01T11:30:00Z"))
    assert code == 2
    assert "Pulumi.x.yaml:15: pools[0].capacity.blockStart: " in err and "'2026-13-01T11:30:00Z'" in err


def test_unquoted_timestamps_are_strings_and_preview(tmp_path, capsys):
    code, err = run_cli(tmp_path, capsys, with_block("2026-12-01T11:30:00Z"))
    assert code in (0, 1) and "error:" not in err, err  # the preview ran (1 would be a mandatory policy)


def test_yaml_1_1_booleans_are_strings(tmp_path, capsys):
    project = make(tmp_path, "config:\n  a: on\n  b: yes\n  c: True\n  d: FALSE\n  e: 2026-12-01\n  f: 0x1F\n  g: 1e3\n  h: 0o17\n")
    assert stack_config(project, "dev") == {
        "demo:a": "on", "demo:b": "yes", "demo:c": "true", "demo:d": "false", "demo:e": "2026-12-01",
        "demo:f": "31", "demo:g": "1000.0", "demo:h": "15",
    }
    code, err = run_cli(tmp_path, capsys, VALID.replace("fabric: auto", "fabric: yes"))
    assert code == 2 and "Pulumi.x.yaml:12: pools[0].fabric: [GPC-SCHEMA-CHOICE] Input should be 'auto', 'on' or 'off' (got 'yes')" in err
    for fabric in ("on", "true"):  # `on` is the string; `true`, the boolean, reads as on
        code, err = run_cli(tmp_path, capsys, VALID.replace("fabric: auto", f"fabric: {fabric}"), command="policy-config")
        assert code == 0, err
        assert load_spec(json.loads(stack_config(load_project(tmp_path), "x")["gpucluster:cluster"]))[0].pools[0].fabric == "on"


@pytest.mark.parametrize(
    "stack_yaml, project_yaml, message",
    [
        ("config: [a, b]\n", PROJECT_YAML, "Pulumi.x.yaml:1: 'config' must be a mapping of key: value, not a list"),
        ("# a scalar\nconfig: 3\n", PROJECT_YAML, "Pulumi.x.yaml:2: 'config' must be a mapping of key: value, not 3"),
        ("- config\n", PROJECT_YAML, "Pulumi.x.yaml:1: expected a mapping with a 'config' key, not a list"),
        (VALID, "- name\n", "Pulumi.yaml:1: expected a mapping of project settings, not a list"),
        (VALID, PROJECT_YAML + "config: [a]\n", "Pulumi.yaml:5: 'config' must be a mapping of key: value, not a list"),
        (VALID, "runtime: python\nname: [a]\n", "Pulumi.yaml:2: 'name' must be a string, not a list"),
    ],
    ids=["config-list", "config-scalar", "stack-list", "project-list", "project-config-list", "project-name-list"],
)
def test_misshapen_files_name_file_and_line(tmp_path, capsys, stack_yaml, project_yaml, message):
    code, err = run_cli(tmp_path, capsys, stack_yaml, project_yaml)
    assert code == 2 and message in err


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcdefghijklmnopqrs", "bcdefghijklmnopqrst")
) + "config: {x: *t}\n"  # 10**20 nodes once expanded, from 1 KB; line 5 (e) is the first past 100,000


def test_alias_bomb_is_refused_without_expanding(tmp_path, capsys, monkeypatch):
    constructed, construct = [], yaml.constructor.BaseConstructor.construct_document
    monkeypatch.setattr(yaml.constructor.BaseConstructor, "construct_document",
                        lambda loader, node: constructed.append(loader.name) or construct(loader, node))
    assert len(BOMB) < 2000
    code, err = run_cli(tmp_path, capsys, BOMB)
    assert code == 2 and f"Pulumi.x.yaml:5: more than {MAX_NODES} YAML nodes once its aliases are expanded" in err
    assert [Path(name).name for name in constructed] == ["Pulumi.yaml"]  # the stack file was never constructed


def test_self_containing_alias_and_oversized_file_are_refused(tmp_path, capsys):
    code, err = run_cli(tmp_path, capsys, "config: &c\n  x: [*c]\n")
    assert code == 2 and "Pulumi.x.yaml:1: this value contains itself" in err
    code, err = run_cli(tmp_path, capsys, VALID + "#" * MAX_FILE_BYTES + "\n")
    assert code == 2 and f"Pulumi.x.yaml: larger than {MAX_FILE_BYTES // 2**20} MiB" in err


def test_repeated_key_warns_with_both_lines_and_the_last_wins(tmp_path, capsys):
    stack = VALID.replace("    zones: [us-east-1a]\n", "    zones: [us-east-1b]\n    zones: [us-east-1a]\n")
    code, err = run_cli(tmp_path, capsys, stack)
    assert code in (0, 1) and "error:" not in err, err  # the preview ran, with zone a
    assert "warning: " in err and "Pulumi.x.yaml:8: key 'zones' repeats line 7; the last one wins" in err
    values = stack_config(load_project(tmp_path), "x")
    assert json.loads(values["gpucluster:cluster"])["zones"] == ["us-east-1a"]


def test_other_value_types_reach_the_program_as_engine_strings(tmp_path, capsys):
    extra = "  gpucluster:count: 3\n  gpucluster:ratio: 0.5\n  gpucluster:nothing: null\n  gpucluster:nested: {a: [1, {b: 2}]}\n"
    code, err = run_cli(tmp_path, capsys, VALID + extra, command="policy-config")
    assert code == 0, err
    values = stack_config(load_project(tmp_path), "x")
    assert [values[f"gpucluster:{k}"] for k in ("count", "ratio", "nothing", "nested")] == ["3", "0.5", "null", '{"a": [1, {"b": 2}]}']


def test_lines_of_keys_inside_structured_values(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text(PROJECT_YAML)
    (tmp_path / "stacks" / "Pulumi.x.yaml").write_text(VALID)
    stack = read_stack(load_project(tmp_path), "x")
    assert stack.at("aws:region").endswith("Pulumi.x.yaml:2")
    assert stack.at("gpucluster:cluster", "pools[0].size").endswith("Pulumi.x.yaml:11")
    assert stack.at("gpucluster:cluster", "pools[0]").endswith("Pulumi.x.yaml:9")
    assert stack.at("gpucluster:cluster", "no.such.path").endswith("Pulumi.x.yaml")


def test_a_yaml_error_shows_its_line_with_a_caret_under_the_place(tmp_path, capsys):
    """libyaml's errors give a line and column only: the message is PyYAML's own, which shows the place."""
    code, err = run_cli(tmp_path, capsys, "config:\n  aws:region: us-east-1\n  a: b: c\n")
    assert code == 2
    assert "Pulumi.x.yaml: not valid YAML: mapping values are not allowed here" in err
    assert 'Pulumi.x.yaml", line 3, column 7:\n      a: b: c\n          ^' in err
