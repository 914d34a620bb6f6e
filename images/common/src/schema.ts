import { InputError } from "./errors.ts";
import { CSV_BATCH_ROWS, countLines, parseNumber, readCsvBatches, type Table } from "./csv.ts";

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
  ids.forEach((id, i) => checkId(path, seen, id, i + 2));
}

/** An id must be non-empty and unique: `seen` maps the ids met so far to their row numbers. */
function checkId(path: string, seen: Map<string, number>, id: string, row: number): void {
  if (id.trim() === "") throw new InputError(path, `row ${row}: empty id`);
  const first = seen.get(id);
  if (first !== undefined) throw new InputError(path, `duplicate id "${id}" in rows ${first} and ${row}`);
  seen.set(id, row);
}

function parseTarget(path: string, cell: string, row: number): number {
  const s = cell.trim();
  if (s === "0" || s === "1") return Number(s);
  throw new InputError(path, `row ${row}, column "${TARGET}": target must be 0 or 1, got "${cell}"`);
}

export interface FrameOptions {
  /** The feature columns, in order, as a trained model needs them. */
  expected?: string[];
  /** true: the file must end with a target column; false: it must have none; unset: either. */
  withTarget?: boolean;
}

/**
 * A copy of a cell that does not keep the text it was cut from alive: V8 makes a substring of 13 or more
 * characters a view into its parent, and ids live as long as the file is read (a megabyte of text per id,
 * otherwise). Joining forces a flat copy, which the slice then views alone.
 */
const detached = (cell: string) => (cell.length < 13 ? cell : ` ${cell}`.slice(1));

/**
 * The checks and conversion of `id, features... [, target]` rows, for a file read whole or batch by batch:
 * the header is checked once, ids are checked unique across every batch converted.
 */
class FrameConverter {
  readonly columns: string[];
  private readonly hasTarget: boolean;
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly path: string,
    header: string[],
    opts: FrameOptions,
  ) {
    if (header[0] !== ID) throw new InputError(path, `first column must be "${ID}", got "${header[0]}"`);
    this.hasTarget = header.includes(TARGET);
    if (opts.withTarget && !this.hasTarget) throw new InputError(path, `missing column "${TARGET}"`);
    if (opts.withTarget === false && this.hasTarget) throw new InputError(path, `unexpected column "${TARGET}"`);
    if (this.hasTarget && header[header.length - 1] !== TARGET) throw new InputError(path, `"${TARGET}" must be the last column`);
    this.columns = header.slice(1, this.hasTarget ? -1 : undefined);
    if (this.columns.length === 0) throw new InputError(path, "no feature columns");
    if (opts.expected) checkColumns(path, this.columns, opts.expected);
  }

  /** `rows` are the file's rows from number `firstRow` on (the header is row 1). */
  convert(rows: string[][], firstRow: number): Frame {
    const { path, columns } = this;
    const d = columns.length;
    const values = new Float64Array(rows.length * d);
    const target = this.hasTarget ? new Uint8Array(rows.length) : undefined;
    const ids = new Array<string>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as string[];
      const row = firstRow + i;
      ids[i] = detached(r[0] as string);
      for (let j = 0; j < d; j++) values[i * d + j] = parseNumber(path, r[j + 1] as string, row, columns[j] as string);
      if (target) target[i] = parseTarget(path, r[d + 1] as string, row);
    }
    for (let i = 0; i < ids.length; i++) checkId(path, this.seen, ids[i] as string, firstRow + i);
    return target ? { path, ids, columns, values, target } : { path, ids, columns, values };
  }
}

/**
 * Checks and converts a table of `id, features... [, target]`. `expected` pins the feature columns
 * (and their order), as a trained model needs them.
 */
export function toFrame(table: Table, opts: FrameOptions = {}): Frame {
  const converter = new FrameConverter(table.path, table.header, opts);
  if (table.rows.length === 0) throw new InputError(table.path, "no data rows (header only)");
  return converter.convert(table.rows, 2);
}

/**
 * toFrame over a file read batch by batch: frames of at most `batchRows` rows, in file order, with the same
 * checks and the same messages, so a large file is scored without ever being in memory whole.
 */
export async function* readFrames(path: string, opts: FrameOptions = {}, batchRows = CSV_BATCH_ROWS): AsyncGenerator<Frame> {
  let converter: FrameConverter | undefined;
  let rows = 0;
  for await (const batch of readCsvBatches(path, batchRows)) {
    converter ??= new FrameConverter(path, batch.header, opts);
    if (batch.rows.length === 0) continue;
    rows += batch.rows.length;
    yield converter.convert(batch.rows, batch.firstRow);
  }
  if (rows === 0) throw new InputError(path, "no data rows (header only)");
}

/**
 * toFrame(await readCsv(path)) without ever holding the file's text or its rows of strings: batches are
 * converted as they are read and only the numbers and ids are kept, a fraction of the memory for a large file.
 * The numbers go into one array sized from a count of the file's lines (never fewer than its rows), so no
 * copy of them is ever made on the way.
 */
export async function readFrame(path: string, opts: FrameOptions = {}): Promise<Frame> {
  let capacity = 0;
  let columns: string[] = [];
  let values = new Float64Array(0);
  let target: Uint8Array | undefined;
  const ids: string[] = [];
  for await (const f of readFrames(path, opts)) {
    if (ids.length === 0) {
      columns = f.columns;
      capacity = await countLines(path);
      values = new Float64Array(capacity * columns.length);
      if (f.target) target = new Uint8Array(capacity);
    }
    if (ids.length + f.ids.length > capacity) throw new Error(`${path}: more rows than lines while reading`);
    values.set(f.values, ids.length * columns.length);
    if (f.target && target) target.set(f.target, ids.length);
    for (const id of f.ids) ids.push(id);
  }
  const n = ids.length;
  const frame: Frame = { path, ids, columns, values: values.subarray(0, n * columns.length) };
  return target ? { ...frame, target: target.subarray(0, n) } : frame;
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
