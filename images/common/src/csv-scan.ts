/**
 * The fast path of reading `id, numbers... [, target]` files: lines are split and numbers parsed straight from
 * the file's bytes (csv-rows.ts), with no string but the id made per row, on worker threads for a large file
 * (csv-threads.ts). It only ever reads what it can read exactly as readCsvBatches and the frame conversion
 * would; the moment a batch holds anything else (a quote, a ragged row, a cell that is no number, a target
 * other than 0 or 1), that batch and the rest of the file go to readCsvBatches, which reads them, or refuses
 * them with its own message.
 */
import { open, type FileHandle } from "node:fs/promises";
import { TARGET } from "./contract.ts";
import { cannotRead, checkHeader, readCsvBatches, type CsvBatch } from "./csv.ts";
import { scanRows, type Rows } from "./csv-rows.ts";
import { threadedBatches, threading } from "./csv-threads.ts";

/** A batch of rows as the fast path read them: ids, row-major numbers, and the 0/1 targets of a target column. */
export interface ScannedBatch {
  path: string;
  header: string[];
  firstRow: number;
  ids: string[];
  values: Float64Array;
  target: Uint8Array | undefined;
}

const LF = 10;
const CR = 13;
const QUOTE = 34;

/** Bytes read from the file at once, and the size the window starts at (room for them after what it keeps). */
const CHUNK = 1 << 21;

/**
 * A file's bytes through one window that slides (and grows for a line longer than itself). The next chunk is
 * read ahead, on libuv's threads, while the rows of the one before are scanned: the read costs no time of its own.
 */
class Window {
  buf = Buffer.allocUnsafe(2 * CHUNK);
  /** File offset of buf[0]. */
  base = 0;
  /** Bytes of buf that hold the file. */
  end = 0;
  /** The byte after the last line break in buf (or the end, at the file's end): lines before it are whole. */
  limit = 0;
  /** Where reading goes on. */
  pos = 0;
  eof = false;
  private ahead = Buffer.allocUnsafe(CHUNK);
  private pending: Promise<number> | undefined;

  constructor(
    private readonly path: string,
    private readonly file: FileHandle,
  ) {}

  /** The chunk at `offset`, into `ahead`; its byte count, or the read's error as cannotRead's. */
  private readAt(offset: number): Promise<number> {
    return this.file.read(this.ahead, 0, CHUNK, offset).then(
      (r) => r.bytesRead,
      (err) => {
        throw cannotRead(this.path, err);
      },
    );
  }

  /** Keeps buf[pos..end) (moved to the front) and appends the next chunk after it. */
  async refill(): Promise<void> {
    const from = this.pos;
    const keep = this.end - from;
    // Room for the chunk and the line break a last line may need.
    if (keep + CHUNK + 1 > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, keep + CHUNK + 1));
      this.buf.copy(bigger, 0, from, this.end);
      this.buf = bigger;
    } else {
      this.buf.copyWithin(0, from, this.end);
    }
    this.base += from;
    this.end = keep;
    this.pos = 0;
    const bytes = await (this.pending ?? this.readAt(this.base + keep));
    this.pending = undefined;
    this.ahead.copy(this.buf, keep, 0, bytes);
    this.end += bytes;
    if (bytes === 0) this.eof = true;
    else {
      this.pending = this.readAt(this.base + this.end);
      // Awaited by the next refill; a reader that stops early (an error, a hand-over) must not leave it unhandled.
      this.pending.catch(() => {});
    }
    // A last line without a line break reads as one with it; scanRows needs it there. The buffer left room.
    if (this.eof && this.end > this.pos && this.buf[this.end - 1] !== LF) this.buf[this.end++] = LF;
    this.limit = this.end === 0 ? 0 : this.buf.lastIndexOf(LF, this.end - 1) + 1;
  }

  /** The next line, its line break (and a CR before it) left out; undefined at the file's end. */
  async line(): Promise<{ start: number; end: number } | undefined> {
    while (this.pos >= this.limit) {
      if (this.eof) return undefined;
      await this.refill();
    }
    const start = this.pos;
    let nl = this.buf.indexOf(LF, start);
    if (nl === -1 || nl >= this.end) nl = this.end;
    this.pos = Math.min(nl + 1, this.end);
    return { start, end: nl > start && this.buf[nl - 1] === CR ? nl - 1 : nl };
  }
}

