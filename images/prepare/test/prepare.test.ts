import { expect } from "chai";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "@airflow-ml-dags/common";
import { prepareCommandFor } from "../src/prepare.ts";
import { cells, files, put, putDay, run, withTmp } from "./helpers.ts";

const DS = "2026-11-20";
const out = (dir: string, ds = DS) => join(dir, "processed", ds, "train_data.csv");

/**
 * The join and the cleaning on small tables: the raw schema is the features of the earliest day written
 * (the image's own command holds the contract's, tested in cli.test.ts and the smoke catalogue).
 */
async function schemaOf(dir: string): Promise<string[]> {
  const days = await readdir(join(dir, "raw")).catch(() => [] as string[]);
  for (const day of days.sort()) {
    const header = await readFile(join(dir, "raw", day, "data.csv"), "utf8").then((t) => t.split("\n")[0], () => undefined);
    if (header) return header.split(",").slice(1);
  }
  return ["f00", "f01"];
}
const prepare = async (dir: string, extra: Record<string, string> = {}) =>
  run(prepareCommandFor(await schemaOf(dir)), { ds: DS, "data-dir": dir, ...extra });

/** A small valid day: ids carry the day, one row has a missing cell. */
const day = (tag: string) => ({
  data: ["id,f00,f01", `${tag}-1,0.5,1`, `${tag}-2,,2`, `${tag}-3,-1.25,3`],
  target: ["id,target", `${tag}-1,1`, `${tag}-2,0`, `${tag}-3,1`],
});

/** Expects an InputError naming `file`, in one line, and no output written. */
async function rejects(dir: string, file: string, problem: string | RegExp, extra: Record<string, string> = {}) {
  const before = await files(dir);
  let error: unknown;
  try {
    await prepare(dir, extra);
  } catch (err) {
    error = err;
  }
  expect(error, "no error thrown").to.be.instanceOf(InputError);
  const e = error as InputError;
  expect(e.file).to.equal(file);
  expect(e.message.startsWith(`${file}: `), e.message).to.equal(true);
  expect(e.message).not.to.contain("\n");
  if (typeof problem === "string") expect(e.problem).to.contain(problem);
  else expect(e.problem).to.match(problem);
  expect(await files(dir)).to.deep.equal(before);
}

