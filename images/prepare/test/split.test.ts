import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, UsageError, fmt, normal, rng } from "@airflow-ml-dags/common";
import { splitCommand } from "../src/split.ts";
import { cells, files, put, run, withTmp } from "./helpers.ts";

const DS = "2026-11-20";
const processed = (dir: string) => join(dir, "processed", DS);
const split = (dir: string, extra: Record<string, string> = {}) => run(splitCommand, { ds: DS, "data-dir": dir, ...extra });

/** A train_data.csv of `rows` rows, `positives` of them labelled 1, spread through the file, with some empty cells. */
function trainData(rows: number, positives: number): string {
  const r = rng(`fixture/${rows}/${positives}`);
  const lines = ["id,f00,f01,target"];
  for (let i = 0; i < rows; i++) {
    const label = Math.floor(((i + 1) * positives) / rows) - Math.floor((i * positives) / rows);
    const f00 = i % 17 === 0 ? "" : fmt(normal(r), 4);
    lines.push(`r${i},${f00},${fmt(normal(r) + label, 4)},${label}`);
  }
  return `${lines.join("\n")}\n`;
}

async function read(dir: string) {
  const text = { train: await readFile(join(processed(dir), "train.csv"), "utf8"), val: await readFile(join(processed(dir), "val.csv"), "utf8") };
  return { text, train: cells(text.train), val: cells(text.val) };
}

const positives = (rows: string[][]) => rows.slice(1).filter((r) => r.at(-1) === "1").length;

describe("split", () => {
  it("keeps the class balance of the whole on both sides, within one row", () =>
    withTmp(async (dir) => {
      const source = trainData(1003, 317);
      await put(join(processed(dir), "train_data.csv"), source);
      const result = await split(dir);
      const { train, val } = await read(dir);
      const rate = 317 / 1003;
      for (const side of [train, val]) {
        const n = side.length - 1;
        expect(Math.abs(positives(side) - n * rate), `${positives(side)} of ${n}`).to.be.at.most(1);
      }
      expect(val.length - 1).to.be.within(199, 202);
      expect(result).to.include({ rows: 1003, train_rows: train.length - 1, val_rows: val.length - 1, seed: 42 });
    }));

  // 20,003 rows span several read batches: rows must not be lost, doubled or reordered at their edges.
  for (const [rows, pos, valRows] of [
    [250, 90, 75],
    [20_003, 7_001, 6_001],
  ] as const) {
    it(`puts every row on exactly one side, unchanged, in the file's order (${rows} rows)`, () =>
      withTmp(async (dir) => {
        const source = trainData(rows, pos);
        await put(join(processed(dir), "train_data.csv"), source);
        await split(dir, { "val-fraction": "0.3" });
        const { text } = await read(dir);
        const lines = (t: string) => t.trim().split("\n");
        const header = lines(source)[0];
        expect(lines(text.train)[0]).to.equal(header);
        expect(lines(text.val)[0]).to.equal(header);
        const trainLines = lines(text.train).slice(1);
        const valLines = lines(text.val).slice(1);
        const trainSet = new Set(trainLines);
        const valSet = new Set(valLines);
        expect(trainLines.filter((l) => valSet.has(l))).to.deep.equal([]);
        const order = lines(source).slice(1);
        expect([...trainLines, ...valLines].sort()).to.deep.equal([...order].sort());
        expect(trainLines).to.deep.equal(order.filter((l) => trainSet.has(l)));
        expect(valLines).to.deep.equal(order.filter((l) => valSet.has(l)));
        expect(valLines.length).to.equal(valRows);
      }));
  }

  it("gives identical bytes for the same seed and another validation set for another seed", () =>
    withTmp(async (dir) => {
      await put(join(processed(dir), "train_data.csv"), trainData(300, 100));
      await split(dir);
      const first = await read(dir);
      await split(dir);
      const again = await read(dir);
      expect(again.text).to.deep.equal(first.text);
      await split(dir, { seed: "7" });
      const other = await read(dir);
      expect(other.text.val).to.not.equal(first.text.val);
      expect(other.val.length).to.equal(first.val.length);
    }));

  describe("refuses bad input with one line naming the file, and writes nothing", () => {
    const source = (dir: string) => join(processed(dir), "train_data.csv");

    async function rejects(dir: string, problem: string, extra: Record<string, string> = {}) {
      const before = await files(dir);
      let error: unknown;
      try {
        await split(dir, extra);
      } catch (err) {
        error = err;
      }
      expect(error, "no error thrown").to.be.instanceOf(InputError);
      expect((error as InputError).file).to.equal(source(dir));
      expect((error as InputError).message).not.to.contain("\n");
      expect((error as InputError).problem).to.contain(problem);
      expect(await files(dir)).to.deep.equal(before);
    }

    it("a missing train_data.csv", () => withTmp((dir) => rejects(dir, "file not found")));

    it("a header only", () =>
      withTmp(async (dir) => {
        await put(source(dir), "id,f00,target\n");
        await rejects(dir, "no data rows (header only)");
      }));

    it("no target column", () =>
      withTmp(async (dir) => {
        await put(source(dir), "id,f00\na,1\n");
        await rejects(dir, 'missing column "target"');
      }));

    it("a target that is not 0/1", () =>
      withTmp(async (dir) => {
        await put(source(dir), "id,f00,target\na,1,0\nb,2,3\n");
        await rejects(dir, 'target must be 0 or 1, got "3"');
      }));

    it("a class with fewer than two rows", () =>
      withTmp(async (dir) => {
        await put(source(dir), "id,f00,target\na,1,0\nb,2,0\nc,3,1\nd,4,0\n");
        await rejects(dir, "1 row(s) of target 1: a stratified split needs at least 2");
      }));

    it("a duplicate id", () =>
      withTmp(async (dir) => {
        await put(source(dir), "id,f00,target\na,1,0\nb,2,1\na,3,0\n");
        await rejects(dir, 'duplicate id "a"');
      }));
  });

  it("refuses a validation fraction outside (0, 1) as a command-line error", () =>
    withTmp(async (dir) => {
      await put(join(processed(dir), "train_data.csv"), trainData(20, 10));
      for (const bad of ["0", "1", "1.5"]) {
        let error: unknown;
        try {
          await split(dir, { "val-fraction": bad });
        } catch (err) {
          error = err;
        }
        expect(error, bad).to.be.instanceOf(UsageError);
      }
      expect(await files(dir)).to.deep.equal(["processed/2026-11-20/train_data.csv"]);
    }));
});
