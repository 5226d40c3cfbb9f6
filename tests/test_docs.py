"""The spec's documented interface: every field and model of the schema has a description, and README.md's
"Spec reference" is what `gpucluster docs` generates from it (so the docs cannot drift from the spec)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from pydantic.alias_generators import to_camel

from gpucluster import cli, docs
from gpucluster.spec import ClusterSpec

from .helpers import ROOT

README = ROOT / "README.md"
# What `gpucluster schema` prints (cli.cmd_schema), minus its title.
SCHEMA = ClusterSpec.model_json_schema(by_alias=True)


def _properties(node: object, where: str = "ClusterSpec"):
    """(where, key, schema) of every property anywhere in the schema, nested ones included."""
    if isinstance(node, dict):
        for key, prop in (node.get("properties") or {}).items():
            yield where, key, prop
        for key, value in node.items():
            if key == "$defs":
                for name, model in value.items():
                    yield from _properties(model, name)
            elif key != "properties" or not isinstance(value, dict):
                yield from _properties(value, where)
            else:
                for name, prop in value.items():
                    yield from _properties(prop, f"{where}.{name}")
    elif isinstance(node, list):
        for value in node:
            yield from _properties(value, where)


def test_every_property_has_a_description():
    found = list(_properties(SCHEMA))
    assert len(found) >= 100
    missing = [f"{where}.{key}" for where, key, prop in found if not str(prop.get("description", "")).strip()]
    assert not missing, f"spec fields without a description (add Field(description=...) in gpucluster/spec.py): {missing}"


def test_every_model_has_a_description():
    models = {"ClusterSpec": SCHEMA, **SCHEMA["$defs"]}
    missing = [name for name, model in models.items() if not str(model.get("description", "")).strip()]
    assert not missing, f"spec models without a docstring: {missing}"


def test_the_readme_reference_is_what_the_schema_generates():
    text = README.read_text()
    found = docs.differences(docs.region(text), docs.render())
    assert not found, "README.md's spec reference differs; run `gpucluster docs --write README.md`:\n" + "\n".join(found)


def test_every_model_gets_a_table_the_spec_first():
    tables = docs.models(docs.spec_schema())
    assert [t.name for t in tables][0] == "ClusterSpec"
    assert {t.name for t in tables} == {"ClusterSpec", *SCHEMA["$defs"]}
    paths = {t.name: t.path for t in tables}
    assert paths["ClusterSpec"] == "gpucluster:cluster"
    assert paths["Pool"] == "pools[]" and paths["Capacity"] == "pools[].capacity"
    assert paths["RdmaSelectors"] == "kubernetes.rdma.selectors" and paths["Team"] == "kubernetes.teams[]"


def _headings(text: str) -> list[str]:
    fenced, headings = False, []
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"^#{1,6} ", line):
            headings.append(line.split(" ", 1)[1])
    return headings


def test_the_tables_links_lead_to_headings_and_no_anchor_is_taken_twice():
    text = README.read_text()
    anchors = [docs.slug(heading) for heading in _headings(text)]
    ours = {docs.slug(heading) for heading in _headings(docs.render())}
    assert not [a for a in ours if anchors.count(a) > 1], "a table's anchor is also another heading's"
    links = set(re.findall(r"\]\(#([^)]+)\)", docs.render()))
    assert links and links <= set(anchors)


def _row(table: str, key: str) -> list[str]:
    section = next(s for s in docs.render().split("\n#### ") if s.startswith(table))
    line = next(line for line in section.splitlines() if line.startswith(f"| `{key}` |"))
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_rows_read_as_a_user_writes_the_spec():
    assert _row("ClusterSpec", "pools")[:4] == ["`pools`", "list of [Pool](#pool-pools)", "n/a", "yes"]
    assert _row("ClusterSpec", "network")[1:4] == ["[Network](#network-network)",
                                                   "the defaults of [Network](#network-network)", "no"]
    assert _row("Pool", "fabric")[1:3] == ["`auto` \\| `on` \\| `off`", '`"auto"`']
    assert _row("Pool", "nodeSelector")[1:3] == ["map of string", "`{}`"]
    assert _row("Capacity", "fallback")[1].startswith("list of `reservation` \\|")
    assert _row("Capacity", "blockStart")[1:3] == ["string (date-time)", "`null`"]
    assert _row("Kubernetes", "teams")[1:3] == ["list of [Team](#team-kubernetesteams)", '`[{"name": "training"}]`']
    assert _row("Kubernetes", "version")[2] == '`"1.35"`'  # a string: YAML would read 1.35 as a number
    to = _row("Checkpoint", "to")[4]
    assert "&lt;cluster&gt;" in to and "<cluster>" not in to  # not read as an HTML tag


def test_every_default_in_the_tables_is_the_spec_default():
    """A key left out means what its table says: the defaults in the tables are the models' own."""
    schema = docs.spec_schema()
    for model in docs.models(schema):
        for key, prop in model.node.get("properties", {}).items():
            if "default" in prop:
                cls = _model_class(model.name)
                field = next(f for n, f in cls.model_fields.items() if to_camel(n) == key)
                expected = field.get_default(call_default_factory=True)
                dumped = json.loads(json.dumps(expected, default=lambda m: m.model_dump(mode="json", by_alias=True)))
                assert prop["default"] == dumped, (model.name, key)


def _model_class(name: str):
    from gpucluster import spec

    return getattr(spec, name)


def test_cli_prints_checks_and_writes_the_region(tmp_path, capsys):
    assert cli.main(["docs"]) == 0
    assert capsys.readouterr().out == docs.render()

    page = tmp_path / "README.md"
    page.write_text(f"# x\n\nbefore\n\n{docs.BEGIN}\nold\n{docs.END}\n\nafter\n")
    assert cli.main(["docs", "--check", str(page)]) == 1
    assert "run `gpucluster docs --write" in capsys.readouterr().err
    assert cli.main(["docs", "--write", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith(f"{docs.END}\n\nafter\n")
    assert docs.region(text) == docs.render()
    assert cli.main(["docs", "--check", str(page)]) == 0

    page.write_text(text.replace("| `maxRunHours` | number |", "| `maxRunHours` | integer |")
                    .replace("| `linkTypes` |", "| `linkType` |"))
    capsys.readouterr()
    assert cli.main(["docs", "--check", str(page)]) == 1
    err = capsys.readouterr().err
    assert "table Capacity (`pools[].capacity`): differs (maxRunHours)" in err
    assert "table RdmaSelectors (`kubernetes.rdma.selectors`): differs (+linkTypes, -linkType)" in err
    assert "table Pool" not in err


@pytest.mark.parametrize("content", ["no markers here\n", f"{docs.END}\n{docs.BEGIN}\n", f"{docs.BEGIN}\n{docs.BEGIN}\n{docs.END}\n"])
def test_a_file_without_one_region_is_a_usage_error(tmp_path, capsys, content):
    page = tmp_path / "README.md"
    page.write_text(content)
    assert cli.main(["docs", "--check", str(page)]) == 2
    assert cli.main(["docs", "--write", str(page)]) == 2
    assert page.read_text() == content
    assert cli.main(["docs", "--check", str(tmp_path / "absent.md")]) == 2


def test_check_and_write_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["docs", "--check", "README.md", "--write", "README.md"])
    assert exit_.value.code == 2


def test_the_generator_needs_no_pulumi():
    code = "import sys, gpucluster.docs as d; d.render(); print(sorted(m for m in sys.modules if m.startswith('pulumi')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
