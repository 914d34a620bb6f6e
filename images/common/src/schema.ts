import { InputError } from "./errors.ts";
import { FEATURES, ID, TARGET } from "./contract.ts";
import { CSV_BATCH_ROWS, type CsvSink, countLines, parseNumber, readCsvBatches, type CsvBatch, type Table } from "./csv.ts";
import { scanBatches, type ScannedBatch } from "./csv-scan.ts";

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

/** Whether `id` sorts after `last`, shorter ids first (so "…-1000000" comes after "…-999999"). */
const after = (id: string, last: string) => id.length > last.length || (id.length === last.length && id > last);

/**
 * Checks that ids are non-empty and unique, in file order. While each id sorts after the one before (raw
 * data's ids are numbered in order) none can repeat an earlier one, and a list of them is all it takes: a
 * map of a million ids costs more than the rest of reading the file. Shorter ids sort first, so that
 * "…-1000000" still comes after "…-999999". The first id out of order turns the
 * list into the map of id → row number that checks every id after it.
 */
class UniqueIds {
  private ordered: string[] | undefined = [];
  private readonly seen = new Map<string, number>();

  constructor(private readonly path: string) {}

  /** `row`: the id's row number; ids come in file order, the first one from row 2. */
  check(id: string, row: number): void {
    if (id.trim() === "") throw new InputError(this.path, `row ${row}: empty id`);
    const { ordered } = this;
    if (ordered) {
      const last = ordered[ordered.length - 1];
      if (last === undefined || after(id, last)) {
        ordered.push(id);
        return;
      }
      ordered.forEach((earlier, k) => this.seen.set(earlier, row - ordered.length + k));
      this.ordered = undefined;
    }
    const first = this.seen.get(id);
    if (first !== undefined) throw new InputError(this.path, `duplicate id "${id}" in rows ${first} and ${row}`);
    this.seen.set(id, row);
  }
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
  /**
   * Replaces the check that ids are unique within the file, for a caller that checks them across several
   * files with one map of its own. Called with each non-empty id and its row number, in file order.
   */
  uniqueId?: (id: string, row: number) => void;
}

/**
 * A copy of a cell that does not keep the text it was cut from alive: V8 makes a substring of 13 or more
 * characters a view into its parent, and ids live as long as the file is read (a megabyte of text per id,
 * otherwise). A JSON round trip gives a flat string of its own: about 40 bytes for a 15-character id, where
 * copying through a concatenation still leaves a view and its parent (about 70). Exact for every string:
 * JSON escapes lone surrogates too.
 */
const detached = (cell: string) => (cell.length < 13 ? cell : (JSON.parse(JSON.stringify(cell)) as string));

/**
 * The checks and conversion of `id, features... [, target]` rows, for a file read whole or batch by batch:
 * the header is checked once, ids are checked unique across every batch converted.
 */
class FrameConverter {
  readonly columns: string[];
  private readonly hasTarget: boolean;
  private readonly ids: UniqueIds;
  private readonly uniqueId: ((id: string, row: number) => void) | undefined;

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
    this.uniqueId = opts.uniqueId;
    this.ids = new UniqueIds(path);
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
    return this.checkIds(ids, values, target, firstRow);
  }

  /** A batch the fast path read: its cells are numbers and 0/1 targets already, its ids are still to check. */
  scanned(b: ScannedBatch): Frame {
    return this.checkIds(b.ids, b.values, b.target, b.firstRow);
  }

  private checkIds(ids: string[], values: Float64Array, target: Uint8Array | undefined, firstRow: number): Frame {
    const { path, columns } = this;
    const { uniqueId } = this;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      if (!uniqueId) this.ids.check(id, firstRow + i);
      else if (id.trim() === "") throw new InputError(path, `row ${firstRow + i}: empty id`);
      else uniqueId(id, firstRow + i);
    }
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
export const readFrames = (path: string, opts: FrameOptions = {}, batchRows = CSV_BATCH_ROWS): AsyncGenerator<Frame> =>
  framesOf(path, opts, scanBatches(path, batchRows));

/** readFrames with every cell read as text by readCsvBatches: what the fast path must give, tests compare. */
export const readFramesAsText = (path: string, opts: FrameOptions = {}, batchRows = CSV_BATCH_ROWS): AsyncGenerator<Frame> =>
  framesOf(path, opts, readCsvBatches(path, batchRows));