describe("prepare", () => {
  it("joins targets to data by id, not by position, keeping the data's row order", () =>
    withTmp(async (dir) => {
      await putDay(
        dir,
        DS,
        ["id,f00,f01", "a,1,10", "b,2,20", "c,3,30", "d,4,40"],
        ["id,target", "c,1", "a,0", "d,1", "b,1"],
      );
      const result = await prepare(dir);
      expect(cells(await readFile(out(dir), "utf8"))).to.deep.equal([
        ["id", "f00", "f01", "target"],
        ["a", "1", "10", "0"],
        ["b", "2", "20", "1"],
        ["c", "3", "30", "1"],
        ["d", "4", "40", "1"],
      ]);
      expect(result).to.include({ rows_in: 4, rows_out: 4, dropped_all_missing: 0, positive_rate: 0.75 });
    }));

  it("keeps ids that look like numbers as written and in the data's order", () =>
    withTmp(async (dir) => {
      await putDay(dir, DS, ["id,f00", "30,1", "007,2", "4,3", "x,4"], ["id,target", "4,1", "x,0", "007,1", "30,0"]);
      await prepare(dir);
      expect(cells(await readFile(out(dir), "utf8")).slice(1)).to.deep.equal([
        ["30", "1", "0"],
        ["007", "2", "1"],
        ["4", "3", "1"],
        ["x", "4", "0"],
      ]);
    }));

  it("drops rows with every feature missing, counts them, and keeps other missing cells empty", () =>
    withTmp(async (dir) => {
      await putDay(
        dir,
        DS,
        ["id,f00,f01,f02", "a,1,,3", "b,,,", "c,,5,", "d,7,8,9", "e,,,"],
        ["id,target", "a,1", "b,0", "c,0", "d,1", "e,1"],
      );
      const result = await prepare(dir);
      expect(await readFile(out(dir), "utf8")).to.equal("id,f00,f01,f02,target\na,1,,3,1\nc,,5,,0\nd,7,8,9,1\n");
      expect(result).to.deep.include({
        rows_in: 5,
        rows_out: 3,
        dropped_all_missing: 2,
        missing: { f00: 1, f01: 1, f02: 1 },
        positive_rate: 0.6667,
      });
    }));

  it("stacks the last --days days ending at ds, oldest first, and only those", () =>
    withTmp(async (dir) => {
      for (const [ds, tag] of [
        ["2026-11-17", "d17"],
        ["2026-11-18", "d18"],
        ["2026-11-19", "d19"],
        ["2026-11-20", "d20"],
      ] as const) {
        await putDay(dir, ds, day(tag).data, day(tag).target);
      }
      const result = await prepare(dir, { days: "3" });
      const ids = cells(await readFile(out(dir), "utf8")).slice(1).map((r) => r[0]);
      expect(ids).to.deep.equal(["d18-1", "d18-2", "d18-3", "d19-1", "d19-2", "d19-3", "d20-1", "d20-2", "d20-3"]);
      expect(result).to.deep.include({ days: ["2026-11-18", "2026-11-19", "2026-11-20"], rows_in: 9, rows_out: 9 });
      expect(result.missing).to.deep.equal({ f00: 3, f01: 0 });
      await prepare(dir);
      expect(cells(await readFile(out(dir), "utf8"))).to.have.length(4);
    }));

  it("writes the same bytes on every run, and exactly the numbers it read", () =>
    withTmp(async (dir) => {
      await putDay(dir, DS, ["id,f00,f01", "a,0.1,1e-7", "b,-123456.789012345,0.30000000000000004"], ["id,target", "b,0", "a,1"]);
      await prepare(dir);
      const first = await readFile(out(dir));
      await prepare(dir);
      expect((await readFile(out(dir))).equals(first)).to.equal(true);
      const rows = cells(first.toString()).slice(1);
      expect(rows.map((r) => r.slice(1, 3).map(Number))).to.deep.equal([
        [0.1, 1e-7],
        [-123456.789012345, 0.30000000000000004],
      ]);
      expect(await files(dir)).to.deep.equal(["processed/2026-11-20/train_data.csv", "raw/2026-11-20/data.csv", "raw/2026-11-20/target.csv"]);
    }));

  it("joins files larger than one read batch, across days, as a plain join of the files would", () =>
    withTmp(async (dir) => {
      // 20,000 rows a day spans several batches; targets are listed in reverse, so every join crosses batches.
      const expected: string[] = ["id,f00,f01,target"];
      for (const ds of ["2026-11-19", DS]) {
        const data = ["id,f00,f01"];
        const target = ["id,target"];
        for (let i = 0; i < 20_000; i++) {
          const id = `${ds}-${i}`;
          const allMissing = i % 997 === 5;
          const f00 = allMissing || i % 13 === 0 ? "" : String(i / 8);
          const f01 = allMissing ? "" : String(-i);
          const label = i % 3 === 0 ? 1 : 0;
          data.push(`${id},${f00},${f01}`);
          target.push(`${id},${label}`);
          if (!allMissing) expected.push(`${id},${f00},${f01},${label}`);
        }
        await putDay(dir, ds, data, [target[0] as string, ...target.slice(1).reverse()]);
      }
      const result = await prepare(dir, { days: "2" });
      expect(await readFile(out(dir), "utf8")).to.equal(`${expected.join("\n")}\n`);
      const dropped = 2 * 21;
      expect(result).to.deep.include({ rows_in: 40_000, rows_out: 40_000 - dropped, dropped_all_missing: dropped });
      expect(result.missing).to.deep.equal({ f00: 2 * (Math.ceil(20_000 / 13) - 1), f01: 0 });
    }));

  describe("refuses bad input with one line naming the file, and writes nothing", () => {
    const data = (dir: string, ds = DS) => join(dir, "raw", ds, "data.csv");
    const target = (dir: string, ds = DS) => join(dir, "raw", ds, "target.csv");
    const good = day("a");

    it("a missing data file", () =>
      withTmp(async (dir) => {
        await put(target(dir), `${good.target.join("\n")}\n`);
        await rejects(dir, data(dir), "file not found");
      }));

    it("a missing target file", () =>
      withTmp(async (dir) => {
        await put(data(dir), `${good.data.join("\n")}\n`);
        await rejects(dir, target(dir), "file not found");
      }));

    it("a missing earlier day", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, good.data, good.target);
        await rejects(dir, data(dir, "2026-11-19"), "file not found", { days: "2" });
      }));

    it("an empty data file", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, good.data, good.target);
        await writeFile(data(dir), "");
        await rejects(dir, data(dir), "file is empty");
      }));

    it("an empty target file", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, good.data, good.target);
        await writeFile(target(dir), "\n");
        await rejects(dir, target(dir), "file is empty");
      }));

    it("a data file with a header only", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, ["id,f00,f01"], good.target);
        await rejects(dir, data(dir), "no data rows (header only)");
      }));

    it("a target file with a header only", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, good.data, ["id,target"]);
        await rejects(dir, target(dir), "no data rows (header only)");
      }));

    it("a day missing a feature column of the first day", () =>
      withTmp(async (dir) => {
        await putDay(dir, "2026-11-19", day("b").data, day("b").target);
        await putDay(dir, DS, ["id,f00", "a-1,1", "a-2,2"], ["id,target", "a-1,0", "a-2,1"]);
        await rejects(dir, data(dir), "missing columns f01", { days: "2" });
      }));

    it("a day with an extra column", () =>
      withTmp(async (dir) => {
        await putDay(dir, "2026-11-19", day("b").data, day("b").target);
        await putDay(dir, DS, ["id,f00,f01,f02", "a-1,1,2,3"], ["id,target", "a-1,0"]);
        await rejects(dir, data(dir), "unexpected columns f02", { days: "2" });
      }));

    it("a data file whose first column is not id", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, ["key,f00", "a,1"], ["id,target", "a,0"]);
        await rejects(dir, data(dir), 'first column must be "id"');
      }));

    it("a data file carrying a target column", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, ["id,f00,target", "a,1,0"], ["id,target", "a,0"]);
        await rejects(dir, data(dir), 'unexpected column "target"');
      }));

    it("a target file with an extra column", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, ["id,f00", "a,1"], ["id,target,weight", "a,0,1"]);
        await rejects(dir, target(dir), 'expected columns "id,target"');
      }));

    it("a value that is not a number", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, ["id,f00,f01", "a,1,2", "b,abc,3"], ["id,target", "a,0", "b,1"]);
        await rejects(dir, data(dir), 'row 3, column "f00": not a finite number ("abc")');
      }));

    for (const bad of ["2", "yes", "", "0.5"]) {
      it(`a target of "${bad}"`, () =>
        withTmp(async (dir) => {
          await putDay(dir, DS, ["id,f00", "a,1", "b,2"], ["id,target", "a,0", `b,${bad}`]);
          await rejects(dir, target(dir), `row 3, column "target": target must be 0 or 1, got "${bad}"`);
        }));
    }

    it("data and target files with different row counts", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, good.data, good.target.slice(0, 3));
        await rejects(dir, target(dir), `has 2 rows but ${data(dir)} has 3`);
      }));

    it("data and target files with different ids", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, good.data, ["id,target", "a-1,1", "a-2,0", "zz,1"]);
        await rejects(dir, target(dir), `no row for id "a-3" of ${data(dir)}`);
      }));

    it("a duplicate id in the data file", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, ["id,f00", "a,1", "b,2", "a,3"], ["id,target", "a,0", "b,1", "c,1"]);
        await rejects(dir, data(dir), 'duplicate id "a" in rows 2 and 4');
      }));

    it("a duplicate id in the target file", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, ["id,f00", "a,1", "b,2", "c,3"], ["id,target", "a,0", "b,1", "b,1"]);
        await rejects(dir, target(dir), 'duplicate id "b" in rows 3 and 4');
      }));

    it("an id found on two days", () =>
      withTmp(async (dir) => {
        await putDay(dir, "2026-11-19", good.data, good.target);
        await putDay(dir, DS, good.data, good.target);
        await rejects(dir, data(dir), 'id "a-1" is also in the data of 2026-11-19', { days: "2" });
      }));

    it("rows that all have every feature missing", () =>
      withTmp(async (dir) => {
        await putDay(dir, DS, ["id,f00,f01", "a,,", "b,,"], ["id,target", "a,0", "b,1"]);
        await rejects(dir, data(dir), "every row has all 2 features missing");
      }));
  });
});
