/**
 * Datasets as run inputs (`runs/log-inputs`): what the MLflow UI shows under a run's "Datasets used", with
 * the schema, the row count and where the data came from. The entity is the one `mlflow.log_input` sends for
 * a pandas dataset (mlflow/data/pandas_dataset.py): `source` and `schema` and `profile` are JSON texts.
 */
import { kv, toPairs, type WireKV } from "./client.ts";
import { processedDataColumns, pythonJson } from "./colspec.ts";

/** A dataset logged as an input of a run, with the tags of that input. */
export interface DatasetInput {
  name: string;
  /** A fingerprint of the data: the same name and digest are one dataset of the experiment. */
  digest: string;
  /** How `source` is to be read, e.g. `local` for a file path (`{"uri": "/data/…"}`). */
  sourceType: string;
  /** JSON text. */
  source: string;
  /** JSON text, `{"mlflow_colspec": [...]}` for a column-based schema. */
  schema?: string;
  /** JSON text, e.g. `{"num_rows": 1000, "num_elements": 22000}`. */
  profile?: string;
  /** The input's tags; `mlflow.data.context` says what the run used it for (`training`, `validation`, …). */
  tags: Record<string, string>;
}

/** The tag saying what a run used a dataset for; the UI shows its value beside the dataset. */
export const DATASET_CONTEXT_TAG = "mlflow.data.context";

/** The longest digest the server stores (MAX_DATASET_DIGEST_SIZE in mlflow/utils/validation.py). */
export const DATASET_DIGEST_MAX = 36;

/** How much of the data's sha256 (64 hex digits) the digest keeps: 128 bits, within the server's limit. */
const DIGEST_HEX_DIGITS = 32;

/**
 * The training data of a run as a dataset input: `train-{ds}`, the file read (`processed/{ds}/train.csv`
 * below the data folder) as a `local` source, its columns as the contract declares them, its row count, and as
 * digest the first 32 hex digits of the file's sha256 (the run's `data_sha256` param holds all 64).
 */
export function trainingDataset(data: { ds: string; path: string; sha256: string; rows: number }): DatasetInput {
  if (!/^[0-9a-f]{64}$/.test(data.sha256)) throw new TypeError(`expected a sha256 in hex, got "${data.sha256}"`);
  const columns = processedDataColumns();
  return {
    name: `train-${data.ds}`,
    digest: data.sha256.slice(0, DIGEST_HEX_DIGITS),
    sourceType: "local",
    source: pythonJson({ uri: data.path }),
    schema: pythonJson({ mlflow_colspec: columns }),
    profile: pythonJson({ num_rows: data.rows, num_elements: data.rows * columns.length }),
    tags: { [DATASET_CONTEXT_TAG]: "training" },
  };
}

// ---------------------------------------------------------------------------------------------------
// Wire shapes (service.proto: DatasetInput, Dataset, InputTag).

interface WireDataset {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}
export interface WireDatasetInput {
  tags?: WireKV[];
  dataset: WireDataset;
}

export const toWireDatasetInput = (d: DatasetInput): WireDatasetInput => ({
  tags: toPairs(d.tags),
  dataset: {
    name: d.name,
    digest: d.digest,
    source_type: d.sourceType,
    source: d.source,
    ...(d.schema !== undefined ? { schema: d.schema } : {}),
    ...(d.profile !== undefined ? { profile: d.profile } : {}),
  },
});

export const toDatasetInput = (w: WireDatasetInput): DatasetInput => ({
  name: w.dataset.name,
  digest: w.dataset.digest,
  sourceType: w.dataset.source_type,
  source: w.dataset.source,
  ...(w.dataset.schema ? { schema: w.dataset.schema } : {}),
  ...(w.dataset.profile ? { profile: w.dataset.profile } : {}),
  tags: kv(w.tags),
});
