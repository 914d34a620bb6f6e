import { expect } from "chai";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkColumns, fmt, frameHeader, frameRows, parseNumber, readCsv, toCsv, toFrame, toTargets } from "../src/index.ts";
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
      expect([...toTargets(await readCsv(p))]).to.deep.equal([["a", 1], ["b", 0]]);
      await writeFile(p, "id,label\na,1\n");
      expect(await errorOf(async () => toTargets(await readCsv(p)))).to.contain('expected columns "id,target"');
    }));

  it("formats numbers to fixed precision, missing as empty", () => {
    expect(fmt(0.1234567891)).to.equal("0.123457");
    expect(fmt(2)).to.equal("2");
    expect(fmt(Number.NaN)).to.equal("");
    expect(parseNumber("f", " 3.5 ", 2, "a")).to.equal(3.5);
  });
});
