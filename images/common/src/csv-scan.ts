/**
 * The fast path of reading `id, numbers... [, target]` files: lines are split and numbers parsed straight from
 * the file's bytes, with no string but the id made per row. It only ever reads what it can read exactly as
 * readCsvBatches and the frame conversion would; the moment a batch holds anything else (a quote, a ragged
 * row, a cell that is no number, a target other than 0 or 1), that batch and the rest of the file go to
 * readCsvBatches, which reads them, or refuses them with its own message.
 */
import { open, type FileHandle } from "node:fs/promises";
import { TARGET } from "./contract.ts";
import { cannotRead, checkHeader, parseNumber, readCsvBatches, type CsvBatch } from "./csv.ts";

/** A batch of rows as the fast path read them: ids, row-major numbers, and the 0/1 targets of a target column. */
export interface ScannedBatch {
  path: string;
  header: string[];
  firstRow: number;
  ids: string[];
  values: Float64Array;
  target: Uint8Array | undefined;
}

/** Exact powers of ten as doubles: 10^22 is the last one a double holds exactly. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
const MAX_EXACT = 2 ** 53;
const COMMA = 44;
const LF = 10;
const CR = 13;
const QUOTE = 34;

/** A file's bytes through one window that slides (and grows for a line longer than itself). */
class Window {
  buf = Buffer.allocUnsafe(1 << 20);
  /** File offset of buf[0]. */
  base = 0;
  /** Bytes of buf that hold the file. */
  end = 0;
  eof = false;

  constructor(
    private readonly path: string,
    private readonly file: FileHandle,
  ) {}

  /** Keeps buf[from..end) (moved to the front), reads more after it; returns the new index of `from`. */
  async refill(from: number): Promise<number> {
    const keep = this.end - from;
    if (keep * 2 > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, from, this.end);
      this.buf = bigger;
    } else {
      this.buf.copyWithin(0, from, this.end);
    }
    this.base += from;
    this.end = keep;
    let bytes: number;
    try {
      ({ bytesRead: bytes } = await this.file.read(this.buf, keep, this.buf.length - keep, this.base + keep));
    } catch (err) {
      throw cannotRead(this.path, err);
    }
    this.end += bytes;
    if (bytes === 0) this.eof = true;
    return 0;
  }
}

/** Where the cell the last plainDecimal call read ends (its comma, or the line's end); -1: not read there. */
let cellEnd = 0;

/**
 * The value of the cell at buf[p] in a line that ends at e, when it is a plain decimal (an optional sign,
 * digits with an optional point, no exponent) and digits / 10^k is exact: the digits fit in 2^53 and 10^k is
 * exact, so IEEE division rounds the quotient once, correctly, as Number() does. NaN for an empty cell.
 * Sets cellEnd, to -1 for any other cell.
 */
function plainDecimal(buf: Buffer, p: number, e: number): number {
  if (p === e || buf[p] === COMMA) {
    cellEnd = p;
    return Number.NaN;
  }
  const first = buf[p] as number;
  const negative = first === 45;
  if (negative || first === 43) p++;
  const from = p;
  let mantissa = 0;
  let d = 0;
  // Two loops, the digits before the point and after it, keep the loop of each digit to one test.
  while (p < e && (d = (buf[p] as number) - 48) >= 0 && d <= 9) {
    mantissa = mantissa * 10 + d;
    p++;
  }
  let digits = p - from;
  let scale = 0;
  if (p < e && buf[p] === 46) {
    const point = ++p;
    while (p < e && (d = (buf[p] as number) - 48) >= 0 && d <= 9) {
      mantissa = mantissa * 10 + d;
      p++;
    }
    scale = p - point;
    digits += scale;
  }
  if ((p < e && buf[p] !== COMMA) || digits === 0 || mantissa >= MAX_EXACT || scale > 22) {
    cellEnd = -1;
    return 0;
  }
  cellEnd = p;
  const v = scale === 0 ? mantissa : mantissa / (POW10[scale] as number);
  return negative ? -v : v;
}

/** Where the cell at buf[p] ends: its comma or the line's end. */
function cellEndFrom(buf: Buffer, p: number, e: number): number {
  while (p < e && buf[p] !== COMMA) p++;
  return p;
}

/** Text of buf[p..e): latin1 (a plain copy) when every byte is ASCII, UTF-8 otherwise. */
function text(buf: Buffer, p: number, e: number): string {
  for (let i = p; i < e; i++) if ((buf[i] as number) > 127) return buf.toString("utf8", p, e);
  return buf.toString("latin1", p, e);
}

/**
 * Batches of an `id, numbers... [, target]` file, each either read by the fast path (ScannedBatch) or by
 * readCsvBatches (CsvBatch) from the first batch the fast path does not read on. Batches hold `batchRows`
 * rows as readCsvBatches' do, so rows are checked in the same groups and the first error is the same one.
 */
