import { createHash } from "node:crypto";
import { open, readFile, type FileHandle } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { NUMBER_BYTES, putNumber } from "./csv-write.ts";
import { InputError } from "./errors.ts";

/** A CSV file as read: header and rows of strings, every row as wide as the header. */
export interface Table {
  path: string;
  header: string[];
  rows: string[][];
}

/** Part of a CSV file: the header and the next rows, every row as wide as the header. */
export interface CsvBatch extends Table {
  /** Row number of rows[0] in error messages: the header is row 1, empty lines are not counted. */
  firstRow: number;
}

export const cannotRead = (path: string, err: unknown) => {
  const code = (err as NodeJS.ErrnoException).code;
  return new InputError(path, code === "ENOENT" ? "file not found" : `cannot read (${code ?? err})`);
};

export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw cannotRead(path, err);
  }
}

/**
 * Splits CSV text into records (RFC 4180: a field in double quotes may hold commas, line breaks and doubled
 * quotes), text arriving in pieces. Lines without a quote, nearly all of them, are split on commas directly.
 */
class RecordParser {
  private carry = "";
  /** Records seen so far, empty lines left out: the number of the next one is `records + 1`. */
  records = 0;

  constructor(private readonly path: string) {}

  /** Appends every complete record to `out`; with `final`, the text ends with the last one. */
  push(text: string, final: boolean, out: string[][]): void {
    const s = this.carry.length ? this.carry + text : text;
    const n = s.length;
    let pos = 0;
    // Where the next quote is, found once and reused line after line (-1: none in the rest of the text).
    let quote = -2;
    while (pos < n) {
      let nl = s.indexOf("\n", pos);
      if (nl === -1) {
        if (!final) break;
        nl = n;
      }
      if (quote !== -1 && quote < pos) quote = s.indexOf('"', pos);
      if (quote === -1 || quote > nl) {
        const end = nl > pos && s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        if (end > pos) {
          this.records++;
          out.push(s.slice(pos, end).split(","));
        }
        pos = nl + 1;
        continue;
      }
      const next = this.quoted(s, pos, final, out);
      if (next === -1) break;
      pos = next;
    }
    this.carry = pos < n ? s.slice(pos) : "";
  }

  /** One record that holds a quote, starting at `pos`; returns where the next begins, or -1 if it is not complete yet. */
  private quoted(s: string, pos: number, final: boolean, out: string[][]): number {
    const n = s.length;
    const fields: string[] = [];
    let i = pos;
    for (;;) {
      let field: string;
      if (s.charCodeAt(i) === 34) {
        let value = "";
        let from = i + 1;
        for (;;) {
          const q = s.indexOf('"', from);
          if (q === -1) {
            if (!final) return -1;
            throw new InputError(this.path, `malformed CSV at row ${this.records + 1}: Quoted field unterminated`);
          }
          if (q + 1 === n && !final) return -1;
          if (s.charCodeAt(q + 1) === 34) {
            value += s.slice(from, q + 1);
            from = q + 2;
            continue;
          }
          value += s.slice(from, q);
          i = q + 1;
          break;
        }
        const c = s.charCodeAt(i);
        // After the closing quote only the end of the field may come (a comma, a line break, the end of the text).
        if (i < n && c !== 44 && c !== 10 && !(c === 13 && (i + 1 === n || s.charCodeAt(i + 1) === 10))) {
          throw new InputError(this.path, `malformed CSV at row ${this.records + 1}: Trailing quote on quoted field is malformed`);
        }
        field = value;
      } else {
        let end = i;
        while (end < n) {
          const c = s.charCodeAt(end);
          if (c === 44 || c === 10) break;
          end++;
        }
        if (end === n && !final) return -1;
        field = s.slice(i, end);
        if (s.charCodeAt(end) === 10 && field.endsWith("\r")) field = field.slice(0, -1);
        i = end;
      }
      fields.push(field);
      if (i >= n) {
        if (!final) return -1;
        break;
      }
      const c = s.charCodeAt(i);
      if (c === 44) {
        i++;
        continue;
      }
      if (c === 13) i++;
      i++; // the line break
      break;
    }
    this.records++;
    out.push(fields);
    return i;
  }
}

/** The header's names, trimmed; refuses an empty or a repeated name. */
export function checkHeader(path: string, record: string[]): string[] {
  const names = record.map((h) => h.trim());
  names.forEach((name, i) => {
    if (name === "") throw new InputError(path, `column ${i + 1} has an empty name`);
    if (names.indexOf(name) !== i) throw new InputError(path, `duplicate column "${name}"`);
  });
  return names;
}

/** Rows per batch of readCsvBatches: large enough to amortize the per-batch work, small enough to stay cheap. */
export const CSV_BATCH_ROWS = 8_192;

/**
 * Where readCsvBatches takes over from another reader of the same file: the byte offset of a record's first
 * byte, the header that reader read, and the row number of that record.
 */
export interface CsvResume {
  offset: number;
  header: string[];
  firstRow: number;
}

