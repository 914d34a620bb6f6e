/**
 * The MLflow client against a real MLflow 3 server: a throw-away container of the project's MLflow image
 * (env MLFLOW_IMAGE), SQLite backend and served artifacts like the real deployment. Needs Docker and the
 * image built beforehand; it is never pulled.
 *
 * The retry tests use a tiny local HTTP server instead, because only it can answer 5xx on demand.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, relative, sep } from "node:path";
import { createHash } from "node:crypto";
import {
  DATASET_CONTEXT_TAG,
  FEATURES,
  ID,
  InputError,
  MLMODEL_FILE,
  MLMODEL_FLAVOR,
  MLMODEL_MLFLOW_VERSION,
  MlflowClient,
  MlflowError,
  TARGET,
  mlmodelText,
  parseModelUri,
  trainingDataset,
  type ColSpec,
} from "../../src/index.ts";
import { withTmp } from "../helpers.ts";
import { docker, startMlflowServer } from "./server.ts";

/** Every file below `dir` with its bytes, keyed by relative path with `/` separators. */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else out.set(relative(dir, full).split(sep).join("/"), await readFile(full));
    }
  };
  await walk(dir);
  return out;
}

async function writeTree(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, data] of Object.entries(files)) {
    const full = join(dir, ...path.split("/"));
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, data);
  }
}

/** A model-like folder: JSON, a binary weights file in a sub-folder, deeper nesting, odd names, an empty file. */
function modelFiles(seed: string): Record<string, string | Buffer> {
  return {
    "model.json": JSON.stringify({ format: "layers-model", seed }),
    "weights/group1-shard1of1.bin": randomBytes(300_000),
    "deep/a/b/c.txt": `nested ${seed}\n`,
    "notes été + more.txt": "unicode and spaces\n",
    "empty.txt": "",
  };
}

/** Runs `fn` and returns what it threw, failing if it did not throw. */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection, got a result");
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return port;
}

