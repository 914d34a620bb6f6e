import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { FEATURES } from "@airflow-ml-dags/common";
import { files, putDay, runCli, withTmp } from "./helpers.ts";

const DS = "2026-11-20";
/** A raw data line of the contract's schema: f00 as given, the other features 1. */
const rawLine = (id: string, f00: string | number) => [id, f00, ...FEATURES.slice(1).map(() => "1")].join(",");
const RAW_HEADER = ["id", ...FEATURES].join(",");

describe("prepare CLI", () => {
  it("chains prepare and split, each printing one JSON result line and only JSON logs", () =>
    withTmp(async (dir) => {
      const ids = Array.from({ length: 20 }, (_, i) => `x${i}`);
      await putDay(
        dir,
        DS,
        [RAW_HEADER, ...ids.map((id, i) => rawLine(id, i % 5 === 0 ? "" : i))],
        ["id,target", ...ids.map((id, i) => `${id},${i % 2}`)],
      );
      const p = runCli("prepare", "--ds", DS, "--data-dir", dir);
      expect(p.code).to.equal(0);
      expect(p.stdout).to.have.length(1);
      const prepared = JSON.parse(p.stdout[0] as string);
      expect(prepared).to.deep.include({
        status: "ok",
        stage: "prepare",
        ds: DS,
        rows_in: 20,
        rows_out: 20,
        dropped_all_missing: 0,
        positive_rate: 0.5,
        outputs: [join(dir, "processed", DS, "train_data.csv")],
      });
      expect(prepared.missing).to.deep.equal(Object.fromEntries(FEATURES.map((f) => [f, f === "f00" ? 4 : 0])));
      for (const line of p.stderr) expect(() => JSON.parse(line), line).not.to.throw();

      const s = runCli("split", "--ds", DS, "--data-dir", dir, "--val-fraction", "0.25");
      expect(s.code).to.equal(0);
      expect(s.stdout).to.have.length(1);
      expect(JSON.parse(s.stdout[0] as string)).to.include({ status: "ok", stage: "split", rows: 20, train_rows: 14, val_rows: 6 });
      for (const line of s.stderr) expect(() => JSON.parse(line), line).not.to.throw();
      expect((await readFile(join(dir, "processed", DS, "val.csv"), "utf8")).split("\n")[0]).to.equal(`${RAW_HEADER},target`);
    }));

  it("exits 1 with one error line naming the file on bad input, and writes nothing", () =>
    withTmp(async (dir) => {
      await putDay(dir, DS, [RAW_HEADER, rawLine("a", 1), rawLine("b", "oops")], ["id,target", "a,0", "b,1"]);
      const r = runCli("prepare", "--ds", DS, "--data-dir", dir);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.deep.equal([]);
      expect(r.errors).to.have.length(1);
      const file = join(dir, "raw", DS, "data.csv");
      expect(r.errors[0]).to.include({ file, msg: `${file}: row 3, column "f00": not a finite number ("oops")` });
      expect(await files(dir)).to.deep.equal(["raw/2026-11-20/data.csv", "raw/2026-11-20/target.csv"]);
    }));

  const renamed = [...FEATURES.slice(0, 3), "x03", ...FEATURES.slice(4)];
  for (const [label, header, problem] of [
    ["a feature missing", ["id", ...FEATURES.slice(0, -1)], `missing columns ${FEATURES.at(-1)}`],
    ["a column added", ["id", ...FEATURES, "extra"], "unexpected columns extra"],
    ["a feature renamed", ["id", ...renamed], "missing columns f03; unexpected columns x03"],
    ["the features out of order", ["id", ...FEATURES.slice(1), FEATURES[0]], `columns out of order: expected ${FEATURES.join(",")}`],
  ] as const) {
    it(`refuses raw data with ${label} (not the contract's raw schema): exit 1, one line, nothing written`, () =>
      withTmp(async (dir) => {
        // An earlier day with the declared header: every day of the window is checked, not only the first.
        await putDay(dir, "2026-11-19", [RAW_HEADER, rawLine("b", 1)], ["id,target", "b,1"]);
        await putDay(dir, DS, [header.join(","), ["a", ...header.slice(1).map(() => "1")].join(",")], ["id,target", "a,0"]);
        const r = runCli("prepare", "--ds", DS, "--days", "2", "--data-dir", dir);
        expect(r.code).to.equal(1);
        const file = join(dir, "raw", DS, "data.csv");
        expect(r.errors).to.deep.equal([{ ...r.errors[0], msg: `${file}: ${problem}` }]);
        expect(await files(dir)).to.have.length(4);
      }));
  }

  for (const [label, args, expected] of [
    ["no command", [], ""],
    ["an unknown command", ["join", "--ds", DS], 'unknown command "join"'],
    ["an impossible date", ["prepare", "--ds", "2026-02-30"], '--ds: expected a date YYYY-MM-DD, got "2026-02-30"'],
    ["zero days", ["prepare", "--ds", DS, "--days", "0"], "--days: expected an integer in [1"],
    ["a seed that is not a number", ["split", "--ds", DS, "--seed", "abc"], '--seed: expected an integer, got "abc"'],
    ["a validation fraction of 1", ["split", "--ds", DS, "--val-fraction", "1"], "--val-fraction: expected a number between 0 and 1"],
  ] as const) {
    it(`exits 2 on ${label}`, () =>
      withTmp(async (dir) => {
        const r = runCli(...args, "--data-dir", dir);
        expect(r.code).to.equal(2);
        if (expected) {
          expect(r.errors).to.have.length(1);
          expect(r.errors[0].msg).to.contain(expected);
        }
        expect(await files(dir)).to.deep.equal([]);
      }));
  }

  it("prints help for each command", () => {
    const p = runCli("prepare", "--help");
    expect(p.code).to.equal(0);
    expect(p.stdout.join("\n")).to.contain("--days <value>");
    const s = runCli("split", "--help");
    expect(s.stdout.join("\n")).to.match(/--val-fraction <value>.*\(default: 0\.2\)/);
    expect(runCli("--help").stdout.join("\n")).to.match(/prepare[\s\S]*split/);
  });
});