/**
 * Reads a CSV file in batches of rows, so that a large file never has to be in memory at once. The first batch
 * may hold no rows: it still brings the header. Refuses an empty file, a malformed header, a malformed quoted
 * field and a row whose width differs from the header's, naming the row.
 */
export async function* readCsvBatches(path: string, batchRows = CSV_BATCH_ROWS, resume?: CsvResume): AsyncGenerator<CsvBatch> {
  const decoder = new StringDecoder("utf8");
  const parser = new RecordParser(path);
  let header: string[] | undefined = resume?.header;
  let records: string[][] = [];
  let rows: string[][] = [];
  let firstRow = resume?.firstRow ?? 2;
  if (resume) parser.records = firstRow - 1;
  let start = resume === undefined;
  let yielded = false;
  for await (const piece of filePieces(path, resume?.offset ?? 0)) {
    const end = piece.length === 0;
    let text = end ? decoder.end() : decoder.write(piece);
    if (start && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      start = false;
    }
    parser.push(text, end, records);
    for (const record of records) {
      if (header === undefined) {
        // A first line of blanks only is no header: such a file is as empty as one without any text.
        if (record.length === 1 && (record[0] as string).trim() === "") {
          parser.records--;
          continue;
        }
        header = checkHeader(path, record);
        continue;
      }
      if (record.length !== header.length) {
        throw new InputError(path, `row ${firstRow + rows.length} has ${record.length} fields, the header has ${header.length}`);
      }
      rows.push(record);
      if (rows.length >= batchRows) {
        yield { path, header, rows, firstRow };
        yielded = true;
        firstRow += rows.length;
        rows = [];
      }
    }
    records = [];
  }
  if (header === undefined) throw new InputError(path, "file is empty");
  if (rows.length > 0 || !yielded) yield { path, header, rows, firstRow };
}

/** The header of a CSV file, with every check reading the file would make of it, without reading further. */
export async function readHeader(path: string): Promise<string[]> {
  for await (const batch of readCsvBatches(path, 1)) return batch.header;
  throw new Error(`${path}: read without a header`);
}

export async function readCsv(path: string): Promise<Table> {
  let header: string[] = [];
  const rows: string[][] = [];
  for await (const batch of readCsvBatches(path)) {
    header = batch.header;
    for (const row of batch.rows) rows.push(row);
  }
  return { path, header, rows };
}

