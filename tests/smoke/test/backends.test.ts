// The two tfjs backends of the images that run networks: TensorFlow's native library (tfjs-node's addon, built
// into train, validate and predict) and tfjs's pure-JavaScript kernels. One model must give the same scores on
// both, within float32's rounding, whichever backend trained it; neither may print tfjs's notice that a faster
// backend exists; a backend that is not there is one clear error line.
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { makeDataDir, removeDir, runStage, theErrorLine, type Stage } from "./support.ts";

const DS = "2026-10-05";
const ROWS = 4000;
// Both backends compute in float32, in different orders: scores differ in the 7th digit at most, and predict
// writes 6 decimals, so two written scores may differ by one unit of the last digit (plus its rounding).
const SCORE_TOLERANCE = 2e-6;
// Training on the two backends rounds differently at every one of its steps; the models stay close.
const TRAINED_TOLERANCE = 1e-3;

let dataDir = "";
const run = (stage: Stage, args: string[], env: Record<string, string> = {}) => runStage(stage, args, { dataDir, env });

async function scores(): Promise<{ ids: string[]; p: number[]; labels: string[] }> {
  const [, ...lines] = (await readFile(join(dataDir, `predictions/${DS}/predictions.csv`), "utf8")).trimEnd().split("\n");
  const cells = lines.map((l) => l.split(","));
  return { ids: cells.map((c) => c[0] as string), p: cells.map((c) => Number(c[1])), labels: cells.map((c) => c[2] as string) };
}

async function predictWith(backend: string) {
  const r = await run("predict", ["--ds", DS, "--model", `models/${DS}`, "--backend", backend]);
  r.result();
  expect(r.stderrLines.join("\n")).to.not.match(/speed things up|node backend/i);
  expect(r.stderrLines.join("\n")).to.include(`"backend":"${backend}"`);
  return scores();
}

function maxDifference(a: number[], b: number[]): number {
  expect(a).to.have.length(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
}

async function trainWith(backend: string) {
  const r = await run("train", ["--ds", DS, "--family", "mlp", "--epochs", "3", "--backend", backend]);
  r.result();
  expect(r.stderrLines.join("\n")).to.not.match(/speed things up/i);
}

describe("tfjs backends: native TensorFlow and pure JavaScript", () => {
  before(async () => {
    dataDir = await makeDataDir("backends");
    (await run("generate", ["--ds", DS, "--rows", String(ROWS)])).result();
    (await run("prepare", ["prepare", "--ds", DS])).result();
    (await run("prepare", ["split", "--ds", DS])).result();
  });
  after(() => removeDir(dataDir));

  it("one model scores the same on both, and validate measures the same", async () => {
    await trainWith("cpu");
    const cpu = await predictWith("cpu");
    const native = await predictWith("tensorflow");
    expect(native.ids).to.deep.equal(cpu.ids);
    expect(maxDifference(native.p, cpu.p)).to.be.at.most(SCORE_TOLERANCE);
    // Labels follow the written score at the threshold: only a score that sits on it may flip.
    cpu.labels.forEach((label, i) => {
      if (label !== native.labels[i]) expect(Math.abs((cpu.p[i] as number) - 0.5), cpu.ids[i]).to.be.at.most(SCORE_TOLERANCE);
    });
    expect(new Set(cpu.p).size, "the scores are not constant").to.be.greaterThan(ROWS / 2);

    const metrics = [];
    for (const backend of ["cpu", "tensorflow"]) {
      (await run("validate", ["validate", "--ds", DS, "--backend", backend])).result();
      metrics.push(JSON.parse(await readFile(join(dataDir, `models/${DS}/metrics.json`), "utf8")) as Record<string, number>);
    }
    for (const name of ["roc_auc", "log_loss", "accuracy"]) {
      expect(Math.abs((metrics[0]?.[name] as number) - (metrics[1]?.[name] as number)), name).to.be.at.most(1e-5);
    }
  });

  it("a model trained on the native backend is the same model within float rounding", async () => {
    await trainWith("cpu");
    const fromCpu = await predictWith("cpu");
    await trainWith("tensorflow");
    const fromNative = await predictWith("cpu");
    expect(maxDifference(fromNative.p, fromCpu.p)).to.be.at.most(TRAINED_TOLERANCE);
  });

  it("TFJS_BACKEND chooses the backend where --backend is not given", async () => {
    const r = await run("predict", ["--ds", DS, "--model", `models/${DS}`], { TFJS_BACKEND: "cpu" });
    r.result();
    expect(r.stderrLines.join("\n")).to.include('"backend":"cpu"');
  });

  it("an unknown backend, or the native one where its addon is missing, is one clear error line", async () => {
    const unknown = await run("predict", ["--ds", DS, "--model", `models/${DS}`, "--backend", "gpu"]);
    expect(unknown.code).to.equal(2);
    expect(theErrorLine(unknown)).to.include('--backend: expected one of tensorflow, cpu, got "gpu"');
    const missing = await run("predict", ["--ds", DS, "--model", `models/${DS}`, "--backend", "tensorflow"], { TFJS_NODE_ADDON: "" });
    expect(missing.code).to.not.equal(0);
    expect(theErrorLine(missing)).to.include("this image has no native TensorFlow (TFJS_NODE_ADDON is not set): use --backend cpu");
  });
});
