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

/** Sort's order: -0 before +0, so the selection below picks the element a sort would put there. */
const less = (a: number, b: number) => a < b || (a === b && 1 / a < 1 / b);

/**
 * The k-th smallest of `a` (Hoare's selection, in place): a[k] is left holding it, with nothing greater
 * before it and nothing smaller after it. Linear time, where a sort took most of the preprocessing's.
 */
function select(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[k] as number;
    let i = lo;
    let j = hi;
    do {
      while (less(a[i] as number, pivot)) i++;
      while (less(pivot, a[j] as number)) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) lo = i;
    if (k < i) hi = j;
  }
  return a[k] as number;
}

/** Median of the values, which `present` holds (no NaN) and which it reorders. */
function median(present: Float64Array): number {
  const n = present.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  const upper = select(present, mid);
  if (n % 2) return upper;
  let lower = present[0] as number;
  for (let i = 1; i < mid; i++) if (less(lower, present[i] as number)) lower = present[i] as number;
  return (lower + upper) / 2;
}

export function fitPreprocess(frame: Frame): Preprocess {
  const n = rowCount(frame);
  const d = frame.columns.length;
  const pre: Preprocess = { columns: [...frame.columns], median: [], mean: [], std: [] };
  // Two columns' worth of scratch for all columns: a large file's preprocessing allocates nothing per column.
  const col = new Float64Array(n);
  const present = new Float64Array(n);
  for (let j = 0; j < d; j++) {
    let count = 0;
    for (let i = 0; i < n; i++) {
      const v = frame.values[i * d + j] as number;
      col[i] = v;
      if (!Number.isNaN(v)) present[count++] = v;
    }
    const med = median(present.subarray(0, count));
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
  return standardize(pre, frame.values, new Float32Array(frame.values.length));
}

/**
 * transform, written over the frame's own numbers for a caller that needs them no more (the frame's values
 * are garbage afterwards): a large training file then never holds its numbers twice. Input k takes bytes
 * 4k..4k+3, which belonged to value k/2, already read.
 */
export function transformInPlace(pre: Preprocess, frame: Frame): Float32Array {
  checkColumns(frame.path, frame.columns, pre.columns);
  const values = frame.values;
  return standardize(pre, values, new Float32Array(values.buffer, values.byteOffset, values.length));
}

/** Reads `values` front to back and writes `out` in the same order, so `out` may alias `values`' bytes. */
function standardize(pre: Preprocess, values: Float64Array, out: Float32Array): Float32Array {
  const d = pre.columns.length;
  for (let k = 0; k < values.length; k++) {
    const j = k % d;
    const v = values[k] as number;
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