const NEEDS_QUOTES = /[",\r\n\ufeff]|^ | $/;

/** One CSV field, quoted only where needed (a comma, a quote, a line break, a leading or trailing blank). */
export function csvField(value: string | number): string {
  const s = String(value);
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** CSV lines of rows, each with its newline. */
export const csvLines = (rows: (string | number)[][]) => {
  let out = "";
  for (const row of rows) out += `${row.map(csvField).join(",")}\n`;
  return out;
};

/**
 * Writes CSV rows through one reused buffer, handed to `write` a buffer at a time. Each line is a short
 * string that dies young, where the text of a whole batch would be one large string: V8 puts strings over
 * 128 KB straight into the old generation, which only a full collection frees, so a large file's text
 * piles up there.
 */
export class CsvSink {
  private readonly buffer: Buffer;
  private used = 0;

  constructor(
    private readonly write: (data: Uint8Array) => Promise<void>,
    size = 1 << 20,
  ) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  async rows(rows: (string | number)[][]): Promise<void> {
    for (const row of rows) {
      const pending = this.text(`${row.map(csvField).join(",")}\n`);
      if (pending) await pending;
    }
  }

  /**
   * One line of a text field and numbers, `field,v0,v1,...`: each number as String(v) writes it, empty for
   * NaN, written into the buffer as bytes. Like `text`, returns a promise only when the buffer had to be
   * handed over first.
   */
  numbers(field: string, values: ArrayLike<number>): Promise<void> | undefined {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8, 6 for a quote doubled; two quotes around it.
    const need = field.length * 6 + 2 + values.length * (NUMBER_BYTES + 1) + 1;
    if (this.used + need <= this.buffer.length) {
      this.putNumbers(field, values);
      return undefined;
    }
    return this.flush().then(async () => {
      if (need <= this.buffer.length) this.putNumbers(field, values);
      else await this.rows([[field, ...Array.from(values, (v) => (Number.isNaN(v) ? "" : String(v)))]]);
    });
  }

  private putNumbers(field: string, values: ArrayLike<number>): void {
    const buf = this.buffer;
    let at = this.used;
    const n = field.length;
    let plain = n === 0 || (field.charCodeAt(0) !== 32 && field.charCodeAt(n - 1) !== 32);
    for (let i = 0; plain && i < n; i++) {
      const c = field.charCodeAt(i);
      if (c > 127 || c === 34 || c === 44 || c === 10 || c === 13) plain = false;
      else buf[at + i] = c;
    }
    at = plain ? at + n : at + buf.write(csvField(field), at);
    for (let j = 0; j < values.length; j++) {
      buf[at++] = 44;
      at = putNumber(buf, at, values[j] as number);
    }
    buf[at++] = 10;
    this.used = at;
  }

  /**
   * Appends text that is already CSV. Returns a promise only when the buffer had to be handed over first,
   * so a caller writing line by line awaits once per buffer, not once per line.
   */
  text(s: string): Promise<void> | undefined {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    if (this.used + s.length * 3 <= this.buffer.length) {
      this.used += this.buffer.write(s, this.used);
      return undefined;
    }
    return this.flush().then(async () => {
      if (s.length * 3 > this.buffer.length) await this.write(Buffer.from(s));
      else this.used += this.buffer.write(s, this.used);
    });
  }

  /** Hands over what is buffered; the buffer is reused once `write` has returned. */
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const data = this.buffer.subarray(0, this.used);
    this.used = 0;
    await this.write(data);
  }
}

/** CSV text with a trailing newline; fields are quoted only where needed. */
export const toCsv = (header: string[], rows: (string | number)[][]) => csvLines([header]) + csvLines(rows);

/** Exact powers of ten as doubles: 10^22 is the last one a double holds exactly. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
const MAX_EXACT = 2 ** 53;

/**
 * The value of a plain decimal number (optional sign, digits with an optional point or a point and digits, an
 * optional exponent: /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/), or NaN for anything else. One scan checks
 * and reads it; when the digits fit in 2^53 and the power of ten is exact, digits / 10^k is the correctly
 * rounded double (both are exact and IEEE division rounds correctly), which is what Number() returns, at a
 * fraction of its cost on the millions of cells of a large file. Other numbers go through Number().
 */
function parseDecimal(s: string): number {
  const n = s.length;
  let i = 0;
  let c = s.charCodeAt(0);
  const negative = c === 45;
  if (negative || c === 43) i++;
  let digits = 0;
  let mantissa = 0;
  let scale = 0;
  let point = false;
  for (; i < n; i++) {
    c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      mantissa = mantissa * 10 + (c - 48);
      if (point) scale++;
    } else if (c === 46 && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (digits === 0) return Number.NaN;
  if (i < n) {
    if (c !== 101 && c !== 69) return Number.NaN;
    i++;
    c = s.charCodeAt(i);
    const negativeExp = c === 45;
    if (negativeExp || c === 43) i++;
    if (i === n) return Number.NaN;
    let exp = 0;
    for (; i < n; i++) {
      c = s.charCodeAt(i);
      if (c < 48 || c > 57) return Number.NaN;
      exp = exp * 10 + (c - 48);
    }
    // Checked and well-formed: the exponent makes the fast path rarely apply, Number() reads it exactly.
    if (exp !== 0) return Number(s);
  }
  if (mantissa >= MAX_EXACT || scale > 22) return Number(s);
  const v = scale === 0 ? mantissa : mantissa / (POW10[scale] as number);
  return negative ? -v : v;
}

/**
 * Parses one numeric cell. Empty means missing (NaN); anything that is not a plain finite decimal
 * number (text, "NaN", "Infinity", hex) is refused, naming the row and the column.
 */
export function parseNumber(path: string, cell: string, row: number, column: string): number {
  const s = cell.trim();
  if (s === "") return Number.NaN;
  const v = parseDecimal(s);
  if (!Number.isFinite(v)) throw new InputError(path, `row ${row}, column "${column}": not a finite number ("${cell}")`);
  return v;
}

/** Fixed-precision text for features and probabilities: same value, same bytes, on every machine. */
export const fmt = (v: number, digits = 6) => (Number.isNaN(v) ? "" : Number(v.toFixed(digits)).toString());

/** Lines of a file (line breaks, plus one for a last line without its own): at least as many as its CSV records. */
export async function countLines(path: string): Promise<number> {
  let lines = 1;
  for await (const bytes of filePieces(path)) {
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
  }
  return lines;
}

/** sha256 of the files' bytes one after the other, read in pieces: a large file is never in memory whole. */
export async function sha256Files(paths: string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const p of paths) for await (const bytes of filePieces(p)) hash.update(bytes);
  return hash.digest("hex");
}

/**
 * A file's bytes piece by piece through one reused buffer (a piece is valid until the next is asked for),
 * then one empty piece to say the file has ended. A stream would allocate a new buffer per piece, which
 * piles up outside V8's heap until a collection (40 MB for a 40 MB file).
 */
async function* filePieces(path: string, from = 0): AsyncGenerator<Buffer> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (err) {
    throw cannotRead(path, err);
  }
  try {
    const buffer = Buffer.allocUnsafe(1 << 16);
    for (let position = from; ; ) {
      let bytes: number;
      try {
        ({ bytesRead: bytes } = await file.read(buffer, 0, buffer.length, position));
        position += bytes;
      } catch (err) {
        throw cannotRead(path, err);
      }
      yield buffer.subarray(0, bytes);
      if (bytes === 0) return;
    }
  } finally {
    await file.close();
  }
}
