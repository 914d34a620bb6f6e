import { expect } from "chai";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readFrames, readFramesAsText, rng, type Frame, type FrameOptions } from "../src/index.ts";
import { availableParallelism } from "node:os";
import { setThreading, threading, threadStats } from "../src/csv-threads.ts";
import { withTmp } from "./helpers.ts";

/** Everything readFrames gives for a file: its frames, or the message it fails with. */
async function outcome(read: typeof readFrames, path: string, opts: FrameOptions, batchRows: number) {
  const frames: Frame[] = [];
  try {
    for await (const f of read(path, opts, batchRows)) frames.push(f);
  } catch (err) {
    return { error: (err as Error).message };
  }
  return {
    ids: frames.flatMap((f) => f.ids),
    // Object.is tells -0 from 0 and NaN from NaN's absence: the values as bit-exact strings.
    values: frames.flatMap((f) => Array.from(f.values, (v) => (Object.is(v, -0) ? "-0" : String(v)))),
    target: frames.flatMap((f) => Array.from(f.target ?? [])),
    sizes: frames.map((f) => f.ids.length),
  };
}

let threadSegment = 5;
let threadRuns = 0;

async function same(text: string | Buffer, opts: FrameOptions = {}, batchRows = 3) {
  return withTmp(async (dir) => {
    const p = join(dir, "data.csv");
    await writeFile(p, text);
    const fast = await outcome(readFrames, p, opts, batchRows);
    const slow = await outcome(readFramesAsText, p, opts, batchRows);
    expect(fast, JSON.stringify(text.toString())).to.deep.equal(slow);
    // On worker threads, segments of a few bytes: boundaries fall in every kind of place.
    const before = threadStats.complete + threadStats.stopped;
    setThreading({ threads: 3, minBytes: 0, segmentBytes: Math.max(threadSegment, Math.ceil(text.length / 200)) });
    try {
      const threaded = await outcome(readFrames, p, opts, batchRows);
      expect(threaded, `threaded: ${JSON.stringify(text.toString())}`).to.deep.equal(slow);
    } finally {
      setThreading({ threads: 1 });
    }
    threadRuns += threadStats.complete + threadStats.stopped - before;
    return fast;
  });
}

