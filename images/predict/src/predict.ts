import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import {
  DEFAULT_DATA_DIR,
  FEATURES,
  InputError,
  MlflowClient,
  cliOptions,
  CsvSink,
  dataPaths,
  parseDs,
  numberOption,
  parseModelUri,
  rawDataOptions,
  readFrames,
  round6,
  underDataDir,
  writeFilesAtomic,
  type Command,
} from "@airflow-ml-dags/common";
import { backendOption, chooseBackend, loadModel, type LoadedModel } from "@airflow-ml-dags/model";


/** A loaded model and where it came from, for the predictions manifest. */
interface Source {
  model: LoadedModel;
  /** The registry version, or null for a model folder. */
  version: string | null;
  runId: string | null;
  /** The local folder, or null when the model came from the registry (its temporary folder is gone). */
  modelDir: string | null;
}

/** Any `scheme:/…` value: names a URI, not a folder, so it must not be read as a relative path. */
const URI_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\//;

/**
 * Downloads the version a `models:/` reference names into a temporary folder under os.tmpdir(), loads
 * it, and removes the folder: the model is in memory by then. Errors name the reference, not the folder.
 */
async function fromRegistry(ref: string): Promise<Source> {
  const parsed = parseModelUri(ref);
  if (!process.env.MLFLOW_TRACKING_URI?.trim()) {
    throw new InputError(ref, "MLFLOW_TRACKING_URI is not set, so the model registry cannot be reached");
  }
  const mlflow = MlflowClient.fromEnv();
  const tmp = await mkdtemp(join(tmpdir(), "predict-model-"));
  try {
    const dir = join(tmp, "model");
    const { version } = await mlflow.downloadModel(parsed.uri, dir);
    let model: LoadedModel;
    try {
      model = await loadModel(dir);
    } catch (err) {
      if (err instanceof InputError && err.file.startsWith(dir)) {
        const where = `models:/${version.name}/${version.version}`;
        throw new InputError(ref, `${where} ${relative(dir, err.file) || "model folder"}: ${err.problem}`);
      }
      throw err;
    }
    return { model, version: version.version, runId: version.runId ?? model.manifest.runId ?? null, modelDir: null };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export const predictCommand: Command = {
  summary:
    "Score raw/{ds}/data.csv with a model folder or a registered model version and write predictions/{ds}/predictions.csv " +
    "(id,probability,label) and predictions/{ds}/manifest.json (which model scored).",
  options: {
    ds: { help: "run date YYYY-MM-DD" },
    model: {
      help:
        "model folder (absolute, or relative to the data folder, e.g. models/2026-03-02), or a registry reference " +
        "models:/<name>@<alias> or models:/<name>/<version> (needs MLFLOW_TRACKING_URI)",
    },
    "model-ref": {
      help:
        "the reference the model was chosen by, recorded in the manifest (default: --model); the DAG resolves " +
        "an alias to its version once, passes that version as --model and the alias here",
    },
    ...cliOptions("predict"),
    // Scoring is a few large matrix products: TensorFlow's kernels do them 15 times faster (README, "Backends").
    backend: backendOption("tensorflow"),
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    const backend = chooseBackend(args.str("backend"));
    const dataDir = args.str("data-dir");
    const modelArg = args.str("model");
    const modelRef = args.optStr("model-ref") ?? modelArg;
    const threshold = numberOption("threshold", args.str("threshold"));
    const paths = dataPaths(dataDir, ds);

    let source: Source;
    if (modelArg.startsWith("models:")) {
      source = await fromRegistry(modelArg);
    } else if (URI_RE.test(modelArg)) {
      throw new InputError(modelArg, "expected a model folder, models:/<name>@<alias> or models:/<name>/<version>");
    } else {
      const modelDir = underDataDir(dataDir, modelArg);
      const model = await loadModel(modelDir);
      source = { model, version: null, runId: model.manifest.runId ?? null, modelDir };
    }
    const { model } = source;
    if (model.columns.join(",") !== FEATURES.join(",")) {
      model.dispose();
      throw new InputError(modelArg, `the model takes the features ${model.columns.join(",")}, the raw schema declares ${FEATURES.join(",")}`);
    }
    log.info("model loaded", {
      model: modelArg,
      modelRef,
      modelVersion: source.version,
      runId: source.runId,
      family: model.family,
      trainedDs: model.manifest.ds,
      backend,
    });

    // Read, scored and turned into CSV lines a batch at a time: memory holds one batch of the input and the
    // output bytes, never the whole input; nothing is written before the last row is scored.
    const lines: Buffer[] = [Buffer.from("id,probability,label\n")];
    const out = new CsvSink(async (data) => void lines.push(Buffer.from(data)));
    const line = new Float64Array(2);
    let rows = 0;
    let positives = 0;
    try {
      for await (const frame of readFrames(paths.data, rawDataOptions())) {
        const proba = model.predictProba(frame);
        for (let i = 0; i < frame.ids.length; i++) {
          // fmt's value: the label follows the probability as written, so the file agrees with itself at the
          // threshold (an empty cell, NaN, reads as 0 there).
          const p = round6(proba[i] as number);
          const label = (Number.isNaN(p) ? 0 : p) >= threshold ? 1 : 0;
          positives += label;
          line[0] = p;
          line[1] = label;
          const pending = out.numbers(frame.ids[i] as string, line);
          if (pending) await pending;
        }
        rows += frame.ids.length;
      }
      await out.flush();
    } finally {
      model.dispose();
    }
    const manifestPath = paths.predictionsManifest;
    const manifest = {
      ds,
      model_ref: modelRef,
      model: modelArg,
      model_version: source.version,
      run_id: source.runId,
      model_ds: model.manifest.ds,
      family: model.family,
      rows,
      threshold,
    };
    // Both files or neither: a predictions.csv never sits beside the manifest of another model.
    await writeFilesAtomic([
      { path: paths.predictions, data: Buffer.concat(lines) },
      { path: manifestPath, data: `${JSON.stringify(manifest, null, 2)}\n` },
    ]);
    return {
      ds,
      rows,
      positiveRate: rows ? positives / rows : 0,
      threshold,
      output: paths.predictions,
      outputs: [paths.predictions, manifestPath],
      modelRef,
      model: modelArg,
      modelVersion: source.version,
      runId: source.runId,
      modelDir: source.modelDir,
      modelDs: model.manifest.ds,
      family: model.family,
    };
  },
};
