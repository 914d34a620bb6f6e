/**
 * MLflow's column-based schemas, written the way MLflow's Python writes them, so what the server stores and
 * the UI shows is what `mlflow.models.infer_signature` or `mlflow.data.from_pandas` would have produced:
 * a column is `{"type": …, "name": …, "required": …}` (`ColSpec.to_dict()`, mlflow/types/schema.py) and the
 * JSON text is Python's `json.dumps` (", " and ": " separators, non-ASCII escaped).
 *
 * The columns come from the pipeline contract's raw schema, the same one every stage checks data against.
 */
import { CONTRACT, FEATURES, ID, TARGET } from "../contract.ts";

/** MLflow's `DataType` names (mlflow/types/schema.py). */
export type MlflowDataType = "boolean" | "integer" | "long" | "float" | "double" | "string" | "binary" | "datetime";

/**
 * One column of a schema. `required: false` is what MLflow writes for a column that may hold missing values
 * (`_infer_required`), and lets an input leave the column out.
 */
export interface ColSpec {
  type: MlflowDataType;
  name: string;
  required: boolean;
}

/** In MLflow's key order (type, name, required), which its JSON text keeps. */
const colSpec = (name: string, type: MlflowDataType, required: boolean): ColSpec => ({ type, name, required });

/** The contract's column types as MLflow names them: numbers are read as doubles, the 0/1 target is an integer. */
const MLFLOW_TYPES: Record<string, MlflowDataType> = { string: "string", number: "double", integer: "long", boolean: "boolean" };

function mlflowType(contractType: string, column: string): MlflowDataType {
  const type = MLFLOW_TYPES[contractType];
  if (!type) throw new Error(`contract column "${column}" has type "${contractType}", which has no MLflow equivalent`);
  return type;
}

/** The probability of class 1: the one output of every model family. */
export const PROBABILITY_COLUMN = "probability";

/**
 * The signature of a model: its input columns, each a double (the model takes the numbers of the contract's
 * feature columns, a missing value being NaN), and the probability out. The columns are the model's own,
 * the contract's features by default. Inputs are required: the model refuses a frame without one of its columns.
 */
export function modelSignature(columns: readonly string[] = FEATURES): { inputs: ColSpec[]; outputs: ColSpec[] } {
  return {
    inputs: columns.map((name) => colSpec(name, "double", true)),
    outputs: [colSpec(PROBABILITY_COLUMN, "double", true)],
  };
}

/**
 * The columns of the processed data (`processed/{ds}/train.csv`, `val.csv`): id, the features, the target, typed
 * by the contract's raw schema. A feature the contract lets be missing is not required, as MLflow infers it from
 * a data frame holding missing values.
 */
export function processedDataColumns(): ColSpec[] {
  const raw = CONTRACT.raw_schema;
  return [
    colSpec(ID, mlflowType(raw.id.type, ID), true),
    ...raw.features.map((f) => colSpec(f.name, mlflowType(f.type, f.name), !f.missing)),
    colSpec(TARGET, "long", true),
  ];
}

/**
 * JSON text as Python's `json.dumps` writes it with its defaults: `", "` between items, `": "` after keys,
 * every character beyond ASCII as a `\uXXXX` escape. Keys keep their insertion order, as in Python.
 */
export function pythonJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`cannot write ${String(value)} as JSON`);
    return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  }
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return `{${entries.map(([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`).join(", ")}}`;
}
