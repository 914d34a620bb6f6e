"""Renders the tables of docs/contracts.md from contract/pipeline.json, so the docs cannot drift from it.

    python3 contract/docs.py          rewrite the generated tables in docs/contracts.md
    python3 contract/docs.py --check  exit 1 if they differ from what the contract gives (the tests run this)

Each table stands between ``<!-- contract:NAME -->`` and ``<!-- /contract:NAME -->``; the prose around them is
written by hand. Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_FILE = ROOT / "contract" / "pipeline.json"
DOCS_FILE = ROOT / "docs" / "contracts.md"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _code(text: str) -> str:
    return f"`{text}`"


def _stages(c: dict) -> str:
    rows = []
    for name, s in c["stages"].items():
        command = f"{s['image']} {s['command']}" if s["command"] else s["image"]
        rows.append([_code(name), _code(c["names"]["image_prefix"] + "/" + s["image"]), _code(command),
                     ", ".join(s["options"]) or "-", _code(s["queue"])])  # fmt: skip
    return _table(["stage", "image", "command", "option groups", "queue"], rows)


def _layout(c: dict) -> str:
    writers = {k: n for n, s in c["stages"].items() for k in s["writes"]}
    readers: dict[str, list[str]] = {}
    for n, s in c["stages"].items():
        for k in s["reads"]:
            readers.setdefault(k, []).append(n)
    rows = [[_code(k), _code(p), writers.get(k, "-"), ", ".join(readers.get(k, [])) or "-"] for k, p in c["layout"].items()]
    return _table(["key", "path under the data folder", "written by", "read by"], rows)


def _raw_schema(c: dict) -> str:
    r = c["raw_schema"]
    rows = [[_code(r["id"]["name"]), "data.csv, target.csv", "string, unique, non-empty"]]
    rows += [[_code(f["name"]), "data.csv", f"{f['type']}{', empty = missing' if f['missing'] else ''}"] for f in r["features"]]
    rows.append([_code(r["target"]["name"]), "target.csv", " or ".join(map(str, r["target"]["values"]))])
    return _table(["column", "file", "values"], rows)


def _bounds(o: dict) -> str:
    if "enum" in o:
        return ", ".join(o["enum"])
    if o.get("enum_from"):
        return f"a key of {o['enum_from']}"
    if "pattern" in o:
        return f"`{o['pattern']}`"
    low = f"({o['exclusiveMinimum']}" if "exclusiveMinimum" in o else f"[{o['minimum']}" if "minimum" in o else "(-inf"
    high = f"{o['maximum']}]" if "maximum" in o else "inf)"
    return f"{low}, {high}"


def _options(c: dict) -> str:
    takers = {g: [n for n, s in c["stages"].items() if g in s["options"]] for g in c["options"]}
    rows = []
    for group, options in c["options"].items():
        for name, o in options.items():
            families = f" ({', '.join(o['families'])})" if "families" in o else ""
            rows.append([group, _code(name), _code("--" + name.replace("_", "-")), o["type"], _code(str(o["default"])),
                         _bounds(o), o["help"] + families, ", ".join(takers[group])])  # fmt: skip
    return _table(["group", "Param", "CLI option", "type", "default", "allowed", "meaning", "stages"], rows)


def _gate_metrics(c: dict) -> str:
    return _table(["metric", "better"], [[_code(m), g["better"]] for m, g in c["gate_metrics"].items()])


def _model_ref(c: dict) -> str:
    r = c["model_ref"]
    rows = [
        [_code(r["by_alias"]), f"name `{r['name']}`, alias `{r['alias']}`", _code(r["examples"]["by_alias"][0])],
        [_code(r["by_version"]), f"name `{r['name']}`, version `{r['version']}`", _code(r["examples"]["by_version"][0])],
        ["a folder", r["folder"], _code("models/2026-11-20")],
    ]
    return _table(["form", "grammar", "example"], rows)


TABLES = {
    "stages": _stages,
    "layout": _layout,
    "raw_schema": _raw_schema,
    "options": _options,
    "gate_metrics": _gate_metrics,
    "model_ref": _model_ref,
}


def render(docs: str, contract: dict) -> str:
    """``docs`` with every generated table replaced by what ``contract`` gives; a missing marker is an error."""
    for name, make in TABLES.items():
        pattern = re.compile(rf"(<!-- contract:{name} -->\n)(?:.*?\n)?(<!-- /contract:{name} -->)", re.S)
        if not pattern.search(docs):
            raise SystemExit(f"{DOCS_FILE}: no <!-- contract:{name} --> ... <!-- /contract:{name} --> block")
        docs = pattern.sub(lambda m, t=make(contract): m[1] + t + "\n" + m[2], docs)
    return docs


def main(argv: list[str]) -> int:
    contract = json.loads(CONTRACT_FILE.read_text(encoding="utf-8"))
    docs = DOCS_FILE.read_text(encoding="utf-8")
    rendered = render(docs, contract)
    if "--check" in argv:
        if rendered != docs:
            print(f"{DOCS_FILE}: tables differ from {CONTRACT_FILE.name}; run `make contract-docs`", file=sys.stderr)
            return 1
        return 0
    DOCS_FILE.write_text(rendered, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
