import { readFile, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type * as tfl from "@tensorflow/tfjs-layers";
import {
  CONTRACT,
  InputError,
  MLMODEL_FILE,
  MODEL_ARTIFACT_PATH,
  mlmodelText,
  profileJson,
  readText,
  replaceDirAtomic,
  rowCount,
  type DataProfile,
  type Frame,
  type Logger,
} from "@airflow-ml-dags/common";
import { useBackend } from "./backend.ts";
import { checkHyperparams, FAMILIES, type Family, type Hyperparams } from "./hyperparams.ts";
import { fitPreprocess, parsePreprocess, preprocessToJson, transform, transformInPlace, type Preprocess } from "./preprocess.ts";
import {
  buildNetwork,
  fitNetwork,
  loadNetwork,
  MODEL_JSON,
  networkFiles,
  networkShape,
  scoreNetwork,
  WEIGHTS_BIN,
  type Trainer,
} from "./network.ts";
import { fitTree, loadTree, scoreTree, TREE_JSON, treeToJson, type DecisionTreeClassifier } from "./tree.ts";

export const PREPROCESS_JSON = "preprocess.json";
export const MANIFEST_JSON = "manifest.json";
/**
 * The training rows' distribution profile (the contract's `model_profile`), which the monitor compares each day's
 * data with. The loader does not read it: it travels with the model, to MLflow and back.
 */
export const PROFILE_JSON = basename(CONTRACT.layout.model_profile);
/** MLflow's description of the folder, written when the folder is logged to MLflow (`SaveOptions.mlmodel`). */
export const MLMODEL = MLMODEL_FILE;

/** The model files each family writes (besides preprocess.json and manifest.json). */
export const MODEL_FILES: Record<Family, string[]> = {
  mlp: [MODEL_JSON, WEIGHTS_BIN],
  logreg: [MODEL_JSON, WEIGHTS_BIN],
  tree: [TREE_JSON],
};

/** Number of Dense layers a network of each tfjs family has. */
const NETWORK_LAYERS: Partial<Record<Family, number>> = { mlp: 2, logreg: 1 };

export type ModelCore =
  | { kind: "network"; model: tfl.LayersModel }
  | { kind: "tree"; tree: DecisionTreeClassifier };

function score(core: ModelCore, x: Float32Array, rows: number): Float64Array {
  return core.kind === "network" ? scoreNetwork(core.model, x, rows) : scoreTree(core.tree, x, rows);
}

export interface TrainedModel {
  family: Family;
  hyperparams: Hyperparams;
  preprocess: Preprocess;
  /** Training rows and how many of them are positive. */
  rows: number;
  positives: number;
  /** Loss per epoch (binary cross-entropy); the tree has one entry, its training log loss. */
  history: number[];
  predictProba(frame: Frame): Float64Array;
  /** Frees the tensors of a tfjs model (the tree holds none). */
  dispose(): void;
  readonly core: ModelCore;
}

/** Log loss of probabilities against 0/1 labels, clipped as Keras does so a pure leaf does not give Infinity. */
function logLoss(p: Float64Array, y: Uint8Array): number {
  const eps = 1e-7;
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const q = Math.min(1 - eps, Math.max(eps, p[i] as number));
    sum -= y[i] ? Math.log(q) : Math.log(1 - q);
  }
  return sum / y.length;
}

/**
 * A frame made ready for training: the preprocessing fitted on its rows and the model inputs they give.
 * It keeps nothing else of the frame but its labels, so the frame's ids, and its numbers unless the inputs
 * were written over them, can be freed before training starts.
 */
export interface TrainingSet {
  columns: string[];
  preprocess: Preprocess;
  /** Model inputs, row-major. */
  x: Float32Array;
  y: Uint8Array;
  positives: number;
}

/**
 * Fits the preprocessing on `frame` (the training rows only: its statistics become the model's, so nothing
 * from validation or production rows leaks in) and makes the model inputs. `overwrite` writes the inputs
 * over the frame's numbers, which are then garbage: for a caller that drops the frame, the inputs cost no
 * memory beyond what reading took.
 */
export function trainingSet(frame: Frame, opts: { overwrite?: boolean } = {}): TrainingSet {
  const y = frame.target;
  if (!y) throw new InputError(frame.path, `no "target" column to train on`);
  const rows = rowCount(frame);
  const positives = y.reduce((a, b) => a + b, 0);
  if (positives === 0 || positives === rows) {
    throw new InputError(frame.path, `"target" holds only class ${positives ? 1 : 0}: training needs both classes`);
  }
  const preprocess = fitPreprocess(frame);
  const x = opts.overwrite ? transformInPlace(preprocess, frame) : transform(preprocess, frame);
  return { columns: frame.columns, preprocess, x, y, positives };
}

/**
 * Fits the model on the training rows: a frame, or a training set already made from one. `trainer` says how a
 * network is fitted (network.ts's TRAINERS); the tree ignores it.
 */
