"""The pipeline contract against both sides: the file itself, the DAG side that reads it, the docs generated from
it, and (on the real images) the TypeScript side's command lines."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys

import pytest

from conftest import REPO

from airflow_ml_dags import contract

CONTRACT_FILE = REPO / "contract" / "pipeline.json"


def test_the_contract_is_valid_against_its_schema():
    import jsonschema

    schema = json.loads((REPO / "contract" / "pipeline.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(contract.CONTRACT)


def test_the_schema_refuses_what_it_should():
    import jsonschema

    schema = json.loads((REPO / "contract" / "pipeline.schema.json").read_text())
    broken = copy.deepcopy(contract.CONTRACT)
    broken["options"]["hyperparameters"]["epochs"].pop("default")
    with pytest.raises(jsonschema.ValidationError, match="'default' is a required property"):
        jsonschema.validate(broken, schema)
    broken = copy.deepcopy(contract.CONTRACT)
    broken["raw_schema"]["target"]["values"] = [0, 1, 2]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_references_inside_the_contract_resolve():
    c = contract.CONTRACT
    for name, stage in c["stages"].items():
        assert stage["image"] in c["images"], name
        for key in stage["reads"] + stage["writes"]:
            assert key in c["layout"], (name, key)
        for group in stage["options"]:
            assert group in c["options"], (name, group)
    assert c["window"]["param"] in c["options"]["window"]
    families = set(contract.option("family")["enum"])
    for name, spec in c["options"]["hyperparameters"].items():
        assert set(spec.get("families", families)) <= families, name
    names = [n for group in c["options"].values() for n in group]
    assert len(names) == len(set(names)), "an option name in two groups"
    for name in names:
        spec = contract.option(name)
        if "enum" in spec:
            assert spec["default"] in spec["enum"], name
        elif "pattern" in spec:
            assert re.fullmatch(spec["pattern"], spec["default"]), name
        else:
            low = spec.get("minimum", spec.get("exclusiveMinimum", float("-inf")))
            assert low <= spec["default"] <= spec.get("maximum", float("inf")), name


@pytest.mark.parametrize("example", contract.CONTRACT["window"]["examples"], ids=lambda e: f"{e['ds']}x{e['days']}")
def test_the_window_follows_the_contracts_examples(example):
    assert contract.window(example["ds"], example["days"]) == example["dates"]


def test_model_refs_follow_the_contracts_grammar():
    from airflow_ml_dags.model_refs import ModelRefError, RegistryRef, parse_model_ref

    examples = contract.CONTRACT["model_ref"]["examples"]
    for ref in examples["by_alias"]:
        parsed = parse_model_ref(ref)
        assert isinstance(parsed, RegistryRef) and parsed.alias and contract.by_alias(parsed.name, parsed.alias) == ref
    for ref in examples["by_version"]:
        parsed = parse_model_ref(ref)
        assert isinstance(parsed, RegistryRef) and parsed.version
        assert contract.by_version(parsed.name, parsed.version) == ref
    for ref in examples["malformed"]:
        with pytest.raises(ModelRefError):
            parse_model_ref(ref)


@pytest.mark.parametrize("dag_id", ["train_model", "predict"])
def test_the_params_are_the_contracts_options_of_the_dags_stages(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    groups = {g for t in dag.tasks if t.task_id in contract.STAGES for g in contract.STAGES[t.task_id]["options"]}
    declared = {n: contract.option(n) for g in groups for n in contract.OPTION_GROUPS[g]}
    assert set(dag.params) == set(declared)
    for name, spec in declared.items():
        param = dag.params.get_param(name)
        assert param.value == spec["default"], name
        for key in ("minimum", "maximum", "exclusiveMinimum", "enum"):
            assert param.schema.get(key) == spec.get(key), (name, key)
        assert param.description.startswith(spec["help"]), name


@pytest.mark.parametrize(
    ("dag_id", "task_id"),
    [("train_model", "prepare"), ("train_model", "split"), ("train_model", "train"), ("train_model", "validate"),
     ("predict", "predict")],
)  # fmt: skip
def test_each_task_passes_exactly_its_stages_options(dagbag, dag_id, task_id):
    task = dagbag.dags[dag_id].get_task(task_id)
    stage = contract.STAGES[task_id]
    passed = [a for a in task.command if a.startswith("--") and a not in ("--ds", "--data-dir", "--model", "--model-ref")]
    assert passed == [contract.cli_name(n) for g in stage["options"] for n in contract.OPTION_GROUPS[g]]
    assert task.command[0] == (stage["command"] or "--ds")
    assert task.image.split("/")[-1].split(":")[0] == stage["image"]


def test_the_docs_tables_are_generated_from_the_contract():
    run = subprocess.run([sys.executable, str(REPO / "contract" / "docs.py"), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_the_docs_check_fails_when_the_contract_changes(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "contract"))
    try:
        import docs
    finally:
        sys.path.pop(0)
    changed = copy.deepcopy(contract.CONTRACT)
    changed["options"]["hyperparameters"]["epochs"]["default"] = 21
    text = (REPO / "docs" / "contracts.md").read_text()
    assert docs.render(text, contract.CONTRACT) == text
    assert docs.render(text, changed) != text


# ---- the TypeScript side, as the built images run it ----------------------------------------------------------


def _help(image: str, command: str | None) -> str:
    args = ["docker", "run", "--rm", image, *([command] if command else []), "--help"]
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.mark.docker
@pytest.mark.parametrize("stage", ["prepare", "train", "validate", "predict"])
def test_each_image_takes_its_contract_options_with_the_contracts_defaults(images, stage):
    spec = contract.STAGES[stage]
    text = _help(images[spec["image"]], spec["command"])
    for group in spec["options"]:
        for name in contract.OPTION_GROUPS[group]:
            option = contract.option(name)
            line = next((ln for ln in text.splitlines() if ln.strip().startswith(contract.cli_name(name) + " ")), None)
            assert line is not None, f"{stage} --help lacks {contract.cli_name(name)}:\n{text}"
            assert option["help"] in line, line
            assert re.search(rf"\(default: {re.escape(str(option['default']))}\)$", line), line


@pytest.mark.docker
def test_the_images_refuse_a_hyperparameter_just_outside_the_contracts_bounds(images):
    for name in contract.OPTION_GROUPS["hyperparameters"]:
        spec = contract.option(name)
        if "maximum" not in spec:
            continue
        too_big = spec["maximum"] + 1
        run = subprocess.run(
            ["docker", "run", "--rm", images["train"], "--ds", "2026-11-20", contract.cli_name(name), str(too_big)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 2, (name, run.stderr)
        assert f"usage: {contract.cli_name(name)}: expected" in run.stderr, run.stderr
