import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import Papa from "papaparse";
import { InputError } from "./errors.ts";

/** A CSV file as read: header and rows of strings, every row as wide as the header. */
export interface Table {
  path: string;
  header: string[];
  rows: string[][];
}

export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(path, code === "ENOENT" ? "file not found" : `cannot read (${code ?? err})`);
  }
}

export async function readCsv(path: string): Promise<Table> {
  let text = await readText(path);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === "") throw new InputError(path, "file is empty");
  const parsed = Papa.parse<string[]>(text, { skipEmptyLines: true });
  const fatal = parsed.errors.find((e) => e.type === "Quotes");
  if (fatal) throw new InputError(path, `malformed CSV at row ${(fatal.row ?? 0) + 1}: ${fatal.message}`);
  const [header, ...rows] = parsed.data;
  if (!header) throw new InputError(path, "file is empty");
  const names = header.map((h) => h.trim());
  names.forEach((name, i) => {
    if (name === "") throw new InputError(path, `column ${i + 1} has an empty name`);
    if (names.indexOf(name) !== i) throw new InputError(path, `duplicate column "${name}"`);
  });
  rows.forEach((row, i) => {
    if (row.length !== names.length) {
      throw new InputError(path, `row ${i + 2} has ${row.length} fields, the header has ${names.length}`);
    }
  });
  return { path, header: names, rows };
}

/** CSV text with a trailing newline; fields are quoted only where needed. */
export const toCsv = (header: string[], rows: (string | number)[][]) =>
  `${Papa.unparse({ fields: header, data: rows }, { newline: "\n" })}\n`;

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses one numeric cell. Empty means missing (NaN); anything that is not a plain finite decimal
 * number (text, "NaN", "Infinity", hex) is refused, naming the row and the column.
 */
export function parseNumber(path: string, cell: string, row: number, column: string): number {
  const s = cell.trim();
  if (s === "") return Number.NaN;
  if (!NUMBER_RE.test(s)) throw new InputError(path, `row ${row}, column "${column}": not a finite number ("${cell}")`);
  const v = Number(s);
  if (!Number.isFinite(v)) throw new InputError(path, `row ${row}, column "${column}": not a finite number ("${cell}")`);
  return v;
}

/** Fixed-precision text for features and probabilities: same value, same bytes, on every machine. */
export const fmt = (v: number, digits = 6) => (Number.isNaN(v) ? "" : Number(v.toFixed(digits)).toString());

export async function sha256Files(paths: string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const p of paths) {
    try {
      hash.update(await readFile(p));
    } catch (err) {
      throw new InputError(p, `cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
  }
  return hash.digest("hex");
}