async function* framesOf(path: string, opts: FrameOptions, batches: AsyncIterable<CsvBatch | ScannedBatch>): AsyncGenerator<Frame> {
  let converter: FrameConverter | undefined;
  let rows = 0;
  for await (const batch of batches) {
    converter ??= new FrameConverter(path, batch.header, opts);
    const n = "rows" in batch ? batch.rows.length : batch.ids.length;
    if (n === 0) continue;
    rows += n;
    yield "rows" in batch ? converter.convert(batch.rows, batch.firstRow) : converter.scanned(batch);
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

/**
 * How every reader of raw data reads `raw/{ds}/data.csv`: the header must be the contract's raw schema
 * (`id` and the declared features, in order), else one line names the file and the difference.
 */
export const rawDataOptions = (features: readonly string[] = FEATURES): FrameOptions => ({ withTarget: false, expected: [...features] });

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

/**
 * A batch of an `id,target` file's rows: their ids, and their labels, read as 0/1 by the fast path, or their
 * target cells still to be read (targetLabel) by the text path's readers.
 */
export interface TargetBatch {
  path: string;
  firstRow: number;
  ids: string[];
  labels?: Uint8Array;
  cells?: string[];
}

/**
 * The batches of an `id,target` file, its header checked: the fast path for plain rows, readCsvBatches from
 * the first batch it does not read on. The readers check each row in order (a non-empty id, not seen
 * before, then targetLabel), so every message is the same whichever path read the row.
 */
export async function* readTargetBatches(path: string): AsyncGenerator<TargetBatch> {
  let rows = 0;
  for await (const b of scanBatches(path, CSV_BATCH_ROWS)) {
    if (b.header.length !== 2 || b.header[0] !== ID || b.header[1] !== TARGET) {
      throw new InputError(path, `expected columns "${ID},${TARGET}", got "${b.header.join(",")}"`);
    }
    const batch: TargetBatch =
      "rows" in b
        ? { path, firstRow: b.firstRow, ids: b.rows.map((r) => detached(r[0] as string)), cells: b.rows.map((r) => r[1] as string) }
        : { path, firstRow: b.firstRow, ids: b.ids, labels: b.target };
    rows += batch.ids.length;
    if (batch.ids.length > 0) yield batch;
  }
  if (rows === 0) throw new InputError(path, "no data rows (header only)");
}

/** Row `i`'s label; a target cell that is not 0 or 1 is an InputError naming the row. */
export const targetLabel = (b: TargetBatch, i: number): number =>
  b.labels ? (b.labels[i] as number) : parseTarget(b.path, (b.cells as string[])[i] as string, b.firstRow + i);

/**
 * Reads an `id,target` file batch by batch into a map from id to label (0 or 1): the rows of strings of a
 * million-row file would take several times the memory. Ids must be non-empty and unique.
 */
export async function readTargets(path: string): Promise<Map<string, number>> {
  const index = new Map<string, number>();
  for await (const b of readTargetBatches(path)) {
    for (let i = 0; i < b.ids.length; i++) {
      const id = b.ids[i] as string;
      const row = b.firstRow + i;
      if (id.trim() === "") throw new InputError(path, `row ${row}: empty id`);
      // The first row of an id rides along in the value (row * 2 + label) so a duplicate can name both rows
      // without a second map; both stay small integers, which V8 stores without allocating.
      const first = index.get(id);
      if (first !== undefined) throw new InputError(path, `duplicate id "${id}" in rows ${first >> 1} and ${row}`);
      index.set(id, row * 2 + targetLabel(b, i));
    }
  }
  // Setting existing keys allocates nothing: the map becomes id → label in place.
  for (const [id, v] of index) index.set(id, v & 1);
  return index;
}

/** A target file's rows in file order. */
export interface Targets {
  ids: string[];
  labels: Uint8Array;
}

/**
 * Reads an `id,target` file with the checks and messages of readTargets, into arrays in file
 * order rather than a map: raw targets list their ids in order, and while each id sorts after the one
 * before none can repeat, so the map of every id (most of the cost of reading a million of them) is only
 * built from the first id out of order on.
 */
export async function readTargetRows(path: string): Promise<Targets> {
  const ids: string[] = [];
  const labels: number[] = [];
  let seen: Map<string, number> | undefined;
  for await (const b of readTargetBatches(path)) {
    for (let i = 0; i < b.ids.length; i++) {
      const id = b.ids[i] as string;
      const row = b.firstRow + i;
      if (id.trim() === "") throw new InputError(path, `row ${row}: empty id`);
      const last = ids[ids.length - 1];
      if (seen === undefined && last !== undefined && !after(id, last)) {
        // Rows are numbered from 2 without gaps, so the k-th id so far is on row k + 2.
        seen = new Map(ids.map((earlier, k) => [earlier, k + 2]));
      }
      if (seen) {
        const first = seen.get(id);
        if (first !== undefined) throw new InputError(path, `duplicate id "${id}" in rows ${first} and ${row}`);
        seen.set(id, row);
      }
      labels.push(targetLabel(b, i));
      ids.push(id);
    }
  }
  return { ids, labels: Uint8Array.from(labels) };
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

/**
 * Writes a frame's rows as `sink.rows(frameRows(f, v => String(v)))` would, NaN as an empty cell, the numbers
 * formatted straight into the sink's buffer. JavaScript's shortest round-trip text: prepare and split only
 * move values, so they must not round them, and the text of a number is the same on every machine.
 */
export async function writeFrameRows(sink: CsvSink, f: Frame): Promise<void> {
  const d = f.columns.length;
  const { values, target } = f;
  const row = new Float64Array(d + (target ? 1 : 0));
  for (let i = 0; i < f.ids.length; i++) {
    for (let j = 0; j < d; j++) row[j] = values[i * d + j] as number;
    if (target) row[d] = target[i] as number;
    const pending = sink.numbers(f.ids[i] as string, row);
    if (pending) await pending;
  }
}

export const frameHeader = (f: Frame) => [ID, ...f.columns, ...(f.target ? [TARGET] : [])];
