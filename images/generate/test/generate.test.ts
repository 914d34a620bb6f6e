import { expect } from "chai";
import { FEATURES } from "@airflow-ml-dags/common";
import { generateText, weights, type GenerateOptions } from "../src/generate.ts";
import { column, correlation, mean, parse, rocAuc } from "./helpers.ts";

const opts: GenerateOptions = { rows: 5000, missingRate: 0 };

async function day(ds: string, o = opts) {
  const g = await generateText(ds, o);
  return { ...g, ...parse(g.data, g.target) };
}

describe("generate", () => {
  it("gives byte-identical files for the same ds, and other data for another ds", async () => {
    const a = await generateText("2026-11-20", { ...opts, missingRate: 0.01 });
    const b = await generateText("2026-11-20", { ...opts, missingRate: 0.01 });
    expect(a.data).to.equal(b.data);
    expect(a.target).to.equal(b.target);
    const c = await generateText("2026-11-21", { ...opts, missingRate: 0.01 });
    expect(c.data).to.not.equal(a.data);
    expect(parse(c.data, c.target).rows[0]).to.not.deep.equal(parse(a.data, a.target).rows[0]);
  });

  it("writes the contract's raw schema by default", async () => {
    const a = await day("2026-11-20", { rows: 3, missingRate: 0 });
    expect(a.header).to.deep.equal(["id", ...FEATURES]);
    expect(a.target.split("\n")[0]).to.equal("id,target");
  });

  it("writes the requested rows and features with ids unique across days, in the same order in both files", async () => {
    const features = ["f00", "f01", "f02", "f03", "f04"];
    const a = await day("2026-11-20", { rows: 37, features, missingRate: 0 });
    expect(a.header).to.deep.equal(["id", ...features]);
    expect(a.rows).to.have.length(37);
    expect(a.rows.every((r) => r.length === 5 && r.every(Number.isFinite))).to.equal(true);
    expect(a.targetIds).to.deep.equal(a.ids);
    expect(new Set(a.ids).size).to.equal(37);
    expect(a.ids[0]).to.equal("20261120-000001");
    const b = await day("2026-11-21", { rows: 37, features, missingRate: 0 });
    expect(a.ids.filter((id) => b.ids.includes(id))).to.deep.equal([]);
    expect(new Set([...a.labels, ...b.labels])).to.deep.equal(new Set([0, 1]));
  });

  it("leaves about --missing-rate of the feature cells empty, and none with --missing-rate 0", async () => {
    const withMissing = await day("2026-11-20", { ...opts, missingRate: 0.02 });
    const empty = withMissing.rows.flat().filter(Number.isNaN).length;
    expect(empty).to.equal(withMissing.missingCells);
    // 100,000 cells at 2%: 2000 expected, sd about 44.
    expect(empty).to.be.within(1800, 2200);
    expect(withMissing.data.split("\n")[1]).to.match(/^20261120-000001(,[^,\n]*){20}$/);
    const none = await day("2026-11-20", opts);
    expect(none.rows.flat().filter(Number.isNaN)).to.have.length(0);
  });

  it("drifts: class balance and feature means differ on far-apart days and stay close on neighbouring days", async () => {
    const rate = (d: Awaited<ReturnType<typeof day>>) => mean(d.labels);
    const feb20 = await day("2026-02-20");
    const feb21 = await day("2026-02-21");
    const may31 = await day("2026-05-31");
    expect(Math.abs(rate(feb20) - rate(may31))).to.be.above(0.15);
    expect(Math.abs(rate(feb20) - rate(feb21))).to.be.below(0.04);

    const f00 = (d: Awaited<ReturnType<typeof day>>) => mean(column(d.rows, 0));
    const apr11 = await day("2026-04-11");
    const apr12 = await day("2026-04-12");
    const oct03 = await day("2026-10-03");
    expect(Math.abs(f00(apr11) - f00(oct03))).to.be.above(1);
    expect(Math.abs(f00(apr11) - f00(apr12))).to.be.below(0.1);
  });

  it("is learnable: informative features correlate with the target with their weight's sign, noise features do not", async () => {
    const d = await day("2026-03-01");
    const w = weights(20);
    const informative = w.flatMap((v, j) => (v !== 0 ? [j] : []));
    expect(informative.length).to.be.at.least(4);
    for (const j of informative) {
      const c = correlation(column(d.rows, j), d.labels);
      expect(Math.sign(c), `f${j}`).to.equal(Math.sign(w[j] as number));
      expect(Math.abs(c), `f${j}`).to.be.above(0.08);
    }
    // f01 and f03 carry signal through their product; the other zero-weight features are pure noise.
    const noise = w.flatMap((v, j) => (v === 0 && j !== 1 && j !== 3 ? [j] : []));
    expect(noise.length).to.be.at.least(8);
    for (const j of noise) expect(Math.abs(correlation(column(d.rows, j), d.labels)), `f${j}`).to.be.below(0.05);
  });

  it("lets a linear score learned on one day rank another day's rows well above chance", async () => {
    const train = await day("2026-01-10");
    const later = await day("2026-07-01");
    const coef = FEATURES.map((_, j) => correlation(column(train.rows, j), train.labels));
    const scores = later.rows.map((r) => r.reduce((s, v, j) => s + (coef[j] as number) * v, 0));
    expect(rocAuc(scores, later.labels)).to.be.above(0.75);
  });
});