describe("MlflowClient against a real MLflow 3 server", function () {
  // Several round trips per test; this also holds when run without the package's mocha config.
  this.timeout(60_000);
  let container: string | undefined;
  let uri = "";
  let client: MlflowClient;
  const suffix = randomBytes(3).toString("hex");

  before(async function () {
    this.timeout(240_000);
    const server = await startMlflowServer({ label: "mlflow-client" });
    container = server.container;
    uri = server.uri;
    client = new MlflowClient(uri);
  });

  after(async function () {
    this.timeout(60_000);
    if (container) await docker("rm", "-f", container);
  });

  describe("experiments", () => {
    it("creates an experiment once and finds the same one afterwards", async () => {
      const name = `exp-${suffix}`;
      expect(await client.getExperimentByName(name)).to.equal(undefined);
      const first = await client.getOrCreateExperiment(name, { team: "ml" });
      const second = await client.getOrCreateExperiment(name);
      expect(second.experimentId).to.equal(first.experimentId);
      expect(second).to.include({ name, lifecycleStage: "active" });
      expect(second.tags).to.include({ team: "ml" });
      expect((await client.getExperimentByName(name))?.experimentId).to.equal(first.experimentId);
    });
  });

  describe("runs", () => {
    it("creates a run, logs params, per-step metrics and tags in batches, finishes it and reads it all back", async () => {
      const exp = await client.getOrCreateExperiment(`runs-${suffix}`);
      const run = await client.createRun(exp.experimentId, { name: "train-2024-01-01", tags: { ds: "2024-01-01" } });
      expect(run.info).to.include({ experimentId: exp.experimentId, runName: "train-2024-01-01", status: "RUNNING" });
      expect(run.info.artifactUri).to.match(new RegExp(`^mlflow-artifacts:/.*${run.info.runId}/artifacts$`));

      // 150 params and 1200 metric points exceed one log-batch request (100 params, 1000 entities).
      const params = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, i * 3]));
      const curve = Array.from({ length: 1200 }, (_, step) => ({ key: "curve", value: step / 7, step }));
      await client.logBatch(run.info.runId, {
        params: { ...params, lr: 0.01, shuffle: true },
        metrics: curve,
        tags: { stage: "train" },
      });
      const losses = [0.9, 0.5, 0.31, Number.NaN];
      for (const [epoch, loss] of losses.entries()) {
        await client.logMetrics(run.info.runId, { loss, epoch_seconds: epoch + 1 }, { step: epoch });
      }
      await client.setTags(run.info.runId, { stage: "evaluated" });

      const finished = await client.finishRun(run.info.runId, "FINISHED");
      expect(finished.status).to.equal("FINISHED");

      const back = await client.getRun(run.info.runId);
      expect(back.info.status).to.equal("FINISHED");
      expect(back.info.endTime).to.be.a("number");
      expect(Object.keys(back.params)).to.have.length(152);
      expect(back.params).to.include({ p0: "0", p149: "447", lr: "0.01", shuffle: "true" });
      expect(back.tags).to.include({ ds: "2024-01-01", stage: "evaluated", "mlflow.runName": "train-2024-01-01" });
      expect(back.metrics.curve).to.be.closeTo(1199 / 7, 1e-9);

      const loss = await client.getMetricHistory(run.info.runId, "loss");
      expect(loss.map((m) => m.step)).to.deep.equal([0, 1, 2, 3]);
      expect(loss.slice(0, 3).map((m) => m.value)).to.deep.equal([0.9, 0.5, 0.31]);
      expect(loss[3]?.value).to.be.NaN;
      const history = await client.getMetricHistory(run.info.runId, "curve");
      expect(history).to.have.length(1200);
      expect(history.map((m) => m.step)).to.deep.equal(curve.map((m) => m.step));
      expect(history.map((m) => m.value)).to.deep.equal(curve.map((m) => m.value));
    });

    it("marks a run FAILED", async () => {
      const exp = await client.getOrCreateExperiment(`runs-${suffix}`);
      const run = await client.createRun(exp.experimentId, { name: "broken" });
      await client.finishRun(run.info.runId, "FAILED");
      expect((await client.getRun(run.info.runId)).info.status).to.equal("FAILED");
    });

    it("reports a server refusal as an InputError naming the run, in one line", async () => {
      const exp = await client.getOrCreateExperiment(`runs-${suffix}`);
      const run = await client.createRun(exp.experimentId);
      await client.logParams(run.info.runId, { lr: 0.1 });
      // Params are write-once: the server refuses another value for the same key.
      const err = await rejection(() => client.logParams(run.info.runId, { lr: 0.2 }));
      expect(err).to.be.instanceOf(InputError);
      expect((err as InputError).file).to.equal(`runs:/${run.info.runId}`);
      expect((err as InputError).problem).to.match(/^MLflow runs\/log-batch failed: HTTP 400 INVALID_PARAMETER_VALUE: /);
      expect((err as InputError).problem).not.to.contain("\n");

      const missing = await rejection(() => client.getRun("0123456789abcdef0123456789abcdef"));
      expect(missing).to.be.instanceOf(MlflowError);
      expect(missing).to.include({
        file: "runs:/0123456789abcdef0123456789abcdef",
        code: "RESOURCE_DOES_NOT_EXIST",
        status: 404,
      });
    });
  });

  describe("artifacts", () => {
    it("uploads a nested folder, lists it and downloads identical bytes", async () => {
      const exp = await client.getOrCreateExperiment(`artifacts-${suffix}`);
      const run = await client.createRun(exp.experimentId);
      await withTmp(async (tmp) => {
        const src = join(tmp, "src");
        await writeTree(src, modelFiles("a"));
        const uploaded = await client.uploadArtifacts(run.info.runId, src, "model/v1");
        expect(uploaded).to.have.members(Object.keys(modelFiles("a")));

        const top = await client.listArtifacts(run.info.runId, "model/v1");
        expect(top.map((f) => `${f.path}${f.isDir ? "/" : ""}`)).to.have.members([
          "model.json",
          "weights/",
          "deep/",
          "notes été + more.txt",
          "empty.txt",
        ]);
        const all = await client.listArtifacts(run.info.runId, "model/v1", { recursive: true });
        expect(all.map((f) => f.path)).to.have.members(uploaded);
        expect(all.find((f) => f.path === "weights/group1-shard1of1.bin")?.size).to.equal(300_000);
        expect((await client.listArtifacts(run.info.runId)).map((f) => f.path)).to.deep.equal(["model"]);

        // A stale file in the target must disappear: the download replaces the folder as a whole.
        const dest = join(tmp, "dest");
        await writeTree(dest, { "stale.txt": "old" });
        const downloaded = await client.downloadArtifacts(run.info.runId, "model/v1", dest);
        expect(downloaded).to.have.members(uploaded);
        expect(await snapshot(dest)).to.deep.equal(await snapshot(src));
      });
    });

    it("refuses names MLflow would mangle, naming the local file, before uploading anything", async () => {
      const exp = await client.getOrCreateExperiment(`artifacts-${suffix}`);
      const run = await client.createRun(exp.experimentId);
      await withTmp(async (tmp) => {
        await writeTree(tmp, { "a.txt": "fine", "sub/b#1.txt": "hash" });
        const err = await rejection(() => client.uploadArtifacts(run.info.runId, tmp, "m"));
        expect(err).to.be.instanceOf(InputError);
        expect((err as InputError).file).to.equal(join(tmp, "sub/b#1.txt"));
        expect(await client.listArtifacts(run.info.runId)).to.deep.equal([]);
      });
    });

    it("reports a missing artifact folder and leaves no local folder behind", async () => {
      const exp = await client.getOrCreateExperiment(`artifacts-${suffix}`);
      const run = await client.createRun(exp.experimentId);
      await withTmp(async (tmp) => {
        const err = await rejection(() => client.downloadArtifacts(run.info.runId, "nothing/here", join(tmp, "out")));
        expect(err).to.be.instanceOf(InputError);
        expect(err).to.include({ file: `runs:/${run.info.runId}/nothing/here`, problem: "no artifacts found at this path" });
        expect(await readdir(tmp)).to.deep.equal([]);
      });
    });
  });

  describe("model registry with aliases", () => {
    it("registers two versions, tags them, moves an alias and downloads by models:/ reference", async () => {
      const name = `classifier-${suffix}`;
      const exp = await client.getOrCreateExperiment(`registry-${suffix}`);
      const first = await client.createRegisteredModelIfMissing(name, { description: "test model" });
      const again = await client.createRegisteredModelIfMissing(name);
      expect(again).to.deep.equal(first);
      expect(first).to.include({ name, description: "test model" });

      await withTmp(async (tmp) => {
        const runs: string[] = [];
        for (const seed of ["one", "two"]) {
          const run = await client.createRun(exp.experimentId, { name: `train-${seed}` });
          await writeTree(join(tmp, seed), modelFiles(seed));
          await client.uploadArtifacts(run.info.runId, join(tmp, seed), "model");
          await client.finishRun(run.info.runId);
          runs.push(run.info.runId);
        }
        const [run1, run2] = runs as [string, string];

        const v1 = await client.createModelVersion(name, run1, "model", { tags: { ds: "2024-01-01" } });
        const v2 = await client.createModelVersion(name, run2, "model", { description: "second" });
        expect([v1.version, v2.version]).to.deep.equal(["1", "2"]);
        expect(v1).to.include({ runId: run1, status: "READY" });
        expect(v1.tags).to.deep.equal({ ds: "2024-01-01" });

        // What the server stores and hands back for download: the run's served-artifacts folder.
        const downloadUri = await client.getModelVersionDownloadUri(name, 2);
        expect(downloadUri).to.match(new RegExp(`^mlflow-artifacts:/.+/${run2}/artifacts/model$`));
        expect(v2.source).to.equal(downloadUri);

        await client.setModelVersionTag(name, 2, "accuracy", "0.93");
        const read2 = await client.getModelVersion(name, "2");
        expect(read2.tags).to.deep.equal({ accuracy: "0.93" });
        expect(read2).to.include({ description: "second", runId: run2 });

        await client.setAlias(name, "production", 1);
        expect((await client.getModelVersionByAlias(name, "production")).version).to.equal("1");
        await client.setAlias(name, "production", 2);
        await client.setAlias(name, "previous", 1);
        const moved = await client.getModelVersionByAlias(name, "production");
        expect(moved.version).to.equal("2");
        expect(moved.aliases).to.deep.equal(["production"]);
        expect((await client.getRegisteredModel(name))?.aliases).to.deep.equal({ production: "2", previous: "1" });

        const byAlias = await client.downloadModel(`models:/${name}@production`, join(tmp, "prod"));
        expect(byAlias.version.version).to.equal("2");
        expect(byAlias.files).to.have.members(Object.keys(modelFiles("two")));
        expect(await snapshot(join(tmp, "prod"))).to.deep.equal(await snapshot(join(tmp, "two")));

        const byVersion = await client.downloadModel(`models:/${name}/1`, join(tmp, "v1"));
        expect(byVersion.version.runId).to.equal(run1);
        expect(await snapshot(join(tmp, "v1"))).to.deep.equal(await snapshot(join(tmp, "one")));
        // Same file names, different bytes: the two downloads really came from different versions.
        expect(await snapshot(join(tmp, "v1"))).not.to.deep.equal(await snapshot(join(tmp, "prod")));

        await client.deleteAlias(name, "previous");
        const gone = await rejection(() => client.getModelVersionByAlias(name, "previous"));
        expect(gone).to.include({ file: `models:/${name}@previous`, problem: 'no version has alias "previous"' });
      });
    });

    it("refuses to register a version from an empty artifact folder", async () => {
      const name = `empty-${suffix}`;
      const exp = await client.getOrCreateExperiment(`registry-${suffix}`);
      await client.createRegisteredModelIfMissing(name);
      const run = await client.createRun(exp.experimentId);
      const err = await rejection(() => client.createModelVersion(name, run.info.runId, "model"));
      expect(err).to.be.instanceOf(InputError);
      expect((err as InputError).file).to.equal(`runs:/${run.info.runId}/model`);
      expect(await client.getRegisteredModel(name)).to.deep.include({ aliases: {} });
    });

    it("reports a missing alias and a missing model in one clear line, downloading nothing", async () => {
      const name = `lonely-${suffix}`;
      await client.createRegisteredModelIfMissing(name);
      await withTmp(async (tmp) => {
        const dest = join(tmp, "model");
        const err = await rejection(() => client.downloadModel(`models:/${name}@production`, dest));
        expect(err).to.be.instanceOf(InputError);
        expect((err as Error).message).to.equal(`models:/${name}@production: no version has alias "production"`);
        await stat(dest).then(
          () => expect.fail(`${dest} should not exist`),
          (e: NodeJS.ErrnoException) => expect(e.code).to.equal("ENOENT"),
        );
      });
      const noModel = await rejection(() => client.resolveModel(`models:/absent-${suffix}@production`));
      expect((noModel as Error).message).to.equal(
        `models:/absent-${suffix}@production: registered model "absent-${suffix}" does not exist`,
      );
      const noVersion = await rejection(() => client.resolveModel(`models:/${name}/7`));
      expect(noVersion).to.include({ file: `models:/${name}/7`, code: "RESOURCE_DOES_NOT_EXIST" });
    });
  });

  describe("what the MLflow UI shows: the run's dataset, the version's schema", () => {
    /** Runs Python in the server's container, with MLflow's own client pointed at the server; returns its JSON. */
    async function mlflowPython(code: string): Promise<Record<string, unknown>> {
      const out = await docker("exec", "-e", "MLFLOW_TRACKING_URI=http://127.0.0.1:5000", container as string, "python", "-c", code);
      return JSON.parse(out.split("\n").pop() as string);
    }

    it("logs the training data as the run's dataset input, once however often it is logged", async () => {
      const exp = await client.getOrCreateExperiment(`datasets-${suffix}`);
      const run = await client.createRun(exp.experimentId, { name: "train-2026-01-05" });
      const sha256 = createHash("sha256").update("id,f00\n").digest("hex");
      const data = { ds: "2026-01-05", path: "/data/processed/2026-01-05/train.csv", sha256, rows: 1234 };
      await client.logTrainingData(run.info.runId, data);
      await client.logTrainingData(run.info.runId, data);

      // What the UI reads: runs/get's inputs.dataset_inputs.
      const res = await fetch(`${uri}/api/2.0/mlflow/runs/get?run_id=${run.info.runId}`);
      const body = (await res.json()) as { run: { inputs: { dataset_inputs: { tags: unknown; dataset: Record<string, string> }[] } } };
      const inputs = body.run.inputs.dataset_inputs;
      expect(inputs).to.have.length(1);
      expect(inputs[0]?.tags).to.deep.equal([{ key: DATASET_CONTEXT_TAG, value: "training" }]);
      expect(inputs[0]?.dataset).to.include({
        name: "train-2026-01-05",
        digest: sha256.slice(0, 32),
        source_type: "local",
        source: '{"uri": "/data/processed/2026-01-05/train.csv"}',
      });
      const schema = JSON.parse(inputs[0]?.dataset.schema as string) as { mlflow_colspec: ColSpec[] };
      expect(schema.mlflow_colspec.map((c) => c.name)).to.deep.equal([ID, ...FEATURES, TARGET]);
      expect(JSON.parse(inputs[0]?.dataset.profile as string)).to.deep.equal({ num_rows: 1234, num_elements: 1234 * (FEATURES.length + 2) });
      expect((await client.getRun(run.info.runId)).datasets).to.deep.equal([trainingDataset(data)]);

      // MLflow's own reader takes the schema and the source as its pandas datasets write them.
      const read = await mlflowPython(`
import json, mlflow
from mlflow.types import Schema
inputs = mlflow.MlflowClient().get_run("${run.info.runId}").inputs.dataset_inputs
d = inputs[0].dataset
schema = Schema.from_json(json.dumps(json.loads(d.schema)["mlflow_colspec"]))
print(json.dumps({"inputs": len(inputs), "columns": schema.input_names(), "types": [t.name for t in schema.input_types()],
  "optional": [c.name for c in schema.inputs if not c.required], "source": mlflow.data.get_source(d).to_dict()}))`);
      expect(read).to.deep.equal({
        inputs: 1,
        columns: [ID, ...FEATURES, TARGET],
        types: ["string", ...FEATURES.map(() => "double"), "long"],
        optional: [...FEATURES],
        source: { uri: "/data/processed/2026-01-05/train.csv" },
      });
    });

    it("serves a registered version's MLmodel as the UI asks for it, and MLflow reads its signature", async () => {
      const name = `schema-${suffix}`;
      const exp = await client.getOrCreateExperiment(`registry-${suffix}`);
      const run = await client.createRun(exp.experimentId, { name: "train-2026-01-05" });
      const flavor = { family: "tree", files: ["tree.json", "preprocess.json"], manifest: "manifest.json" };
      const text = mlmodelText({ flavor, runId: run.info.runId, artifactPath: "model", modelSizeBytes: 42 });
      await withTmp(async (tmp) => {
        await writeTree(join(tmp, "model"), { "tree.json": "{}", "preprocess.json": "{}", "manifest.json": "{}", [MLMODEL_FILE]: text });
        await client.uploadArtifacts(run.info.runId, join(tmp, "model"), "model");
        await client.finishRun(run.info.runId);
        await client.createRegisteredModelIfMissing(name);
        const version = await client.createModelVersion(name, run.info.runId, "model");

        // The model version page fetches this (ajax-api/2.0/mlflow/… in the UI; the server serves both roots).
        const query = `path=${MLMODEL_FILE}&name=${encodeURIComponent(name)}&version=${version.version}`;
        const served = await fetch(`${uri}/model-versions/get-artifact?${query}`);
        expect(served.status).to.equal(200);
        expect(await served.text()).to.equal(text);
        const downloaded = await client.downloadModel(`models:/${name}/${version.version}`, join(tmp, "back"));
        expect(downloaded.files).to.include(MLMODEL_FILE);
        expect(await readFile(join(tmp, "back", MLMODEL_FILE), "utf8")).to.equal(text);
      });

      const info = await mlflowPython(`
import json
from mlflow.models import get_model_info
i = get_model_info("models:/${name}/1")
print(json.dumps({"inputs": i.signature.inputs.to_dict(), "outputs": i.signature.outputs.to_dict(), "params": i.signature.params,
  "flavors": i.flavors, "run_id": i.run_id, "artifact_path": i.artifact_path, "mlflow_version": i.mlflow_version}))`);
      expect(info).to.deep.equal({
        inputs: FEATURES.map((f) => ({ type: "double", name: f, required: true })),
        outputs: [{ type: "double", name: "probability", required: true }],
        params: null,
        flavors: { [MLMODEL_FLAVOR]: flavor },
        run_id: run.info.runId,
        artifact_path: "model",
        mlflow_version: MLMODEL_MLFLOW_VERSION,
      });
    });
  });

  it("reads MLFLOW_TRACKING_URI and refuses to start without it", async () => {
    const fromEnv = MlflowClient.fromEnv({ MLFLOW_TRACKING_URI: `${uri}/` });
    expect(fromEnv.trackingUri).to.equal(uri);
    await fromEnv.checkHealth();
    const err = await rejection(async () => MlflowClient.fromEnv({}));
    expect(err).to.include({ file: "MLFLOW_TRACKING_URI" });
  });
});

