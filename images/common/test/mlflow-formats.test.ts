/**
 * What the client writes for MLflow to read: the MLmodel file of a model folder, the training data as a
 * dataset input, and the request that logs it. The texts are compared with what MLflow's Python writes for
 * the same model and data (mlflow 3.17.2: `Model.to_yaml()`, `mlflow.data.from_pandas(...).to_dict()`); the
 * integration suite has the real server and MLflow's own reader check them again.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CONTRACT,
  DATASET_CONTEXT_TAG,
  DATASET_DIGEST_MAX,
  FEATURES,
  ID,
  MLMODEL_FLAVOR,
  MLMODEL_MLFLOW_VERSION,
  MlflowClient,
  TARGET,
  mlmodelText,
  modelSignature,
  pythonJson,
  trainingDataset,
  type ColSpec,
} from "../src/index.ts";

const SHA = "3f2a9c0e5b7d41e8a6c2f09b8d3e7a51c4f6b2d8e0a9c7b5d3f1e2a4c6b8d0f2";

/** The value of one `key: '...'` line of an MLmodel, unquoted as YAML reads a single-quoted scalar. */
function quoted(text: string, key: string): string {
  const m = new RegExp(`^ *${key}: '(.*)'$`, "m").exec(text);
  if (!m) throw new Error(`no single-quoted "${key}" in:\n${text}`);
  return (m[1] as string).replaceAll("''", "'");
}

describe("the MLmodel file", () => {
  const fixed = {
    flavor: { family: "mlp", files: ["model.json", "weights.bin", "preprocess.json"], manifest: "manifest.json", loader: "@airflow-ml-dags/model loadModel" },
    columns: ["f00", "f01"],
    runId: "0123abcd",
    artifactPath: "model",
    modelSizeBytes: 5120,
    createdAt: new Date(Date.UTC(2026, 0, 5, 9, 30, 35, 723)),
    modelUuid: "233dc0ca3d024b95bb2debfe0c332b58",
  };

  it("is written as MLflow 3 writes it: sorted keys, block style, the signature's schemas as JSON texts", () => {
    // The same model through mlflow.models.Model(...).to_yaml() gives these lines, up to PyYAML folding the
    // long inputs line and leaving out the quotes around the run id and the uuid (which start with a digit).
    expect(mlmodelText(fixed)).to.equal(
      [
        "artifact_path: model",
        "flavors:",
        "  airflow_ml_dags:",
        "    family: mlp",
        "    files:",
        "    - model.json",
        "    - weights.bin",
        "    - preprocess.json",
        "    loader: '@airflow-ml-dags/model loadModel'",
        "    manifest: manifest.json",
        "is_signature_from_type_hint: false",
        `mlflow_version: ${MLMODEL_MLFLOW_VERSION}`,
        "model_id: null",
        "model_size_bytes: 5120",
        "model_uuid: '233dc0ca3d024b95bb2debfe0c332b58'",
        "prompts: null",
        "run_id: '0123abcd'",
        "signature:",
        `  inputs: '[{"type": "double", "name": "f00", "required": true}, {"type": "double", "name": "f01", "required": true}]'`,
        `  outputs: '[{"type": "double", "name": "probability", "required": true}]'`,
        "  params: null",
        "type_hint_from_example: false",
        "utc_time_created: '2026-01-05 09:30:35.723000'",
        "",
      ].join("\n"),
    );
  });

  it("has the contract's features as double inputs by default and the probability as output", () => {
    const text = mlmodelText({ flavor: { family: "tree", files: ["tree.json", "preprocess.json"] } });
    const inputs = JSON.parse(quoted(text, "inputs")) as ColSpec[];
    expect(inputs.map((c) => c.name)).to.deep.equal([...FEATURES]);
    expect(inputs.every((c) => c.type === "double" && c.required)).to.equal(true);
    expect(JSON.parse(quoted(text, "outputs"))).to.deep.equal([{ type: "double", name: "probability", required: true }]);
    expect(modelSignature().inputs).to.deep.equal(inputs);
    expect(text).to.match(new RegExp(`^flavors:\n  ${MLMODEL_FLAVOR}:\n    family: tree\n`, "m"));
  });

  it("names no run without one, and gets a fresh model_uuid and the current time otherwise", () => {
    const before = Date.now();
    const a = mlmodelText({ flavor: { family: "tree" } });
    const b = mlmodelText({ flavor: { family: "tree" } });
    expect(a).not.to.match(/^(run_id|artifact_path):/m);
    const uuid = (t: string) => /^model_uuid: '?([0-9a-f]{32})'?$/m.exec(t)?.[1];
    expect(uuid(a)).to.be.a("string");
    expect(uuid(a)).not.to.equal(uuid(b));
    const created = Date.parse(`${quoted(a, "utc_time_created").replace(" ", "T")}Z`);
    expect(created).to.be.within(before - 1, Date.now());
  });

  it("quotes every string a YAML reader could take for something else", () => {
    const text = mlmodelText({
      flavor: { yes: "no", it: "it's", version: "1.5", list: ["on", "2026-01-05", "plain.json"], odd: "tab\there" },
    });
    expect(text).to.contain("    'yes': 'no'\n");
    expect(text).to.contain("    it: 'it''s'\n");
    expect(text).to.contain("    version: '1.5'\n");
    expect(text).to.contain("    list:\n    - 'on'\n    - '2026-01-05'\n    - plain.json\n");
    expect(text).to.contain('    odd: "tab\\there"\n');
  });

  it("follows the MLflow release the tracking server runs", () => {
    const lock = readFileSync(new URL("../../../compose/mlflow/requirements.lock.txt", import.meta.url), "utf8");
    expect(/^mlflow==(\S+)$/m.exec(lock)?.[1]).to.equal(MLMODEL_MLFLOW_VERSION);
  });
});