export async function* scanBatches(path: string, batchRows: number): AsyncGenerator<ScannedBatch | CsvBatch> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (err) {
    throw cannotRead(path, err);
  }
  const w = new Window(path, file);
  let handOver: number | undefined;
  let header: string[] | undefined;
  let firstRow = 2;
  try {
    let pos = await w.refill(0);
    if (w.end >= 3 && w.buf[0] === 0xef && w.buf[1] === 0xbb && w.buf[2] === 0xbf) pos = 3;
    // The header: the first line with more than blanks, unless a quote makes it one for readCsvBatches.
    while (header === undefined) {
      let nl = w.buf.indexOf(LF, pos);
      if (nl === -1 || nl >= w.end) {
        if (!w.eof) {
          pos = await w.refill(pos);
          continue;
        }
        nl = w.end;
        if (pos >= nl) break;
      }
      const end = nl > pos && w.buf[nl - 1] === CR ? nl - 1 : nl;
      const lineStart = pos;
      pos = nl + 1;
      if (end === lineStart) continue;
      if (w.buf.subarray(lineStart, end).includes(QUOTE)) {
        handOver = 0;
        break;
      }
      const record = w.buf.toString("utf8", lineStart, end).split(",");
      if (record.length === 1 && (record[0] as string).trim() === "") continue;
      header = checkHeader(path, record);
    }
    if (handOver === undefined && header === undefined) {
      // What readCsvBatches says of a file without a header.
      handOver = 0;
    }
    if (handOver === undefined && header !== undefined) {
      const width = header.length;
      const hasTarget = header[width - 1] === TARGET;
      const d = width - 1 - (hasTarget ? 1 : 0);
      for (;;) {
        const start = w.base + pos;
        const ids: string[] = [];
        const values = new Float64Array(batchRows * d);
        const target = hasTarget ? new Uint8Array(batchRows) : undefined;
        let n = 0;
        let other = false;
        while (n < batchRows) {
          let nl = w.buf.indexOf(LF, pos);
          if (nl === -1 || nl >= w.end) {
            if (!w.eof) {
              pos = await w.refill(pos);
              continue;
            }
            nl = w.end;
            if (pos >= nl) break;
          }
          const end = nl > pos && w.buf[nl - 1] === CR ? nl - 1 : nl;
          const lineStart = pos;
          pos = nl + 1;
          if (end === lineStart) continue;
          if (!scanLine(path, w.buf, lineStart, end, width, d, n, firstRow + n, ids, values, target)) {
            other = true;
            break;
          }
          n++;
        }
        if (other) {
          handOver = start;
          break;
        }
        if (n === 0 && firstRow > 2) break;
        yield { path, header, firstRow, ids, values: values.subarray(0, n * d), target: target?.subarray(0, n) };
        firstRow += n;
        if (n < batchRows) break;
      }
    }
  } finally {
    await file.close();
  }
  if (handOver !== undefined) {
    yield* readCsvBatches(path, batchRows, header === undefined ? undefined : { offset: handOver, header, firstRow });
  }
}

/**
 * One line buf[p..e) into row `r` of the batch; false when the line is not one the fast path reads. A cell
 * outside the plain decimals goes through parseNumber, for the exact value of an exponent or of many digits.
 */
function scanLine(
  path: string,
  buf: Buffer,
  p: number,
  e: number,
  width: number,
  d: number,
  r: number,
  row: number,
  ids: string[],
  values: Float64Array,
  target: Uint8Array | undefined,
): boolean {
  let q = p;
  let high = 0;
  for (; q < e; q++) {
    const c = buf[q] as number;
    if (c === COMMA) break;
    if (c === QUOTE) return false;
    high |= c;
  }
  ids.push(high > 127 ? buf.toString("utf8", p, q) : buf.toString("latin1", p, q));
  let cells = 1;
  const base = r * d;
  for (let j = 0; j < d; j++) {
    if (q === e) return false;
    p = q + 1;
    cells++;
    let v = plainDecimal(buf, p, e);
    q = cellEnd;
    if (q === -1) {
      q = cellEndFrom(buf, p, e);
      try {
        v = parseNumber(path, text(buf, p, q), row, "");
      } catch {
        return false;
      }
    }
    values[base + j] = v;
  }
  if (target) {
    if (q === e) return false;
    p = q + 1;
    q = cellEndFrom(buf, p, e);
    cells++;
    const c = buf[p] as number;
    if (q === p + 1 && (c === 48 || c === 49)) target[r] = c - 48;
    else {
      const s = text(buf, p, q).trim();
      if (s !== "0" && s !== "1") return false;
      target[r] = Number(s);
    }
  }
  return cells === width && q === e;
}
