import { expect } from "chai";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { main, runGenerate, withTmp } from "./helpers.ts";

const listAll = async (dir: string): Promise<string[]> =>
  (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));

describe("generate CLI", () => {
  it("writes raw/{ds}/data.csv and target.csv and prints one JSON result line", () =>
    withTmp(async (dir) => {
      const r = runGenerate("--ds", "2026-11-20", "--rows", "40", "--data-dir", dir);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.have.length(1);
      const result = JSON.parse(r.stdout[0] as string);
      const data = join(dir, "raw/2026-11-20/data.csv");
      const target = join(dir, "raw/2026-11-20/target.csv");
      expect(result).to.include({ status: "ok", stage: "generate", ds: "2026-11-20", rows: 40, features: 20 });
      expect(result.outputs).to.deep.equal([data, target]);
      const labels = (await readFile(target, "utf8")).trim().split("\n").slice(1).map((l) => Number(l.split(",")[1]));
      expect(result.positive_rate).to.equal(labels.filter((v) => v === 1).length / 40);
      expect((await readFile(data, "utf8")).trim().split("\n")).to.have.length(41);
      expect(await listAll(dir)).to.have.members([data, target]);
      for (const line of r.stderr) expect(() => JSON.parse(line), line).not.to.throw();
      expect(r.stderr.map((l) => JSON.parse(l).msg)).to.include("rows generated");
    }));

  it("reproduces the same bytes when run again for the same ds, replacing the previous files", () =>
    withTmp(async (dir) => {
      const args = ["--ds", "2026-11-20", "--rows", "30", "--data-dir", dir];
      expect(runGenerate(...args).code).to.equal(0);
      const first = await readFile(join(dir, "raw/2026-11-20/data.csv"));
      expect(runGenerate(...args).code).to.equal(0);
      expect((await readFile(join(dir, "raw/2026-11-20/data.csv"))).equals(first)).to.equal(true);
      expect(await listAll(dir)).to.have.length(2);
    }));

  for (const [label, args, expected] of [
    ["an impossible date", ["--ds", "2026-13-40"], '--ds: expected a date YYYY-MM-DD, got "2026-13-40"'],
    ["a missing --ds", [], "--ds is required"],
    ["zero rows", ["--ds", "2026-11-20", "--rows", "0"], "--rows: expected an integer in [1"],
    ["rows not a number", ["--ds", "2026-11-20", "--rows", "many"], '--rows: expected an integer, got "many"'],
    ["a missing rate above the range", ["--ds", "2026-11-20", "--missing-rate", "2"], "--missing-rate"],
    ["an unknown option", ["--ds", "2026-11-20", "--colour", "red"], "--colour"],
    ["a --drift-from that is not a date", ["--ds", "2026-11-20", "--drift-from", "20.11.2026"],
      '--drift-from: expected a value matching ^([0-9]{4}-[0-9]{2}-[0-9]{2})?$, got "20.11.2026"'],
    ["an impossible --drift-from", ["--ds", "2026-11-20", "--drift-from", "2026-02-30"], '--drift-from: expected a date YYYY-MM-DD, got "2026-02-30"'],
    ["a negative --drift-size", ["--ds", "2026-11-20", "--drift-size=-0.5"], "--drift-size: expected a number in [0, 10], got -0.5"],
    ["a --drift-size above the range", ["--ds", "2026-11-20", "--drift-size", "11"], "--drift-size: expected a number in [0, 10], got 11"],
    ["a --drift-size not a number", ["--ds", "2026-11-20", "--drift-size", "big"], '--drift-size: expected a number, got "big"'],
  ] as const) {
    it(`exits 2 with one error line and writes nothing on ${label}`, () =>
      withTmp(async (dir) => {
        const r = runGenerate(...args, "--data-dir", dir);
        expect(r.code).to.equal(2);
        expect(r.stdout).to.deep.equal([]);
        expect(r.errors).to.have.length(1);
        expect(r.errors[0].msg).to.contain(expected);
        expect(await readdir(dir)).to.deep.equal([]);
      }));
  }

  it("takes the DAG's drift options: an empty --drift-from never shifts; a day before it keeps its bytes, the day itself shifts", () =>
    withTmp(async (dir) => {
      const gen = (ds: string, ...drift: string[]) => {
        const r = runGenerate("--ds", ds, "--rows", "50", "--data-dir", dir, ...drift);
        expect(r.code, r.stderr.join("\n")).to.equal(0);
        return JSON.parse(r.stdout[0] as string);
      };
      const read = (ds: string) => readFile(join(dir, `raw/${ds}/data.csv`), "utf8");
      const plain = { before: "", day: "" };
      expect(gen("2026-11-19")).to.include({ shifted: false });
      plain.before = await read("2026-11-19");
      expect(gen("2026-11-20", "--drift-from", "", "--drift-size", "1.5")).to.include({ shifted: false });
      plain.day = await read("2026-11-20");
      expect(gen("2026-11-19", "--drift-from", "2026-11-20", "--drift-size", "1.5")).to.include({ shifted: false });
      expect(await read("2026-11-19")).to.equal(plain.before);
      expect(gen("2026-11-20", "--drift-from", "2026-11-20")).to.include({ shifted: true });
      expect(await read("2026-11-20")).to.not.equal(plain.day);
    }));

  it("exits 1 with one line naming the folder when the output folder cannot be created, and writes nothing", () =>
    withTmp(async (dir) => {
      // A file where the data folder should be: fails for root too, unlike a permission bit.
      const blocked = join(dir, "data");
      await writeFile(blocked, "not a folder");
      const r = runGenerate("--ds", "2026-11-20", "--rows", "10", "--data-dir", blocked);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.deep.equal([]);
      expect(r.errors).to.have.length(1);
      expect(r.errors[0].msg).to.match(new RegExp(`^${join(blocked, "raw")}: cannot create output folder`));
      expect(await readdir(dir)).to.deep.equal(["data"]);
    }));

  it("prints help with every option", () => {
    const r = runGenerate("--help");
    expect(r.code).to.equal(0);
    for (const opt of ["--ds", "--rows", "--missing-rate", "--drift-from", "--drift-size", "--data-dir"]) expect(r.stdout.join("\n")).to.contain(opt);
  });
  it("stopped by SIGTERM while writing, exits 143 with one error line and leaves no folder behind", () =>
    withTmp(async (dir) => {
      // As `docker stop` does to a task: a large day takes seconds to write, long enough to be stopped mid-way.
      const child = spawn(process.execPath, ["--import", "tsx", main, "--ds", "2026-11-20", "--rows", "2000000", "--data-dir", dir]);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      const raw = join(dir, "raw");
      let writing = false;
      for (let i = 0; i < 600 && !writing; i++) {
        writing = (await readdir(raw).catch(() => [] as string[])).some((e) => e.includes(".tmp-"));
        if (!writing) await sleep(50);
      }
      expect(writing, "the day's temporary folder never appeared").to.equal(true);
      child.kill("SIGTERM");
      expect(await exited).to.equal(143);
      expect(await readdir(raw)).to.deep.equal([]);
      expect(stdout).to.equal("");
      const errors = stderr
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { level: string; msg: string })
        .filter((l) => l.level === "error");
      expect(errors.map((e) => e.msg)).to.deep.equal(["stopped by SIGTERM: outputs not yet in place were removed"]);
    }));
});
