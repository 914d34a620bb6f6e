import { expect } from "chai";
import { InputError, type Frame } from "@airflow-ml-dags/common";
import { rng } from "@airflow-ml-dags/common";
import { fitPreprocess, parsePreprocess, preprocessToJson, transform, transformInPlace } from "../src/index.ts";
import { concat, synthetic } from "./synthetic.ts";

const frame = (columns: string[], rows: number[][], path = "train.csv"): Frame => ({
  path,
  ids: rows.map((_, i) => `r${i}`),
  columns,
  values: Float64Array.from(rows.flat()),
});

describe("preprocess", () => {
  it("imputes the median of the present values, then standardizes with the imputed column's mean and std", () => {
    // a: 1, missing, 3, 10 -> median 3 -> 1, 3, 3, 10: mean 4.25, population std sqrt(11.6875)
    // b: even count of present values -> median is the mean of the middle two (2 and 4)
    const pre = fitPreprocess(
      frame(
        ["a", "b"],
        [
          [1, 2],
          [NaN, 4],
          [3, NaN],
          [10, 6],
        ],
      ),
    );
    expect(pre.columns).to.deep.equal(["a", "b"]);
    expect(pre.median).to.deep.equal([3, 4]);
    expect(pre.mean[0]).to.equal(4.25);
    expect(pre.std[0]).to.be.closeTo(Math.sqrt(11.6875), 1e-12);
    expect(pre.mean[1]).to.equal(4); // 2, 4, 4, 6
    expect(pre.std[1]).to.be.closeTo(Math.sqrt(2), 1e-12);
  });

  it("turns a missing value into the standardized median", () => {
    const pre = fitPreprocess(frame(["a"], [[1], [2], [6], [NaN]]));
    const x = transform(pre, frame(["a"], [[NaN], [2]], "data.csv"));
    expect(Number.isNaN(x[0])).to.equal(false);
    expect(x[0]).to.equal(x[1]); // the median of 1, 2, 6 is 2
    expect(x[0]).to.be.closeTo((2 - pre.mean[0]!) / pre.std[0]!, 1e-6);
  });

  it("takes the median a sort would: odd and even counts, ties, signed zeros, sorted columns", () => {
    const r = rng("median");
    const columns: number[][] = [
      [5, 1, 4, 2, 3],
      [4, 1, 3, 2],
      [2, 2, 2, 1, 3, 3],
      [0, -0, 0, -0],
      [-0, 0, -0],
      Array.from({ length: 1001 }, (_, i) => i),
      Array.from({ length: 1000 }, (_, i) => 1000 - i),
      Array.from({ length: 999 }, () => Math.floor(r() * 5) - 2),
      Array.from({ length: 1000 }, () => r() * 100 - 50),
    ];
    for (const values of columns) {
      const sorted = Float64Array.from(values).sort();
      const mid = sorted.length >> 1;
      const expected = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
      const withGaps = values.flatMap((v, i) => (i % 7 ? [[v]] : [[v], [NaN]]));
      expect(Object.is(fitPreprocess(frame(["a"], withGaps)).median[0], expected), `${values.slice(0, 6)}…`).to.equal(true);
    }
  });

  it("transformInPlace gives transform's inputs, written over the frame's own values", () => {
    const data = synthetic({ rows: 300, seed: "in-place", missing: 0.1 });
    const pre = fitPreprocess(data);
    const expected = transform(pre, data);
    const x = transformInPlace(pre, data);
    expect(x.buffer).to.equal(data.values.buffer);
    expect(Array.from(x)).to.deep.equal(Array.from(expected));
  });

  it("keeps a constant column finite (std 0 -> 1)", () => {
    const pre = fitPreprocess(frame(["c"], [[5], [5], [NaN]]));
    expect(pre.std).to.deep.equal([1]);
    expect(Array.from(transform(pre, frame(["c"], [[5], [7]])))).to.deep.equal([0, 2]);
  });

  it("refuses a training column without any value", () => {
    expect(() => fitPreprocess(frame(["a", "b"], [[1, NaN], [2, NaN]]))).to.throw(InputError, /train\.csv: column "b" has no values/);
  });

  it("is fitted on the training rows only: extreme validation rows change nothing", () => {
    const train = synthetic({ rows: 200, seed: "train", missing: 0.1 });
    const val = synthetic({ rows: 50, seed: "val", missing: 0.1 });
    for (let k = 0; k < val.values.length; k += 3) val.values[k] = 1e6;
    const before = fitPreprocess(train);
    const x = transform(before, val);
    expect(fitPreprocess(train)).to.deep.equal(before);
    // Transforming validation rows reads the training statistics and writes none.
    const col = 0;
    expect(x[0]).to.be.closeTo((1e6 - before.mean[col]!) / before.std[col]!, 1);
    // The check can fail: statistics over train + val are visibly different.
    const leaked = fitPreprocess(concat(train, val));
    expect(leaked.mean[col]).to.be.greaterThan(before.mean[col]! + 1000);
  });

  it("refuses data whose columns are not the fitted ones", () => {
    const pre = fitPreprocess(frame(["a", "b"], [[1, 2], [3, 4]]));
    expect(() => transform(pre, frame(["a", "c"], [[1, 2]], "data.csv"))).to.throw(InputError, /data\.csv: missing columns b; unexpected columns c/);
    expect(() => transform(pre, frame(["b", "a"], [[1, 2]], "data.csv"))).to.throw(InputError, /data\.csv: columns out of order/);
  });

  it("survives a JSON round trip exactly, and refuses a broken preprocess.json", () => {
    const pre = fitPreprocess(synthetic({ rows: 100, seed: "json", missing: 0.2 }));
    expect(parsePreprocess("p.json", JSON.parse(preprocessToJson(pre)))).to.deep.equal(pre);
    const bad = (patch: object) => () => parsePreprocess("p.json", { ...pre, ...patch });
    expect(bad({ columns: [] })).to.throw(InputError, /p\.json: "columns"/);
    expect(bad({ columns: ["f00", "f00", "f02", "f03"] })).to.throw(InputError, /duplicate/);
    expect(bad({ mean: [1, 2] })).to.throw(InputError, /p\.json: "mean" must hold 4 finite numbers/);
    expect(bad({ std: [1, 0, 1, 1] })).to.throw(InputError, /"std" must be positive/);
    expect(() => parsePreprocess("p.json", [1, 2])).to.throw(InputError, /p\.json/);
  });
});
