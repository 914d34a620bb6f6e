/**
 * The `MLmodel` file of a model folder, as MLflow 3 writes it (`Model.to_yaml()` in mlflow/models/model.py:
 * PyYAML block style, keys sorted, the signature's schemas as JSON texts). The MLflow UI reads it from a
 * registered version's files (`model-versions/get-artifact?path=MLmodel`) and from a run's artifact folder to
 * show the model's schema; `mlflow.models.get_model_info` reads the same.
 *
 * The models here are tfjs and ml-cart models that MLflow cannot load, so the file holds one custom flavor and
 * no `python_function` flavor: it describes the folder, it does not make MLflow able to serve it.
 */
import { randomUUID } from "node:crypto";
import { modelSignature, pythonJson } from "./colspec.ts";

export const MLMODEL_FILE = "MLmodel";

/** The flavor naming what loads the folder: the model family and its files. */
export const MLMODEL_FLAVOR = "airflow_ml_dags";

/**
 * The MLflow release whose MLmodel format this follows: the tracking server's (compose/mlflow/requirements.lock.txt),
 * written as `mlflow_version` like MLflow records the release that logged a model.
 */
export const MLMODEL_MLFLOW_VERSION = "3.17.2";

type YamlScalar = string | number | boolean | null;
type YamlValue = YamlScalar | YamlScalar[] | { [key: string]: YamlValue };

export interface MlmodelSpec {
  /** The custom flavor's entries (under `MLMODEL_FLAVOR`): what a loader of the folder needs to know. */
  flavor: Record<string, YamlScalar | YamlScalar[]>;
  /** The model's input columns, in order; the contract's features by default. */
  columns?: readonly string[];
  /** The run the folder is logged to, and where among its artifacts: with MLflow off, neither. */
  runId?: string;
  artifactPath?: string;
  /** Bytes of the folder's other files. */
  modelSizeBytes?: number;
  /** Default: now. */
  createdAt?: Date;
  /** 32 hex digits; default: a random one, as MLflow's `uuid.uuid4().hex`. */
  modelUuid?: string;
}

/**
 * The MLmodel text. Entries MLflow writes for a model saved outside a LoggedModel are kept (`model_id: null`,
 * `prompts: null`, the two signature origin flags), so MLflow's own reader sees what it would have written.
 */
export function mlmodelText(spec: MlmodelSpec): string {
  const signature = modelSignature(spec.columns);
  const doc: Record<string, YamlValue> = {
    ...(spec.artifactPath !== undefined ? { artifact_path: spec.artifactPath } : {}),
    flavors: { [MLMODEL_FLAVOR]: spec.flavor },
    is_signature_from_type_hint: false,
    mlflow_version: MLMODEL_MLFLOW_VERSION,
    model_id: null,
    ...(spec.modelSizeBytes !== undefined ? { model_size_bytes: spec.modelSizeBytes } : {}),
    model_uuid: spec.modelUuid ?? randomUUID().replaceAll("-", ""),
    prompts: null,
    ...(spec.runId !== undefined ? { run_id: spec.runId } : {}),
    signature: { inputs: pythonJson(signature.inputs), outputs: pythonJson(signature.outputs), params: null },
    type_hint_from_example: false,
    utc_time_created: pythonUtcTime(spec.createdAt ?? new Date()),
  };
  return yamlBlock(doc, 0);
}

/** `str(datetime)` of a naive UTC time, as MLflow writes `utc_time_created`: `2026-01-05 09:30:35.723000`. */
const pythonUtcTime = (d: Date) => `${d.toISOString().slice(0, 19).replace("T", " ")}.${String(d.getUTCMilliseconds() * 1000).padStart(6, "0")}`;

// ---------------------------------------------------------------------------------------------------
// The YAML MLflow's files need: nested mappings with sorted keys, lists of scalars (at the key's indentation,
// as PyYAML writes them) and scalars, a string quoted whenever a YAML reader could take it for anything else.

function yamlBlock(map: { [key: string]: YamlValue }, indent: number): string {
  const pad = " ".repeat(indent);
  let out = "";
  for (const key of Object.keys(map).sort()) {
    const value = map[key] as YamlValue;
    const head = `${pad}${yamlScalar(key)}:`;
    if (Array.isArray(value)) {
      out += value.length === 0 ? `${head} []\n` : `${head}\n${value.map((v) => `${pad}- ${yamlScalar(v)}\n`).join("")}`;
    } else if (value !== null && typeof value === "object") {
      out += Object.keys(value).length === 0 ? `${head} {}\n` : `${head}\n${yamlBlock(value, indent + 2)}`;
    } else {
      out += `${head} ${yamlScalar(value)}\n`;
    }
  }
  return out;
}

/** Plain strings: a name that starts with a letter or `_`, or a release number; never a YAML 1.1 boolean or null. */
const PLAIN = /^(?:[A-Za-z_][A-Za-z0-9_./-]*|[0-9]+(?:\.[0-9]+){2,})$/;
const NOT_A_STRING = /^(?:y|yes|n|no|true|false|on|off|null|nan|inf)$/i;
/** Characters a single-quoted scalar cannot hold as they are. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]/;

function yamlScalar(value: YamlScalar): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`MLmodel: cannot write the number ${value}`);
    return String(value);
  }
  if (PLAIN.test(value) && !NOT_A_STRING.test(value)) return value;
  if (!UNPRINTABLE.test(value)) return `'${value.replaceAll("'", "''")}'`;
  // A JSON string is a YAML double-quoted scalar once the characters JSON leaves as they are get escapes too.
  const hex = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029\ufeff]/g, hex);
}
