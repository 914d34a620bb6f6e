import { checkColumns, InputError, rowCount, type Frame } from "@airflow-ml-dags/common";

/**
 * Median imputation then standardization, fitted on the training rows only so that validation and
 * production rows never leak into the parameters. Arrays follow `columns`.
 */
export interface Preprocess {
  columns: string[];
  median: number[];
  mean: number[];
  std: number[];
}

function median(values: Float64Array): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort();
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function fitPreprocess(frame: Frame): Preprocess {
  const n = rowCount(frame);
  const d = frame.columns.length;
  const pre: Preprocess = { columns: [...frame.columns], median: [], mean: [], std: [] };
  const col = new Float64Array(n);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < n; i++) col[i] = frame.values[i * d + j] as number;
    const med = median(col);
    if (Number.isNaN(med)) throw new InputError(frame.path, `column "${frame.columns[j]}" has no values: nothing to impute from`);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(col[i])) col[i] = med;
      sum += col[i] as number;
    }
    const mean = sum / n;
    let sq = 0;
    for (let i = 0; i < n; i++) sq += ((col[i] as number) - mean) ** 2;
    const std = Math.sqrt(sq / n);
    pre.median.push(med);
    pre.mean.push(mean);
    // A constant column carries no information; dividing by 1 keeps it finite instead of NaN.
    pre.std.push(std > 0 ? std : 1);
  }
  return pre;
}

/** Model inputs, row-major: the frame's columns must be the fitted ones, in the same order. */
export function transform(pre: Preprocess, frame: Frame): Float32Array {
  checkColumns(frame.path, frame.columns, pre.columns);
  const d = pre.columns.length;
  const out = new Float32Array(frame.values.length);
  for (let k = 0; k < frame.values.length; k++) {
    const j = k % d;
    const v = frame.values[k] as number;
    out[k] = ((Number.isNaN(v) ? (pre.median[j] as number) : v) - (pre.mean[j] as number)) / (pre.std[j] as number);
  }
  return out;
}

export const preprocessToJson = (pre: Preprocess) => `${JSON.stringify(pre, null, 2)}\n`;

/** Checks a parsed preprocess.json; `path` names the file in the error. */
export function parsePreprocess(path: string, json: unknown): Preprocess {
  const o = json as Partial<Record<keyof Preprocess, unknown>> | null;
  if (typeof o !== "object" || o === null) throw new InputError(path, "expected a JSON object");
  const { columns } = o;
  if (!Array.isArray(columns) || columns.length === 0 || !columns.every((c) => typeof c === "string" && c !== "")) {
    throw new InputError(path, `"columns" must be a non-empty list of column names`);
  }
  if (new Set(columns).size !== columns.length) throw new InputError(path, `"columns" has duplicate names`);
  for (const key of ["median", "mean", "std"] as const) {
    const a = o[key];
    if (!Array.isArray(a) || a.length !== columns.length || !a.every((v) => typeof v === "number" && Number.isFinite(v))) {
      throw new InputError(path, `"${key}" must hold ${columns.length} finite numbers, one per column`);
    }
  }
  if ((o.std as number[]).some((s) => s <= 0)) throw new InputError(path, `"std" must be positive`);
  return { columns, median: o.median as number[], mean: o.mean as number[], std: o.std as number[] };
}
