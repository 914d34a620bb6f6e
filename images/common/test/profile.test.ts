import { readFileSync } from "node:fs";
import { expect } from "chai";
import { PROFILE_QUANTILES, profileColumn, profileFrame, profileJson, rng, normal, type ColumnProfile } from "../src/index.ts";

/** numpy's quantiles of seeded samples: fixtures/profile/reference.py (run by hand) wrote reference.json. */
const reference = JSON.parse(readFileSync(new URL("fixtures/profile/reference.json", import.meta.url), "utf8")) as {
  numpy: string;
  cases: { name: string; values: (number | null)[]; count: number; missing: number; quantiles: number[] }[];
};
const withNaN = (values: (number | null)[]) => Float64Array.from(values, (v) => (v === null ? Number.NaN : v));

describe("profileColumn", () => {
  it("gives numpy's linear quantiles on small cases checked by hand", () => {
    // Sorted: 1 1 2 3 4 5 6 9, so quantile p sits at index 7p between two order statistics.
    const p = profileColumn([3, 1, 4, 1, 5, 9, 2, 6]);
    expect(p.count).to.equal(8);
    expect(p.missing).to.equal(0);
    expect(p.quantiles).to.have.length(PROFILE_QUANTILES);
    expect(p.quantiles[0]).to.equal(1);
    expect(p.quantiles[100]).to.equal(9);
    expect(p.quantiles[50]).to.equal(3.5); // index 3.5: halfway between 3 and 4
    expect(p.quantiles[25]).to.equal(1.75); // index 1.75: 1 + 0.75 (2 - 1)
    expect(p.quantiles[90]).to.be.closeTo(6.9, 1e-12); // index 6.3: 6 + 0.3 (9 - 6)
    expect(p.quantiles[14]).to.equal(1); // index 0.98, between the two 1s
    // Two values: a straight line from the smaller to the larger.
    const two = profileColumn([10, 0]).quantiles;
    two.forEach((q, i) => expect(q, `q${i}`).to.be.closeTo(i / 10, 1e-12));
    expect(profileColumn([4]).quantiles).to.deep.equal(new Array(PROFILE_QUANTILES).fill(4));
  });

  it("counts NaN as missing and leaves its input as it was", () => {
    const values = Float64Array.from([5, Number.NaN, 1, Number.NaN, 3]);
    const copy = Float64Array.from(values);
    const p = profileColumn(values);
    expect(p).to.include({ count: 3, missing: 2 });
    expect(p.quantiles[0]).to.equal(1);
    expect(p.quantiles[50]).to.equal(3);
    expect(p.quantiles[100]).to.equal(5);
    expect(Array.from(values)).to.deep.equal(Array.from(copy));
  });

  it("has no quantiles when every value is missing, and none for no values", () => {
    expect(profileColumn([Number.NaN, Number.NaN])).to.deep.equal({ count: 0, missing: 2, quantiles: [] });
    expect(profileColumn([])).to.deep.equal({ count: 0, missing: 0, quantiles: [] });
  });

  it("gives quantiles that never decrease, from the minimum to the maximum", () => {
    const r = rng("profile-monotone");
    const values = Array.from({ length: 5001 }, () => Math.round(normal(r) * 100) / 100);
    const q = profileColumn(values).quantiles;
    expect(q[0]).to.equal(Math.min(...values));
    expect(q[100]).to.equal(Math.max(...values));
    q.forEach((v, i) => i > 0 && expect(v, `q${i}`).to.be.at.least(q[i - 1] as number));
  });

  describe(`agrees with numpy ${reference.numpy} to the bit (fixtures/profile/reference.json)`, () => {
    for (const c of reference.cases) {
      it(c.name, () => {
        const p = profileColumn(withNaN(c.values));
        expect({ count: p.count, missing: p.missing }).to.deep.equal({ count: c.count, missing: c.missing });
        // numpy interpolates from the upper order statistic when the fraction is 1/2 or more; so does profileColumn.
        // Zeros compare without their sign: numpy's partition leaves -0 and 0 in either order, a profile has no -0.
        expect(p.quantiles).to.deep.equal(c.quantiles.map((q) => q + 0));
      });
    }
  });
});

describe("profileFrame", () => {
  // Rows of 3 columns, row-major like a Frame's values; column b has a missing cell, c is constant.
  const frame = {
    columns: ["a", "b", "c"],
    values: Float64Array.from([1, 10, 7, 2, Number.NaN, 7, 3, 30, 7, 4, 40, 7]),
  };

  it("profiles each column of the frame, in its order, without changing the frame", () => {
    const before = Float64Array.from(frame.values);
    const p = profileFrame(frame);
    expect(p.version).to.equal(1);
    expect(p.rows).to.equal(4);
    expect(Object.keys(p.features)).to.deep.equal(["a", "b", "c"]);
    expect(p.features.a).to.deep.equal(profileColumn([1, 2, 3, 4]));
    expect(p.features.b).to.deep.equal(profileColumn([10, Number.NaN, 30, 40]));
    expect(p.features.b).to.include({ count: 3, missing: 1 });
    expect((p.features.c as ColumnProfile).quantiles.every((q) => q === 7)).to.equal(true);
    expect(Array.from(frame.values)).to.deep.equal(Array.from(before));
  });

  it("agrees with profileColumn on a larger frame, column by column", () => {
    const r = rng("profile-frame");
    const d = 5;
    const rows = 2000;
    const values = Float64Array.from({ length: rows * d }, (_, k) => (r() < 0.01 ? Number.NaN : normal(r) + (k % d)));
    const columns = ["f0", "f1", "f2", "f3", "f4"];
    const p = profileFrame({ columns, values });
    columns.forEach((name, j) => {
      const column = Float64Array.from({ length: rows }, (_, i) => values[i * d + j] as number);
      expect(p.features[name], name).to.deep.equal(profileColumn(column));
    });
  });

  it("refuses values that do not make whole rows", () => {
    expect(() => profileFrame({ columns: ["a", "b"], values: new Float64Array(3) })).to.throw(/3 values do not make rows of 2 columns/);
  });
});

describe("profileJson", () => {
  it("writes one line per feature and reads back as the same profile, the same bytes every time", () => {
    const p = profileFrame({ columns: ["f00", "f01"], values: Float64Array.from([0.5, Number.NaN, -1.25, 2, 3, 4]) });
    const text = profileJson(p);
    expect(JSON.parse(text)).to.deep.equal(p);
    expect(text).to.equal(profileJson(profileFrame({ columns: ["f00", "f01"], values: Float64Array.from([0.5, Number.NaN, -1.25, 2, 3, 4]) })));
    const lines = text.split("\n");
    expect(lines.slice(0, 4)).to.deep.equal(["{", '  "version": 1,', '  "rows": 3,', '  "features": {']);
    expect(lines[4]).to.match(/^ {4}"f00": \{"count":3,"missing":0,"quantiles":\[-1\.25,/);
    expect(lines[5]).to.match(/^ {4}"f01": \{"count":2,"missing":1,"quantiles":\[2,/);
    expect(lines.slice(6)).to.deep.equal(["  }", "}", ""]);
  });
});