describe("MlflowClient without a server", () => {
  it("reports an unreachable server as an InputError naming the tracking URI", async () => {
    const uri = `http://127.0.0.1:${await closedPort()}`;
    // Default options: three tries with the default backoff still answer in well under a second.
    const client = new MlflowClient(uri);
    const err = await rejection(() => client.getOrCreateExperiment("anything"));
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.equal(`${uri}: MLflow unreachable at ${uri} (ECONNREFUSED)`);
  });

  it("names the models:/ reference when the server is unreachable during a model download", async () => {
    const uri = `http://127.0.0.1:${await closedPort()}`;
    const client = new MlflowClient(uri, { backoffMs: 20 });
    await withTmp(async (tmp) => {
      const err = await rejection(() => client.downloadModel("models:/airflow-ml-dags-classifier@production", join(tmp, "m")));
      expect(err).to.include({
        file: "models:/airflow-ml-dags-classifier@production",
        problem: `MLflow unreachable at ${uri} (ECONNREFUSED)`,
      });
    });
  });

  it("parses models:/ references and refuses stages and malformed ones", () => {
    expect(parseModelUri("models:/clf@production")).to.deep.equal({
      uri: "models:/clf@production",
      name: "clf",
      alias: "production",
    });
    expect(parseModelUri("models:/clf/12")).to.deep.equal({ uri: "models:/clf/12", name: "clf", version: "12" });
    // The contract's grammar (contract/pipeline.json model_ref) keeps "@" out of names: "a@b@champion" is malformed.
    const bad = ["models:/clf/Production", "models:/clf/latest", "models:/clf", "models:/clf@", "models:/clf/0", "models:/a@b@champion"];
    bad.push("runs:/abc/model", "clf@production");
    for (const ref of bad) {
      const err = (() => {
        try {
          parseModelUri(ref);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, ref).to.be.instanceOf(InputError);
      expect(err, ref).to.include({ file: ref });
    }
  });

  it("refuses a tracking URI that is not http(s)", () => {
    expect(() => new MlflowClient("file:///tmp/mlruns")).to.throw(InputError, "only http(s)");
    expect(() => new MlflowClient("mlflow:5000/")).to.throw(InputError);
    expect(() => new MlflowClient("http://user:secret@mlflow:5000"))
      .to.throw(InputError, "credentials")
      .with.property("message")
      .that.does.not.contain("secret");
  });
});

describe("MlflowClient retries (local HTTP stub, because only it answers 5xx on demand)", () => {
  let server: Server;
  let uri = "";
  let hits: string[] = [];
  let answer: (req: IncomingMessage, res: ServerResponse, n: number) => void = () => {};

  before(async () => {
    server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url?.split("?")[0]}`);
      req.resume();
      req.on("end", () => answer(req, res, hits.length));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))));
  beforeEach(() => {
    hits = [];
  });

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(JSON.stringify(body));
  };

  it("retries a read after 5xx answers and returns the eventual result", async () => {
    answer = (_req, res, n) =>
      n < 3
        ? json(res, 500, { error_code: "INTERNAL_ERROR", message: "database is locked" })
        : json(res, 200, { run: { info: { run_id: "r1", experiment_id: "1", status: "FINISHED" } } });
    const run = await new MlflowClient(uri, { backoffMs: 5 }).getRun("r1");
    expect(run.info).to.include({ runId: "r1", status: "FINISHED" });
    expect(hits).to.deep.equal(Array(3).fill("GET /api/2.0/mlflow/runs/get"));
  });

  it("gives up after the bounded number of tries with the server's message", async () => {
    answer = (_req, res) => json(res, 502, { error_code: "TEMPORARILY_UNAVAILABLE", message: "upstream\nbroken" });
    const err = await rejection(() => new MlflowClient(uri, { backoffMs: 5 }).getRun("r1"));
    expect(hits).to.have.length(3);
    expect(err).to.include({
      file: "runs:/r1",
      problem: "MLflow runs/get failed: HTTP 502 TEMPORARILY_UNAVAILABLE: upstream broken",
      status: 502,
    });
  });

  it("does not repeat a create after a 500, which may have been half done", async () => {
    answer = (_req, res) => json(res, 500, { error_code: "INTERNAL_ERROR", message: "boom" });
    const err = await rejection(() => new MlflowClient(uri, { backoffMs: 5 }).createRun("1"));
    expect(err).to.be.instanceOf(MlflowError);
    expect(hits).to.deep.equal(["POST /api/2.0/mlflow/runs/create"]);
  });

  it("reports a non-JSON error page in one line", async () => {
    answer = (_req, res) => {
      res.writeHead(404, { "Content-Type": "text/html" });
      res.end("<html>\n<body>Not Found</body>\n</html>");
    };
    const err = await rejection(() => new MlflowClient(uri).getModelVersion("clf", 3));
    expect(err).to.include({
      file: "models:/clf/3",
      problem: "MLflow model-versions/get failed: HTTP 404: <html> <body>Not Found</body> </html>",
    });
  });
});