describe("the training data as a dataset input", () => {
  const path = "/data/processed/2026-01-05/train.csv";
  const dataset = trainingDataset({ ds: "2026-01-05", path, sha256: SHA, rows: 1000 });

  it("is the entity mlflow.data.from_pandas writes: name, digest, local source, schema and profile as JSON texts", () => {
    expect(dataset).to.include({
      name: "train-2026-01-05",
      digest: SHA.slice(0, 32),
      sourceType: "local",
      source: '{"uri": "/data/processed/2026-01-05/train.csv"}',
    });
    expect(dataset.digest.length).to.be.at.most(DATASET_DIGEST_MAX);
    expect(dataset.tags).to.deep.equal({ [DATASET_CONTEXT_TAG]: "training" });
    expect(dataset.schema).to.match(
      /^\{"mlflow_colspec": \[\{"type": "string", "name": "id", "required": true\}, \{"type": "double", "name": "f00", "required": false\}, /,
    );
  });

  it("has the contract's columns: id, the features (optional where values may be missing), the target", () => {
    const schema = JSON.parse(dataset.schema as string) as { mlflow_colspec: ColSpec[] };
    expect(Object.keys(schema)).to.deep.equal(["mlflow_colspec"]);
    expect(schema.mlflow_colspec.map((c) => c.name)).to.deep.equal([ID, ...FEATURES, TARGET]);
    const byName = Object.fromEntries(schema.mlflow_colspec.map((c) => [c.name, c]));
    expect(byName[ID]).to.deep.equal({ type: "string", name: ID, required: true });
    expect(byName[TARGET]).to.deep.equal({ type: "long", name: TARGET, required: true });
    for (const f of CONTRACT.raw_schema.features) {
      expect(byName[f.name], f.name).to.deep.equal({ type: "double", name: f.name, required: !f.missing });
    }
    expect(JSON.parse(dataset.profile as string)).to.deep.equal({ num_rows: 1000, num_elements: 1000 * (FEATURES.length + 2) });
  });

  it("refuses a digest that is not a sha256", () => {
    expect(() => trainingDataset({ ds: "2026-01-05", path, sha256: "abc", rows: 1 })).to.throw(TypeError, "sha256");
  });

  it("writes JSON as Python's json.dumps does", () => {
    expect(pythonJson({ a: [1, "é€"], b: null, c: { d: true } })).to.equal('{"a": [1, "\\u00e9\\u20ac"], "b": null, "c": {"d": true}}');
    expect(pythonJson({ uri: '/data/a "b".csv' })).to.equal('{"uri": "/data/a \\"b\\".csv"}');
  });
});

describe("logging and reading dataset inputs (local HTTP stub)", () => {
  let server: Server;
  let uri = "";
  let requests: { method: string; url: string; body: unknown }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let text = "";
      req.on("data", (c: Buffer) => (text += c.toString()));
      req.on("end", () => {
        requests.push({ method: req.method ?? "", url: req.url ?? "", body: text ? JSON.parse(text) : undefined });
        res.writeHead(200, { "Content-Type": "application/json" });
        const run = {
          info: { run_id: "r1", experiment_id: "1", status: "RUNNING" },
          inputs: { dataset_inputs: [{ tags: [{ key: DATASET_CONTEXT_TAG, value: "training" }], dataset: wire }] },
        };
        res.end(JSON.stringify(req.url?.startsWith("/api/2.0/mlflow/runs/get") ? { run } : {}));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))));
  beforeEach(() => {
    requests = [];
  });

  const data = { ds: "2026-01-05", path: "/data/processed/2026-01-05/train.csv", sha256: SHA, rows: 10 };
  const expected = trainingDataset(data);
  const wire = {
    name: expected.name,
    digest: expected.digest,
    source_type: "local",
    source: expected.source,
    schema: expected.schema,
    profile: expected.profile,
  };

  it("sends runs/log-inputs with the dataset and its context tag", async () => {
    await new MlflowClient(uri).logTrainingData("r1", data);
    expect(requests).to.deep.equal([
      {
        method: "POST",
        url: "/api/2.0/mlflow/runs/log-inputs",
        body: { run_id: "r1", datasets: [{ tags: [{ key: "mlflow.data.context", value: "training" }], dataset: wire }] },
      },
    ]);
  });

  it("sends nothing for no datasets, and reads a run's dataset inputs back", async () => {
    const client = new MlflowClient(uri);
    await client.logInputs("r1", []);
    expect(requests).to.deep.equal([]);
    expect((await client.getRun("r1")).datasets).to.deep.equal([expected]);
  });
});
