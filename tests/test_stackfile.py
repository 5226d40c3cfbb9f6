"""Stack and project files are read as the Pulumi CLI reads them."""

import json

import pytest

from gpucluster.preview.stackfile import StackFileError, find_project, load_project, stack_config


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
