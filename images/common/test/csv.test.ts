import { expect } from "chai";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  checkColumns,
  csvField,
  fmt,
  frameHeader,
  frameRows,
  parseNumber,
  readCsv,
  readCsvBatches,
  readFrame,
  readFrames,
  sha256Files,
  toCsv,
  toFrame,
  CsvSink,
  csvLines,
  readHeader,
  readTargets,
} from "../src/index.ts";
import { withTmp } from "./helpers.ts";

async function frameOf(text: string, opts?: Parameters<typeof toFrame>[1]) {
  return withTmp(async (dir) => {
    const p = join(dir, "data.csv");
    await writeFile(p, text);
    return toFrame(await readCsv(p), opts);
  });
}

async function errorOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected an error");
}

describe("CSV reading and schema checks", () => {
  it("reads ids as strings, numbers as numbers, empty cells as missing", async () => {
    const f = await frameOf("id,a,b\nx1,1.5,\nx2,-2e-3,7\n");
    expect(f.ids).to.deep.equal(["x1", "x2"]);
    expect(f.columns).to.deep.equal(["a", "b"]);
    expect(Array.from(f.values).slice(0, 1)).to.deep.equal([1.5]);
    expect(Number.isNaN(f.values[1])).to.equal(true);
    expect(Array.from(f.values).slice(2)).to.deep.equal([-0.002, 7]);
    expect(f.target).to.equal(undefined);
  });

  it("reads a target column as 0/1 labels", async () => {
    const f = await frameOf("id,a,target\n1,0.1,1\n2,0.2,0\n", { withTarget: true });
    expect(Array.from(f.target ?? [])).to.deep.equal([1, 0]);
  });

  it("round-trips a frame through toCsv", async () => {
    const text = "id,a,target\n1,0.1,1\n2,,0\n";
    const f = await frameOf(text);
    expect(toCsv(frameHeader(f), frameRows(f, fmt))).to.equal(text);
  });

  const bad: [string, string, RegExp][] = [
    ["empty file", "", /file is empty/],
    ["header only", "id,a\n", /no data rows/],
    ["ragged row", "id,a\n1,2,3\n", /row 2 has 3 fields, the header has 2/],
    ["no id column", "a,b\n1,2\n", /first column must be "id"/],
    ["duplicate ids", "id,a\n1,2\n1,3\n", /duplicate id "1" in rows 2 and 3/],
    ["empty id", "id,a\n,2\n", /row 2: empty id/],
    ["duplicate column", "id,a,a\n1,2,3\n", /duplicate column "a"/],
    ["text value", "id,a\n1,abc\n", /row 2, column "a": not a finite number \("abc"\)/],
    ["NaN literal", "id,a\n1,NaN\n", /not a finite number \("NaN"\)/],
    ["infinity", "id,a\n1,Infinity\n", /not a finite number/],
    ["huge number", "id,a\n1,1e999\n", /not a finite number/],
    ["target not 0/1", "id,a,target\n1,2,2\n", /target must be 0 or 1, got "2"/],
    ["target not last", "id,target,a\n1,1,2\n", /"target" must be the last column/],
  ];
  for (const [name, text, re] of bad) {
    it(`refuses ${name}, naming the file`, async () => {
      const msg = await errorOf(() => frameOf(text));
      expect(msg).to.match(re);
      expect(msg).to.match(/data\.csv: /);
    });
  }

  it("names a missing file", async () => {
    const msg = await errorOf(() => readCsv("/nonexistent/raw/data.csv"));
    expect(msg).to.equal("/nonexistent/raw/data.csv: file not found");
  });

  it("checks columns against the expected ones", () => {
    expect(() => checkColumns("f", ["a", "c"], ["a", "b"])).to.throw("f: missing columns b; unexpected columns c");
    expect(() => checkColumns("f", ["b", "a"], ["a", "b"])).to.throw("columns out of order");
    expect(() => checkColumns("f", ["a", "b"], ["a", "b"])).not.to.throw();
  });

  it("reads targets and refuses a wrong header", () =>
    withTmp(async (dir) => {
      const p = join(dir, "target.csv");
      await writeFile(p, "id,target\na,1\nb,0\n");
      expect([...(await readTargets(p))]).to.deep.equal([["a", 1], ["b", 0]]);
      await writeFile(p, "id,label\na,1\n");
      expect(await errorOf(() => readTargets(p))).to.contain('expected columns "id,target"');
      await writeFile(p, "id,target\n");
      expect(await errorOf(() => readTargets(p))).to.equal(`${p}: no data rows (header only)`);
      await writeFile(p, "id,target\na,1\nb,0\na,0\n");
      expect(await errorOf(() => readTargets(p))).to.equal(`${p}: duplicate id "a" in rows 2 and 4`);
      await writeFile(p, "id,target\na,1\nb,2\n");
      expect(await errorOf(() => readTargets(p))).to.equal(`${p}: row 3, column "target": target must be 0 or 1, got "2"`);
    }));

  it("writes rows through a small buffer exactly as csvLines would, long lines included", async () => {
    const rows = [["id", "note"], ...Array.from({ length: 500 }, (_, i) => [`r${i}`, i === 250 ? "x".repeat(300) : `a, "b" ${i}`])];
    const pieces: Buffer[] = [];
    // Copies: the sink reuses its buffer once a write has returned.
    const sink = new CsvSink(async (data) => void pieces.push(Buffer.from(data)), 256);
    await sink.rows(rows.slice(0, 200));
    await sink.rows(rows.slice(200));
    await sink.flush();
    expect(pieces.length).to.be.greaterThan(10);
    expect(Buffer.concat(pieces).toString()).to.equal(csvLines(rows));
  });

  it("reads a header alone, with the checks of a full read", () =>
    withTmp(async (dir) => {
      const p = join(dir, "data.csv");
      await writeFile(p, `id,f00\n${"a,1\n".repeat(50_000)}`);
      expect(await readHeader(p)).to.deep.equal(["id", "f00"]);
      await writeFile(p, "id,f00\n");
      expect(await readHeader(p)).to.deep.equal(["id", "f00"]);
      await writeFile(p, "");
      expect(await errorOf(() => readHeader(p))).to.equal(`${p}: file is empty`);
      expect(await errorOf(() => readHeader(join(dir, "none.csv")))).to.contain(`${join(dir, "none.csv")}: `);
    }));

  it("formats numbers to fixed precision, missing as empty", () => {
    expect(fmt(0.1234567891)).to.equal("0.123457");
    expect(fmt(2)).to.equal("2");
    expect(fmt(Number.NaN)).to.equal("");
    expect(parseNumber("f", " 3.5 ", 2, "a")).to.equal(3.5);
  });
});

