import { expect } from "chai";
import { type Frame, InputError, rng } from "@airflow-ml-dags/common";
import { DayJoin } from "../src/join.ts";
import { type Danfo, type Summary, clean } from "../src/prepare.ts";

describe("DayJoin", () => {
  const targets = (ids: string[]) => ({ ids, labels: Uint8Array.from(ids, (_, i) => i % 2) });
  const feed = (j: DayJoin, ids: string[]) => ids.forEach((id, i) => j.check(id, i + 2));

  it("takes labels by place while the ids line up and by id after they stop", () => {
    const j = new DayJoin("data.csv", targets(["a", "b", "c", "d", "e"]), undefined);
    feed(j, ["a", "b", "d", "c", "e"]);
    expect([...j.takeLabels()]).to.deep.equal([0, 1, 1, 0, 0]);
    expect(j.unmatched).to.equal(undefined);
  });

  it("finds a repeat of an id that was taken by place", () => {
    const j = new DayJoin("data.csv", targets(["a", "b", "c", "d"]), undefined);
    expect(() => feed(j, ["a", "b", "c", "b"])).to.throw(InputError, 'data.csv: duplicate id "b" in rows 3 and 5');
  });

  it("keeps the first id without a target and goes on", () => {
    const j = new DayJoin("data.csv", targets(["a", "b", "c"]), undefined);
    feed(j, ["a", "x", "c"]);
    expect(j.unmatched).to.equal("x");
    expect([...j.takeLabels()]).to.deep.equal([0, 0, 0]);
  });
});

describe("clean", () => {
  let dfd: Danfo;
  before(async () => {
    dfd = await import("danfojs-node/dist/danfojs-base/index.js");
  });

  /** The counts of a plain pass over every row, as the cleaning must give them. */
  function reference(f: Frame, labels: Uint8Array) {
    const d = f.columns.length;
    const keep: number[] = [];
    const missing = new Array<number>(d).fill(0);
    for (let i = 0; i < f.ids.length; i++) {
      const row = Array.from(f.values.subarray(i * d, (i + 1) * d));
      if (row.every(Number.isNaN)) continue;
      keep.push(i);
      row.forEach((v, j) => {
        if (Number.isNaN(v)) missing[j] = (missing[j] as number) + 1;
      });
    }
    return {
      ids: keep.map((i) => f.ids[i]),
      values: keep.flatMap((i) => Array.from(f.values.subarray(i * d, (i + 1) * d))),
      target: keep.map((i) => labels[i]),
      missing,
      dropped: f.ids.length - keep.length,
      positives: keep.reduce((s, i) => s + (labels[i] as number), 0),
    };
  }

  for (const [name, rate] of [
    ["no missing cell", 0],
    ["a few missing cells", 0.05],
    ["most cells missing, some rows all missing", 0.7],
  ] as const) {
    it(`keeps, drops and counts as a pass over every row would: ${name}`, () => {
      const r = rng(`clean/${rate}`);
      const d = 3;
      const n = 400;
      const values = Float64Array.from({ length: n * d }, () => (r() < rate ? Number.NaN : Math.round(r() * 100) / 8));
      const f: Frame = { path: "x", ids: Array.from({ length: n }, (_, i) => `r${i}`), columns: ["f0", "f1", "f2"], values };
      const labels = Uint8Array.from({ length: n }, () => (r() < 0.4 ? 1 : 0));
      const summary: Summary = { columns: f.columns, rowsIn: 0, rowsOut: 0, dropped: 0, missing: [0, 0, 0], positives: 0 };
      const out = clean(dfd, f, labels, summary);
      const want = reference(f, labels);
      expect(out.ids).to.deep.equal(want.ids);
      expect(Array.from(out.values)).to.deep.equal(want.values);
      expect(Array.from(out.target as Uint8Array)).to.deep.equal(want.target);
      expect(summary).to.deep.include({ missing: want.missing, dropped: want.dropped, positives: want.positives });
      if (rate === 0.7) expect(want.dropped).to.be.greaterThan(0);
    });
  }
});