export async function trainModel(
  data: Frame | TrainingSet,
  hp: Hyperparams,
  log: Logger,
  onEpoch?: (epoch: number, loss: number) => void,
  opts: { trainer?: Trainer } = {},
): Promise<TrainedModel> {
  checkHyperparams(hp);
  const { preprocess, x, y, positives, columns } = "x" in data ? data : trainingSet(data);
  const rows = y.length;
  let core: ModelCore;
  let history: number[];
  if (hp.family === "tree") {
    const tree = fitTree(x, y, hp);
    core = { kind: "tree", tree };
    history = [logLoss(scoreTree(tree, x, rows), y)];
    log.info("tree trained", { loss: history[0] });
    onEpoch?.(1, history[0] as number);
  } else {
    await useBackend();
    const model = buildNetwork(hp, columns.length);
    core = { kind: "network", model };
    try {
      history = await fitNetwork(model, x, y, hp, log, onEpoch, opts.trainer);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }
  return {
    family: hp.family,
    hyperparams: { ...hp },
    preprocess,
    rows,
    positives,
    history,
    core,
    predictProba: (f) => score(core, transform(preprocess, f), rowCount(f)),
    dispose: () => {
      if (core.kind === "network") core.model.dispose();
    },
  };
}

export interface Manifest {
  ds: string;
  family: Family;
  hyperparams: Hyperparams;
  /** Feature columns, in the order the model takes them. */
  columns: string[];
  rows: number;
  positiveRate: number;
  /** sha256 of the training file(s), to tie the model to its data. */
  dataSha256: string;
  history: { epochs: number; firstLoss: number; finalLoss: number; losses: number[] };
  /** Every file of the model folder this manifest describes. */
  files: string[];
  /** The image that trained it, when the image says so (AML_IMAGE, AML_IMAGE_VERSION, AML_GIT_SHA). */
  image?: string;
  imageVersion?: string;
  gitSha?: string;
  /** The MLflow run that trained it, when MLflow was on: validate logs to it and registers it from there. */
  runId?: string;
  experimentId?: string;
}

export interface SaveOptions {
  /**
   * Runs on the complete folder before it replaces the previous one (e.g. to upload it): if it fails,
   * the previous model stays and the new one is dropped.
   */
  beforeCommit?: (tmpDir: string) => Promise<void>;
  /**
   * Also writes MLflow's `MLmodel` file, listed in the manifest like every other file, for a folder logged as
   * an MLflow run's model artifacts: its signature (the model's columns in, the probability out) is the schema
   * the MLflow UI shows for a registered version. It records when it was written, so a folder with it is not
   * byte-for-byte reproducible; without it, one seed and one data set give the same bytes.
   */
  mlmodel?: boolean;
}

/**
 * The MLmodel of a folder: a custom flavor naming the family and the files `loadModel` reads (MLflow cannot
 * load them itself), the signature with the model's columns, and the run it is logged to when there is one.
 */
function mlmodel(trained: TrainedModel, files: { name: string; data: string | Uint8Array }[], run?: { runId: string }): string {
  return mlmodelText({
    flavor: {
      family: trained.family,
      files: files.filter((f) => f.name !== MANIFEST_JSON && f.name !== PROFILE_JSON).map((f) => f.name),
      manifest: MANIFEST_JSON,
      loader: "@airflow-ml-dags/model loadModel",
    },
    columns: trained.preprocess.columns,
    modelSizeBytes: files.reduce((sum, f) => sum + Buffer.byteLength(f.data), 0),
    ...(run ? { runId: run.runId, artifactPath: MODEL_ARTIFACT_PATH } : {}),
  });
}

/**
 * Writes the model folder as a whole: built aside and swapped in, so a failed save leaves the previous
 * model (or none), never a half folder. No timestamps: one seed and one data set give the same bytes.
 * With `info.profile` (train gives it: the training rows' raw values), the folder holds profile.json too.
 */
export async function saveModel(
  dir: string,
  trained: TrainedModel,
  info: { ds: string; dataSha256: string; run?: { runId: string; experimentId: string }; profile?: DataProfile },
  options: SaveOptions = {},
): Promise<{ manifest: Manifest; files: string[] }> {
  const modelFiles =
    trained.core.kind === "network"
      ? await networkFiles(trained.core.model)
      : [{ name: TREE_JSON, data: treeToJson(trained.core.tree) }];
  const profileFile = info.profile ? [{ name: PROFILE_JSON, data: profileJson(info.profile) }] : [];
  const files = [
    ...modelFiles.map((f) => f.name),
    PREPROCESS_JSON,
    ...profileFile.map((f) => f.name),
    MANIFEST_JSON,
    ...(options.mlmodel ? [MLMODEL] : []),
  ];
  const env = process.env;
  const manifest: Manifest = {
    ds: info.ds,
    family: trained.family,
    hyperparams: trained.hyperparams,
    columns: trained.preprocess.columns,
    rows: trained.rows,
    positiveRate: trained.positives / trained.rows,
    dataSha256: info.dataSha256,
    history: {
      epochs: trained.history.length,
      firstLoss: trained.history[0] as number,
      finalLoss: trained.history[trained.history.length - 1] as number,
      losses: trained.history,
    },
    files,
    ...(env.AML_IMAGE ? { image: env.AML_IMAGE } : {}),
    ...(env.AML_IMAGE_VERSION ? { imageVersion: env.AML_IMAGE_VERSION } : {}),
    ...(env.AML_GIT_SHA ? { gitSha: env.AML_GIT_SHA } : {}),
    ...(info.run ? { runId: info.run.runId, experimentId: info.run.experimentId } : {}),
  };
  const all = [
    ...modelFiles,
    { name: PREPROCESS_JSON, data: preprocessToJson(trained.preprocess) },
    ...profileFile,
    { name: MANIFEST_JSON, data: `${JSON.stringify(manifest, null, 2)}\n` },
  ];
  if (options.mlmodel) all.push({ name: MLMODEL, data: mlmodel(trained, all, info.run) });
  await replaceDirAtomic(dir, async (tmp) => {
    for (const f of all) {
      try {
        await writeFile(join(tmp, f.name), f.data);
      } catch (err) {
        throw new InputError(join(dir, f.name), `cannot write (${(err as NodeJS.ErrnoException).code ?? err})`);
      }
    }
    await options.beforeCommit?.(tmp);
  });
  return { manifest, files };
}

export interface LoadedModel {
  dir: string;
  manifest: Manifest;
  family: Family;
  /** Feature columns the model takes, in order. */
  columns: string[];
  preprocess: Preprocess;
  /** Probability of class 1 per row; refuses a frame whose columns are not the model's. */
  predictProba(frame: Frame): Float64Array;
  dispose(): void;
}

async function readJson(path: string): Promise<unknown> {
  const text = await readText(path);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(path, `not valid JSON (${(err as Error).message})`);
  }
}