describe("CSV reading in batches", () => {
  async function batchesOf(text: string | Buffer, batchRows: number) {
    return withTmp(async (dir) => {
      const p = join(dir, "data.csv");
      await writeFile(p, text);
      const out = [];
      for await (const b of readCsvBatches(p, batchRows)) out.push({ header: b.header, rows: b.rows, firstRow: b.firstRow });
      return out;
    });
  }

  async function framesOf(text: string, batchRows: number, opts?: Parameters<typeof readFrames>[1]) {
    return withTmp(async (dir) => {
      const p = join(dir, "data.csv");
      await writeFile(p, text);
      const out = [];
      for await (const f of readFrames(p, opts, batchRows)) out.push(f);
      return out;
    });
  }

  it("gives the header with every batch and numbers rows across batches", async () => {
    const batches = await batchesOf("id,a\nx,1\ny,2\nz,3\n", 2);
    expect(batches).to.deep.equal([
      { header: ["id", "a"], rows: [["x", "1"], ["y", "2"]], firstRow: 2 },
      { header: ["id", "a"], rows: [["z", "3"]], firstRow: 4 },
    ]);
    // A header-only file still gives its header, in one batch without rows.
    expect(await batchesOf("id,a\n", 2)).to.deep.equal([{ header: ["id", "a"], rows: [], firstRow: 2 }]);
  });

  it("reads quoted fields (commas, doubled quotes, line breaks), CRLF lines, a BOM, and skips empty lines", async () => {
    const text = '\ufeffid,"note"\r\n"a,1","say ""hi"""\r\n\r\nb,"two\nlines"\nc,\n"d",plain"quote\n';
    const [batch] = await batchesOf(text, 100);
    expect(batch?.header).to.deep.equal(["id", "note"]);
    expect(batch?.rows).to.deep.equal([
      ["a,1", 'say "hi"'],
      ["b", "two\nlines"],
      ["c", ""],
      ["d", 'plain"quote'],
    ]);
  });

  it("reads records that straddle the reader's 1 MiB chunks, quoted or not", async () => {
    const expected: string[][] = [];
    let text = "id,note\n";
    for (let i = 0; text.length < 3 * 2 ** 20; i++) {
      // Every 997th row holds a quoted field with a line break, a comma and doubled quotes; the others are plain.
      const note = i % 997 === 0 ? `multi\nline, "${i}"` : `row ${i} ${"x".repeat(i % 50)}`;
      expected.push([`id-${i}`, note]);
      text += `id-${i},${i % 997 === 0 ? `"${note.replaceAll('"', '""')}"` : note}\n`;
    }
    const batches = await batchesOf(text, 10_000);
    expect(batches.flatMap((b) => b.rows)).to.deep.equal(expected);
    expect(batches.map((b) => b.firstRow)).to.deep.equal(batches.map((_, k) => 2 + k * 10_000));
  });

  it("reads multi-byte characters cut by a chunk boundary", async () => {
    // "é" is two bytes in UTF-8: the padding puts one of them on each side of the first 1 MiB chunk.
    const head = "id,name\n";
    const pad = `p,${"x".repeat(2 ** 20 - head.length - 3 - 1)}\n`;
    const [batch] = await batchesOf(Buffer.from(`${head}${pad}q,é\n`), 100);
    expect(batch?.rows.at(-1)).to.deep.equal(["q", "é"]);
  });

  const malformed: [string, string, RegExp][] = [
    ["an unterminated quote", 'id,a\nx,"open\ny,2\n', /data\.csv: malformed CSV at row 2: Quoted field unterminated$/],
    ["text after a closing quote", 'id,a\nx,1\ny,"2"z\n', /data\.csv: malformed CSV at row 3: Trailing quote on quoted field is malformed$/],
    ["a ragged row in a later batch", "id,a\nx,1\ny,2\nz,3,4\n", /data\.csv: row 4 has 3 fields, the header has 2$/],
    ["a file of blanks", "  \n\n", /data\.csv: file is empty$/],
  ];
  for (const [name, text, re] of malformed) {
    it(`refuses ${name}, naming the file and the row`, async () => {
      expect(await errorOf(() => batchesOf(text, 2))).to.match(re);
    });
  }

  it("converts batch by batch what toFrame converts whole, ids checked across batches", async () => {
    const text = "id,a,b\nr1,1.5,\nr2,-2e-3,7\nr3,0,8\nr4,.25,9\nr5,3,\n";
    const frames = await framesOf(text, 2);
    expect(frames.map((f) => f.ids)).to.deep.equal([["r1", "r2"], ["r3", "r4"], ["r5"]]);
    const whole = await frameOf(text);
    expect(frames.flatMap((f) => Array.from(f.values))).to.deep.equal(Array.from(whole.values));
    expect(await errorOf(() => framesOf("id,a\nx,1\ny,2\nz,3\nx,4\n", 2))).to.match(/data\.csv: duplicate id "x" in rows 2 and 5$/);
    expect(await errorOf(() => framesOf("id,a\nx,1\ny,2\nz,oops\n", 2))).to.match(/data\.csv: row 4, column "a": not a finite number \("oops"\)$/);
    expect(await errorOf(() => framesOf("id,a\n", 2))).to.match(/data\.csv: no data rows \(header only\)$/);
    expect(await errorOf(() => framesOf("id,a,target\nx,1,0\n", 2, { withTarget: false }))).to.match(/unexpected column "target"$/);
  });

  it("reads a whole file into the frame toFrame gives, across many batches, target included", () =>
    withTmp(async (dir) => {
      const p = join(dir, "train.csv");
      const lines = ["id,a,b,target"];
      for (let i = 0; i < 20_000; i++) lines.push(`r${i},${(i * 0.37) % 5},${i % 7 === 0 ? "" : i},${i % 3 === 0 ? 1 : 0}`);
      await writeFile(p, `${lines.join("\n")}\n`);
      const streamed = await readFrame(p, { withTarget: true });
      const whole = toFrame(await readCsv(p), { withTarget: true });
      expect(streamed.ids).to.deep.equal(whole.ids);
      expect(streamed.columns).to.deep.equal(["a", "b"]);
      expect(Array.from(streamed.values)).to.deep.equal(Array.from(whole.values));
      expect(Array.from(streamed.target ?? [])).to.deep.equal(Array.from(whole.target ?? []));
      expect(await errorOf(() => readFrame(p, { withTarget: false }))).to.match(/train\.csv: unexpected column "target"$/);
    }));

  it("hashes files in pieces to the sha256 of their bytes one after the other", () =>
    withTmp(async (dir) => {
      const a = join(dir, "a.bin");
      const b = join(dir, "b.bin");
      const big = Buffer.alloc(3 * 2 ** 20 + 17, 7);
      await writeFile(a, big);
      await writeFile(b, "tail");
      const expected = createHash("sha256").update(big).update("tail").digest("hex");
      expect(await sha256Files([a, b])).to.equal(expected);
      expect(await errorOf(() => sha256Files([join(dir, "missing.bin")]))).to.match(/missing\.bin: file not found$/);
    }));

  it("parses exactly the numbers the decimal grammar allows, to the same double as Number()", () => {
    const grammar = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
    const cells = [
      "0", "-0", "+1", "1.", ".5", "-.5e-3", "1e5", "1E+5", "2.5e0", "007", "123456789012345678901234", "9007199254740993",
      "0.1234567890123456789012345", "1e-400", "1e400", ".", "+", "-", "1e", "1e+", "e5", "1.2.3", "1e5.5", "0x10", "NaN",
      "Infinity", "1_000", "١", "+-1", "1 2", "--1", "1e--5",
    ];
    const random = Array.from({ length: 2000 }, (_, i) => {
      const v = (Math.sin(i * 12.9898) * 43758.5453) % 1e3;
      return [v.toFixed(i % 10), v.toString(), v.toExponential(i % 8), (v * 1e-9).toString()][i % 4] as string;
    });
    for (const cell of [...cells, ...random]) {
      const expected = grammar.test(cell) ? Number(cell) : Number.NaN;
      let got: number;
      try {
        got = parseNumber("f", cell, 2, "a");
      } catch {
        got = Number.NaN;
      }
      expect(Number.isFinite(expected) ? Object.is(got, expected) : Number.isNaN(got), cell).to.equal(true);
    }
  });

  it("quotes a field exactly when CSV needs it, and reads back what it wrote", async () => {
    const fields = ["plain", "a,b", 'say "hi"', "two\nlines", " lead", "trail ", "\ufeffbom", "in side", 1.5];
    expect(fields.map(csvField)).to.deep.equal([
      "plain", '"a,b"', '"say ""hi"""', '"two\nlines"', '" lead"', '"trail "', '"\ufeffbom"', "in side", "1.5",
    ]);
    const [batch] = await batchesOf(toCsv(["id", "v"], fields.map((f, i) => [`r${i}`, f])), 100);
    expect(batch?.rows.map((r) => r[1])).to.deep.equal(fields.map(String));
  });
});