/**
 * Batches of an `id, numbers... [, target]` file, each either read by the fast path (ScannedBatch) or by
 * readCsvBatches (CsvBatch) from the first batch the fast path does not read on. Batches hold `batchRows`
 * rows as readCsvBatches' do, so rows are checked in the same groups and the first error is the same one.
 */
export async function* scanBatches(path: string, batchRows: number): AsyncGenerator<ScannedBatch | CsvBatch> {
  const { threads, minBytes } = threading();
  let yielded = 0;
  if (threads > 1) {
    let size = 0;
    try {
      const file = await open(path, "r");
      size = (await file.stat()).size;
      await file.close();
    } catch (err) {
      throw cannotRead(path, err);
    }
    if (size >= minBytes) {
      const head = await readHead(path);
      if (head.header === undefined || head.dataStart === undefined) {
        yield* scanOnThisThread(path, batchRows);
        return;
      }
      const state = { complete: false };
      for await (const b of threadedBatches(path, head.header, head.dataStart, size, batchRows, threads, state)) {
        yield b;
        yielded++;
      }
      if (state.complete) return;
    }
  }
  // Single-threaded, or after the workers met what only this thread reads exactly as the text path: from the
  // start, past the batches already given.
  for await (const b of scanOnThisThread(path, batchRows)) if (yielded-- <= 0) yield b;
}

/** The header and where the rows start (undefined when a quote or no header leaves the file to readCsvBatches). */
async function readHead(path: string): Promise<{ header?: string[]; dataStart?: number }> {
  const file = await openFile(path);
  try {
    const w = new Window(path, file);
    const header = await headerOf(path, w);
    return header === undefined ? {} : { header, dataStart: w.base + w.pos };
  } finally {
    await file.close();
  }
}

async function openFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (err) {
    throw cannotRead(path, err);
  }
}

/** The header: the first line with more than blanks; undefined when a quote makes it one for readCsvBatches, or none. */
async function headerOf(path: string, w: Window): Promise<string[] | undefined> {
  await w.refill();
  if (w.end >= 3 && w.buf[0] === 0xef && w.buf[1] === 0xbb && w.buf[2] === 0xbf) w.pos = 3;
  for (let line = await w.line(); line !== undefined; line = await w.line()) {
    if (line.end === line.start) continue;
    if (w.buf.subarray(line.start, line.end).includes(QUOTE)) return undefined;
    const record = w.buf.toString("utf8", line.start, line.end).split(",");
    if (record.length === 1 && (record[0] as string).trim() === "") continue;
    return checkHeader(path, record);
  }
  return undefined;
}

async function* scanOnThisThread(path: string, batchRows: number): AsyncGenerator<ScannedBatch | CsvBatch> {
  const file = await openFile(path);
  const w = new Window(path, file);
  let handOver: number | undefined;
  let header: string[] | undefined;
  let firstRow = 2;
  try {
    header = await headerOf(path, w);
    // What readCsvBatches reads: a quoted header, or no header, which it refuses.
    if (header === undefined) handOver = 0;
    const width = header?.length ?? 0;
    const hasTarget = header?.[width - 1] === TARGET;
    const d = width - 1 - (hasTarget ? 1 : 0);
    while (header !== undefined) {
      const start = w.base + w.pos;
      const rows: Rows = { ids: [], values: new Float64Array(batchRows * d), target: hasTarget ? new Uint8Array(batchRows) : undefined, n: 0 };
      while (rows.n < batchRows && !(w.eof && w.pos >= w.end)) {
        if (w.pos >= w.limit) {
          await w.refill();
          continue;
        }
        const next = scanRows(w.buf, w.pos, w.limit, width, hasTarget, rows, batchRows);
        if (next < 0) {
          handOver = start;
          break;
        }
        w.pos = next;
      }
      if (handOver !== undefined) break;
      const n = rows.n;
      if (n === 0 && firstRow > 2) break;
      yield { path, header, firstRow, ids: rows.ids, values: rows.values.subarray(0, n * d), target: rows.target?.subarray(0, n) };
      firstRow += n;
      if (n < batchRows) break;
    }
  } finally {
    await file.close();
  }
  if (handOver !== undefined) {
    yield* readCsvBatches(path, batchRows, header === undefined ? undefined : { offset: handOver, header, firstRow });
  }
}
