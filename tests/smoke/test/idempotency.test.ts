// Idempotency on the real images, MLflow off: a task rerun for the same ds rewrites its outputs with the
// same bytes; a week backfilled at once equals the same week run day by day; runs for different dates at
// the same time, into one data folder, do not disturb one another.
import { expect } from "chai";
import { execa } from "execa";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { type Stage, lastDays, makeDataDir, pick, removeDir, runStage, treeSums } from "./support.ts";

const DS = "2026-11-20";
const ROWS = "300";
const WEEK = lastDays("2026-11-27", 7);
const LAST = WEEK[6] as string;
/** Three days of the week, run at the same time in (c). */
const TOGETHER = [WEEK[1], WEEK[3], WEEK[6]] as string[];

const run = async (dataDir: string, stage: Stage, ...args: string[]) => (await runStage(stage, args, { dataDir })).result();
const inode = async (dir: string, p: string) => (await stat(join(dir, p))).ino;

describe("idempotency on the real images", function () {
  const dirs: string[] = [];
  const newDir = async (name: string) => {
    const dir = await makeDataDir(`idem-${name}`);
    dirs.push(dir);
    return dir;
  };
  after(() => Promise.all(dirs.map(removeDir)));

  describe("(a) a stage rerun for the same ds rewrites byte-identical outputs", () => {
    let dir = "";
    let first: Record<string, string> = {};
    // Each stage as the DAGs run it, and the files it writes.
    const chain: { name: string; stage: Stage; args: string[]; outputs: string[]; drops?: string[] }[] = [
      { name: "generate", stage: "generate", args: ["--ds", DS, "--rows", ROWS], outputs: [`raw/${DS}/data.csv`, `raw/${DS}/target.csv`] },
      { name: "prepare", stage: "prepare", args: ["prepare", "--ds", DS], outputs: [`processed/${DS}/train_data.csv`] },
      { name: "split", stage: "prepare", args: ["split", "--ds", DS], outputs: [`processed/${DS}/train.csv`, `processed/${DS}/val.csv`] },
      {
        name: "train",
        stage: "train",
        args: ["--ds", DS, "--family", "mlp", "--epochs", "3"],
        outputs: ["model.json", "weights.bin", "preprocess.json", "profile.json", "manifest.json"].map((f) => `models/${DS}/${f}`),
        // The model folder is swapped in whole: validate's metrics.json of the model it replaces goes with it,
        // until validate runs again (the DAG reruns it after train).
        drops: [`models/${DS}/metrics.json`],
      },
      { name: "validate", stage: "validate", args: ["validate", "--ds", DS], outputs: [`models/${DS}/metrics.json`] },
      {
        name: "predict",
        stage: "predict",
        args: ["--ds", DS, "--model", `models/${DS}`],
        outputs: [`predictions/${DS}/predictions.csv`, `predictions/${DS}/manifest.json`],
      },
    ];

    before(async function () {
      this.timeout(300_000);
      dir = await newDir("rerun");
      for (const step of chain) await run(dir, step.stage, ...step.args);
      first = await treeSums(dir);
    });

    it("the first run wrote every output", () => {
      for (const step of chain) for (const p of step.outputs) expect(first, p).to.have.property(p).that.matches(/^[0-9a-f]{64}$/);
    });

    for (const step of chain) {
      it(`${step.name} again: its outputs are new files with the same bytes, and nothing else changed`, async () => {
        const before = await Promise.all(step.outputs.map((p) => inode(dir, p).catch(() => undefined)));
        await run(dir, step.stage, ...step.args);
        // A new inode: the file was written again and swapped in, not left alone.
        const after = await Promise.all(step.outputs.map((p) => inode(dir, p)));
        step.outputs.forEach((p, i) => expect(after[i], `${p} rewritten`).to.not.equal(before[i]));
        const expected = Object.fromEntries(Object.entries(first).filter(([p]) => !step.drops?.includes(p)));
        expect(await treeSums(dir)).to.deep.equal(expected);
      });
    }
  });

  describe("(b) a week backfilled at once equals the same week run day by day", () => {
    let backfill = "";
    let daily = "";

    before(async function () {
      this.timeout(300_000);
      [backfill, daily] = await Promise.all([newDir("backfill"), newDir("daily")]);
    });

    it("generate: the 7 days started together give the same tree as one day after another", async () => {
      await Promise.all(WEEK.map((ds) => run(backfill, "generate", "--ds", ds, "--rows", ROWS)));
      for (const ds of WEEK) await run(daily, "generate", "--ds", ds, "--rows", ROWS);
      const sums = await treeSums(daily);
      expect(Object.keys(pick(sums, "raw")).filter((p) => p.endsWith(".csv"))).to.have.length(14);
      expect(await treeSums(backfill)).to.deep.equal(sums);
    });

    it("prepare --days 7 on both folders gives the same train_data.csv", async () => {
      await Promise.all([backfill, daily].map((d) => run(d, "prepare", "prepare", "--ds", LAST, "--days", "7")));
      const sums = await treeSums(daily);
      expect(sums).to.have.property(`processed/${LAST}/train_data.csv`);
      expect(await treeSums(backfill)).to.deep.equal(sums);
    });
  });

  describe("(c) different dates at the same time, in one data folder", () => {
    it("generate then predict for 3 dates at once: each day's files equal those made alone", async function () {
      this.timeout(300_000);
      const model = `models/${DS}`;
      const [alone, together, trained] = await Promise.all([newDir("alone"), newDir("together"), newDir("model")]);
      // One model for both folders, trained once and copied with its owner so the containers can read it.
      await run(trained, "generate", "--ds", DS, "--rows", ROWS);
      await run(trained, "prepare", "prepare", "--ds", DS);
      await run(trained, "prepare", "split", "--ds", DS);
      await run(trained, "train", "--ds", DS, "--family", "logreg", "--epochs", "2");
      for (const d of [alone, together]) await execa("cp", ["-a", join(trained, "models"), d]);

      for (const ds of TOGETHER) {
        await run(alone, "generate", "--ds", ds, "--rows", ROWS);
        await run(alone, "predict", "--ds", ds, "--model", model);
      }
      await Promise.all(
        TOGETHER.map(async (ds) => {
          await run(together, "generate", "--ds", ds, "--rows", ROWS);
          await run(together, "predict", "--ds", ds, "--model", model);
        }),
      );

      const [a, t] = await Promise.all([treeSums(alone), treeSums(together)]);
      for (const ds of TOGETHER) {
        const day = pick(a, `raw/${ds}`, `predictions/${ds}`);
        expect(Object.keys(day), ds).to.have.length(6);
        expect(pick(t, `raw/${ds}`, `predictions/${ds}`), ds).to.deep.equal(day);
      }
      // Nothing else in the shared folder: no temp file or stray output left by runs that overlapped.
      expect(t).to.deep.equal(a);
    });
  });
});