async function readModelFile(path: string, family: Family): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new InputError(path, `file not found (${MANIFEST_JSON} names family "${family}")`);
    throw new InputError(path, `cannot read (${code ?? err})`);
  }
}

function parseManifest(path: string, json: unknown): Manifest {
  const m = json as Partial<Manifest> | null;
  if (typeof m !== "object" || m === null) throw new InputError(path, "expected a JSON object");
  if (!(FAMILIES as readonly string[]).includes(m.family as string)) {
    throw new InputError(path, `unknown model family "${m.family}", expected one of ${FAMILIES.join(", ")}`);
  }
  if (!Array.isArray(m.columns) || m.columns.length === 0 || !m.columns.every((c) => typeof c === "string")) {
    throw new InputError(path, `"columns" must be a non-empty list of column names`);
  }
  if (typeof m.ds !== "string") throw new InputError(path, `"ds" is missing`);
  if (m.runId !== undefined && (typeof m.runId !== "string" || m.runId === "")) {
    throw new InputError(path, `"runId" must be an MLflow run id (a non-empty string)`);
  }
  return m as Manifest;
}

/** Loads a model folder written by saveModel, checking that its files agree with one another. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new InputError(dir, `cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  if (!isDir) throw new InputError(dir, "model folder not found");
  const manifestPath = join(dir, MANIFEST_JSON);
  const manifest = parseManifest(manifestPath, await readJson(manifestPath));
  const preprocessPath = join(dir, PREPROCESS_JSON);
  const preprocess = parsePreprocess(preprocessPath, await readJson(preprocessPath));
  if (preprocess.columns.join("\u0000") !== manifest.columns.join("\u0000")) {
    throw new InputError(preprocessPath, `columns ${preprocess.columns.join(",")} differ from ${MANIFEST_JSON}'s ${manifest.columns.join(",")}`);
  }
  const inputs = preprocess.columns.length;
  const { family } = manifest;
  let core: ModelCore;
  if (family === "tree") {
    const treePath = join(dir, TREE_JSON);
    const text = (await readModelFile(treePath, family)).toString("utf8");
    const { tree, inputsUsed } = loadTree(treePath, text);
    if (inputsUsed > inputs) {
      throw new InputError(preprocessPath, `has ${inputs} columns, but the tree splits on input ${inputsUsed}`);
    }
    core = { kind: "tree", tree };
  } else {
    const modelPath = join(dir, MODEL_JSON);
    const weightsPath = join(dir, WEIGHTS_BIN);
    const text = (await readModelFile(modelPath, family)).toString("utf8");
    const weights = await readModelFile(weightsPath, family);
    const model = await loadNetwork(modelPath, text, weightsPath, weights);
    const shape = networkShape(model);
    if (shape.layers !== NETWORK_LAYERS[family] || shape.outputs !== 1) {
      model.dispose();
      throw new InputError(
        modelPath,
        `${MANIFEST_JSON} names family "${family}", but the network has ${shape.layers} layer(s) and ${shape.outputs} output(s)`,
      );
    }
    if (shape.inputs !== inputs) {
      model.dispose();
      throw new InputError(preprocessPath, `has ${inputs} columns, but the model takes ${shape.inputs} inputs`);
    }
    core = { kind: "network", model };
  }
  return {
    dir,
    manifest,
    family,
    columns: preprocess.columns,
    preprocess,
    predictProba: (frame) => score(core, transform(preprocess, frame), rowCount(frame)),
    dispose: () => {
      if (core.kind === "network") core.model.dispose();
    },
  };
}