describe("CSV fast path: the frames and the errors of the text path", () => {
  before(() => setThreading({ threads: 1 }));
  after(() => setThreading({}));

  it("reads plain files to the same ids, numbers and targets", async () => {
    const r = await same("id,a,b,target\nx1,1.5,,1\nx2,-2e-3,7,0\nx3,+.5,1.,1\nx4,-0,007,0\n", {}, 2);
    expect(r).to.deep.include({ ids: ["x1", "x2", "x3", "x4"], target: [1, 0, 1, 0] });
    await same("\ufeffid,a\r\nr1,1\r\n\r\n\nr2,2\r\n", {}, 1);
    await same("id,a\nr1,1\nr2,2", {}, 5);
    await same("id,a\nr1,1\nr2,2\nr3,3\n", {}, 3);
    await same("  \n\nid,a\nr1,1\n", {}, 3);
    await same("id,a\nré,1\n日本,2\n", {}, 3);
    await same(Buffer.from([0xef]), {}, 3);
    await same(Buffer.from([0xef, 0xbb, 0xbf]), {}, 3);
    await same(Buffer.from([0xef, 0xbb, 0xbf, 0x69, 0x64, 0x2c, 0x61, 0x0a, 0x78, 0x2c, 0x31]), {}, 3);
  });

  const bad: [string, string, FrameOptions?][] = [
    ["empty", ""],
    ["blanks", " \n\n"],
    ["header only", "id,a\n"],
    ["ragged after a bad number", "id,a\nx,abc\ny,1,2\n"],
    ["bad number then ragged in the next batch", "id,a\nx,1\ny,2\nz,abc\nw,1,2\n"],
    ["empty id after a bad number", "id,a\n,1\nx,abc\n"],
    ["duplicate id", "id,a\nx,1\ny,2\nz,3\nx,4\n"],
    ["target 2", "id,a,target\nx,1,2\n"],
    ["target blank", "id,a,target\nx,1,\n"],
    ["target padded", "id,a,target\nx,1, 1\n"],
    ["no id column", "a,b\n1,2\n"],
    ["target not last, ragged", "id,target,a\n1,1\n"],
    ["quoted header", '"id","a"\n"x",1\n'],
    ["quoted cells", 'id,a\nx,1\ny,2\nz,3\n"w,1",4\nv,"5"\n'],
    ["unterminated quote", 'id,a\nx,1\ny,"2\n'],
    ["text after a quote", 'id,a\nx,1\ny,2\nz,3\nw,"4"x\n'],
    ["a lone CR in a cell", "id,a\nx,1\r2\ny,\r3\n"],
    ["an unexpected target", "id,a,target\nx,1,0\n", { withTarget: false }],
    ["a missing target", "id,a\nx,1\n", { withTarget: true }],
    ["columns of a model", "id,b,a\nx,1,2\n", { expected: ["a", "b"] }],
    ["duplicate column", "id,a,a\nx,1,2\n"],
  ];
  for (const [name, text, opts] of bad) it(`fails or reads as the text path does: ${name}`, () => same(text, opts));

  it("reads what the text path reads for random files, good and bad", async function () {
    // Each file is also read on worker threads, which take a few milliseconds to start.
    this.timeout(180_000);
    const r = rng("csv-scan-fuzz");
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)] as T;
    const numbers = [
      "1", "-0", "+2", "0.5", ".5", "5.", "-1.25", "1e3", "1E-3", " 4 ", "", "", "abc", "NaN", "1e999", "0x1",
      "12345678901234567890", "0.30000000000000004", '"7"', "1.2.3", "-", ".", "\t8", "9\r",
    ];
    const ids = () => pick(["a", "b", "c", "", " ", "é", '"q"', `id${Math.floor(r() * 50)}`, `id${Math.floor(r() * 50)}`]);
    for (let k = 0; k < 300; k++) {
      const width = 1 + Math.floor(r() * 3);
      const target = r() < 0.5;
      const header = ["id", ...Array.from({ length: width }, (_, j) => `f${j}`), ...(target ? ["target"] : [])];
      const lines = [header.join(",")];
      const rows = Math.floor(r() * 8);
      for (let i = 0; i < rows; i++) {
        // Mostly good rows, so that a file's one fault is met at varied places.
        const good = r() < 0.85;
        const cells = [good ? `r${i}` : ids()];
        for (let j = 0; j < width; j++) cells.push(good ? String(Math.round((r() - 0.5) * 1e6) / 1e3) : pick(numbers));
        if (target) cells.push(good ? pick(["0", "1"]) : pick(["0", "1", "2", "", " 1"]));
        if (!good && r() < 0.2) cells.pop();
        if (!good && r() < 0.1) cells.push("1");
        lines.push(cells.join(","));
        if (r() < 0.05) lines.push("");
      }
      const eol = r() < 0.2 ? "\r\n" : "\n";
      await same(lines.join(eol) + (r() < 0.8 ? eol : ""), {}, 1 + Math.floor(r() * 4));
    }
  });

  it("names both rows of a repeated id, ids in order or not, across batches", async () => {
    const cases: [string, string][] = [
      ["a,b,c,b", 'duplicate id "b" in rows 3 and 5'],
      ["c,a,b,a", 'duplicate id "a" in rows 3 and 5'],
      ["a,c,b,c", 'duplicate id "c" in rows 3 and 5'],
      ["a,b,c,d,a", 'duplicate id "a" in rows 2 and 6'],
      ["b,a,c,e,d,e", 'duplicate id "e" in rows 5 and 7'],
      ["a,b,a1,a", 'duplicate id "a" in rows 2 and 5'],
      ["x9,x10,x11,x10", 'duplicate id "x10" in rows 3 and 5'],
      ["b,aa,c,b", 'duplicate id "b" in rows 2 and 5'],
    ];
    for (const [ids, message] of cases) {
      for (const batchRows of [1, 2, 100]) {
        const r = await same(`id,x\n${ids.split(",").map((id) => `${id},1`).join("\n")}\n`, {}, batchRows);
        expect(r.error, ids).to.match(new RegExp(`data\\.csv: ${message}$`));
      }
    }
  });

  it("parses every number to the double Number() gives", async () => {
    const r = rng("csv-scan-numbers");
    const cells: string[] = [
      "0", "-0", "+0", "0.0", "-0.0", "9007199254740991", "9007199254740992", "9007199254740993", "0.1", "0.2", "0.3",
      "1.7976931348623157", "4.9406564584124654", "2.2250738585072014", "123456789012345.6", "1234567890123456.7",
      "0.000000000000000000001", "0.0000000000000000000001", "0.00000000000000000000001", "1e-7", "5e-324", "1.5e308",
      "+1.", "-.25", "00001.50000", "3.14159265358979323846", "-999999.999999",
    ];
    for (let i = 0; i < 3000; i++) {
      const v = (r() - 0.5) * 10 ** Math.floor(r() * 30 - 15);
      cells.push(String(v), v.toFixed(Math.floor(r() * 20)), v.toPrecision(1 + Math.floor(r() * 21)), v.toExponential(Math.floor(r() * 18)));
      cells.push(`${Math.floor(r() * 1e9)}.${String(Math.floor(r() * 1e9)).padStart(9, "0")}`);
    }
    const text = `id,a\n${cells.map((c, i) => `r${i},${c}`).join("\n")}\n`;
    const got = await withTmp(async (dir) => {
      const p = join(dir, "n.csv");
      await writeFile(p, text);
      const out: number[] = [];
      for await (const f of readFrames(p, {}, 1000)) out.push(...f.values);
      return out;
    });
    expect(got.length).to.equal(cells.length);
    cells.forEach((c, i) => expect(Object.is(got[i], Number(c)), `${c}: ${got[i]} vs ${Number(c)}`).to.equal(true));
  });

  it("reads lines across the reader's window, a line longer than the window, a fault far into the file", async () => {
    const lines = ["id,a,b"];
    for (let i = 0; i < 120_000; i++) lines.push(`row-${i},${(i * 0.731) % 97},${i % 13 === 0 ? "" : -i / 8}`);
    lines.splice(70_000, 0, `long,${"1".repeat(15)}.${"0".repeat(3 << 20)},2`);
    const text = `${lines.join("\n")}\n`;
    const r = await same(text, {}, 8192);
    expect(r.ids?.length).to.equal(120_001);
    await same(text.replace("row-100000,", '"row-100000",'), {}, 8192);
    await same(text.replace("row-110000,", "row-110000,x"), {}, 8192);
  });

  it("reads the line ends, ids and targets of the one-pass scanner as the text path does", async function () {
    this.timeout(60_000);
    // A last line ending in a CR alone, lines of a CR only, CRs inside cells, CRLF after a target.
    await same("id,a,target\r\nx,1,1\r\ny,2,0\r", {}, 2);
    await same("id,a\nx,1\n\r\n\r\ny,2\n\r", {}, 2);
    await same("id,a,b\nx,1\r,2\ny,3,4\r\n", {}, 2);
    await same("id,a,target\nx,1,1\r\ny,2, 0\r\nz,3,0 \n", {}, 2);
    await same("id,a,target\nx,1,1,\n", {}, 2);
    await same("id,a,target\nx,1,\"1\"\n", {}, 2);
    await same("id,a\nx,1,\n", {}, 2);
    await same("id,a\nx\n", {}, 2);
    await same("id,a\nx", {}, 2);
    await same("id,a\r\nx,", {}, 2);
    await same("id,a\n\r", {}, 2);
    // Ids of every length the scanner writes by its own code and longer, ASCII and not.
    const ids = Array.from({ length: 30 }, (_, k) => "abcdefghijklmnopqrstuvwxyz0123456789".slice(0, k + 1));
    const r = await same(`id,a\n${[...ids, "é", "日本語", "\u00ff"].map((id, i) => `${id},${i}`).join("\n")}\n`, {}, 4);
    expect(r.ids).to.deep.equal([...ids, "é", "日本語", "\u00ff"]);
    // Numbers whose fast reading stops at every kind of byte.
    for (const cell of ["1e5", "-1.5E-3", "+.5", "5.", "-0", "-0.0", "0.1234567890123456789", "123456789012345678", " 7", "7 ", "\t7", "1,5", "--1", "+-1", "1..2", ".", "-", "+", "0x10", "1_0", "Infinity", "1e400", "١"]) {
      await same(`id,a,b\nx,${cell},1\ny,1,${cell}\n`, {}, 1);
    }
  });

  it("reads on worker threads as on one, each segment from any place, and stops at what only one reads", async function () {
    this.timeout(120_000);
    const lines = ["id,a,b,target"];
    for (let i = 0; i < 600; i++) lines.push(`r${i},${(i * 0.731) % 97},${i % 13 === 0 ? "" : -i / 8},${i % 2}`);
    for (const segment of [1, 7, 100, 4096, 1 << 20]) {
      if (segment === 1) lines.length = 60;
      threadSegment = segment;
      const complete = threadStats.complete;
      const text = `${lines.join("\n")}\n`;
      const r = await same(text, {}, 100);
      expect(r.ids?.length).to.equal(lines.length - 1);
      expect(threadStats.complete, `segment ${segment}`).to.equal(complete + 1);
      await same(text.replace("r50,", '"r50",'), {}, 7);
      await same(text.replace("r10,", '"r\n10",'), {}, 7);
      await same(text.replace("r59,", "r59,x"), {}, 7);
      await same(text.replace("r40,", "r1,"), {}, 7);
      await same(text.slice(0, -1), {}, 100);
    }
    threadSegment = 5;
    expect(threadRuns).to.be.greaterThan(0);
  });
});

describe("AML_CSV_THREADS", () => {
  const saved = process.env.AML_CSV_THREADS;
  afterEach(() => {
    if (saved === undefined) delete process.env.AML_CSV_THREADS;
    else process.env.AML_CSV_THREADS = saved;
  });

  it("reads on one thread unless told", () => {
    delete process.env.AML_CSV_THREADS;
    expect(threading().threads).to.equal(1);
    process.env.AML_CSV_THREADS = "";
    expect(threading().threads).to.equal(1);
  });

  it("takes the threads asked for, up to the processors there are and 4", () => {
    process.env.AML_CSV_THREADS = "2";
    expect(threading().threads).to.equal(Math.min(2, availableParallelism()));
    process.env.AML_CSV_THREADS = "64";
    expect(threading().threads).to.equal(Math.min(4, availableParallelism()));
  });

  it("refuses anything but a whole number of at least 1, naming the variable", () => {
    for (const bad of ["0", "-1", "two", "1.5"]) {
      process.env.AML_CSV_THREADS = bad;
      expect(() => threading(), bad).to.throw(`AML_CSV_THREADS: expected a whole number of at least 1, got "${bad}"`);
    }
  });
});
