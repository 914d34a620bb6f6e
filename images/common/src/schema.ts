import { InputError } from "./errors.ts";
import { parseNumber, type Table } from "./csv.ts";

export const ID = "id";
export const TARGET = "target";

/**
 * Rows of numeric features, row-major. NaN marks a missing value: prepare keeps them, and the
 * preprocessing fitted on the training rows imputes them.
 */
export interface Frame {
  path: string;
  ids: string[];
  columns: string[];
  values: Float64Array;
  /** 0/1 labels when the file carries a target column. */
  target?: Uint8Array;
}

export const rowCount = (f: Frame) => f.ids.length;
export const row = (f: Frame, i: number) => f.values.subarray(i * f.columns.length, (i + 1) * f.columns.length);

function checkIds(path: string, ids: string[]): void {
  const seen = new Map<string, number>();
  ids.forEach((id, i) => {
    if (id.trim() === "") throw new InputError(path, `row ${i + 2}: empty id`);
    const first = seen.get(id);
    if (first !== undefined) throw new InputError(path, `duplicate id "${id}" in rows ${first + 2} and ${i + 2}`);
    seen.set(id, i);
  });
}

function parseTarget(path: string, cell: string, row: number): number {
  const s = cell.trim();
  if (s === "0" || s === "1") return Number(s);
  throw new InputError(path, `row ${row}, column "${TARGET}": target must be 0 or 1, got "${cell}"`);
}

/**
 * Checks and converts a table of `id, features... [, target]`. `expected` pins the feature columns
 * (and their order), as a trained model needs them.
 */
export function toFrame(table: Table, opts: { expected?: string[]; withTarget?: boolean } = {}): Frame {
  const { path, header, rows } = table;
  if (header[0] !== ID) throw new InputError(path, `first column must be "${ID}", got "${header[0]}"`);
  const hasTarget = header.includes(TARGET);
  if (opts.withTarget && !hasTarget) throw new InputError(path, `missing column "${TARGET}"`);
  if (opts.withTarget === false && hasTarget) throw new InputError(path, `unexpected column "${TARGET}"`);
  if (hasTarget && header[header.length - 1] !== TARGET) throw new InputError(path, `"${TARGET}" must be the last column`);
  const columns = header.slice(1, hasTarget ? -1 : undefined);
  if (columns.length === 0) throw new InputError(path, "no feature columns");
  if (opts.expected) checkColumns(path, columns, opts.expected);
  if (rows.length === 0) throw new InputError(path, "no data rows (header only)");
  const d = columns.length;
  const values = new Float64Array(rows.length * d);
  const target = hasTarget ? new Uint8Array(rows.length) : undefined;
  const ids = new Array<string>(rows.length);
  rows.forEach((r, i) => {
    ids[i] = r[0] as string;
    for (let j = 0; j < d; j++) values[i * d + j] = parseNumber(path, r[j + 1] as string, i + 2, columns[j] as string);
    if (target) target[i] = parseTarget(path, r[d + 1] as string, i + 2);
  });
  checkIds(path, ids);
  return target ? { path, ids, columns, values, target } : { path, ids, columns, values };
}

/** Same names in the same order, or one line saying what is missing, extra or out of order. */
export function checkColumns(path: string, actual: string[], expected: string[]): void {
  const missing = expected.filter((c) => !actual.includes(c));
  const extra = actual.filter((c) => !expected.includes(c));
  const parts = [];
  if (missing.length) parts.push(`missing columns ${missing.join(", ")}`);
  if (extra.length) parts.push(`unexpected columns ${extra.join(", ")}`);
  if (parts.length) throw new InputError(path, parts.join("; "));
  if (actual.some((c, i) => c !== expected[i])) {
    throw new InputError(path, `columns out of order: expected ${expected.join(",")}`);
  }
}

/** Reads an `id,target` file. */
export function toTargets(table: Table): Map<string, number> {
  const { path, header, rows } = table;
  if (header.length !== 2 || header[0] !== ID || header[1] !== TARGET) {
    throw new InputError(path, `expected columns "${ID},${TARGET}", got "${header.join(",")}"`);
  }
  if (rows.length === 0) throw new InputError(path, "no data rows (header only)");
  checkIds(
    path,
    rows.map((r) => r[0] as string),
  );
  return new Map(rows.map((r, i) => [r[0] as string, parseTarget(path, r[1] as string, i + 2)]));
}

/** Writes a frame back as `id, features... [, target]` rows. */
export function frameRows(f: Frame, format: (v: number) => string): string[][] {
  const d = f.columns.length;
  return f.ids.map((id, i) => {
    const out = [id];
    for (let j = 0; j < d; j++) out.push(format(f.values[i * d + j] as number));
    if (f.target) out.push(String(f.target[i]));
    return out;
  });
}

export const frameHeader = (f: Frame) => [ID, ...f.columns, ...(f.target ? [TARGET] : [])];
