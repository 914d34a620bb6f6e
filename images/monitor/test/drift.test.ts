import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseNumber, profileColumn, readCsv } from "@airflow-ml-dags/common";
import { expect } from "chai";
import { PSI_FLOOR, decileEdges, ks, profileCdf, profileShares, psi, psiOfShares, sampleShares, sortedPresent } from "../src/drift.ts";

const FIXTURES = join(import.meta.dirname, "fixtures");
const sorted = (...v: number[]) => Float64Array.from(v).sort();
/** A profile's quantiles from a quantile function of p in [0, 1]. */
const quantilesOf = (q: (p: number) => number) => Array.from({ length: 101 }, (_, i) => q(i / 100));
const UNIFORM = quantilesOf((p) => p);

describe("drift statistics on cases worked by hand", () => {
  it("reads the profile's CDF as the line through its quantiles, 0 below and 1 above", () => {
    expect(profileCdf(UNIFORM, -1)).to.equal(0);
    expect(profileCdf(UNIFORM, 0)).to.equal(0);
    expect(profileCdf(UNIFORM, 0.505)).to.be.closeTo(0.505, 1e-12);
    expect(profileCdf(UNIFORM, 1)).to.equal(1);
    expect(profileCdf(UNIFORM, 2)).to.equal(1);
    expect(profileCdf(UNIFORM, 0.505, true)).to.be.closeTo(0.505, 1e-12);
  });

  it("makes equal quantiles a jump: half the training rows at 0", () => {
    const q = quantilesOf((p) => (p <= 0.5 ? 0 : p - 0.5));
    expect(profileCdf(q, 0, true)).to.equal(0);
    expect(profileCdf(q, 0)).to.equal(0.5);
    expect(profileCdf(q, 0.25)).to.be.closeTo(0.75, 1e-12);
    // The deciles 0.1 … 0.5 are all 0: one edge, so the bins are (-inf, 0], (0, 0.1], …, (0.4, inf).
    expect(decileEdges(q)).to.deep.equal([0, 0.1, 0.2, 0.3, 0.4].map((e) => q[Math.round((e + 0.5) * 100)]));
    const shares = profileShares(q, decileEdges(q));
    expect(shares).to.have.length(6);
    expect(shares[0]).to.equal(0.5);
    for (const s of shares.slice(1)) expect(s).to.be.closeTo(0.1, 1e-12);
  });

  it("puts a tenth of the training rows in each bin of distinct deciles, and counts the day's rows per bin", () => {
    const edges = decileEdges(UNIFORM);
    expect(edges).to.have.length(9);
    for (const s of profileShares(UNIFORM, edges)) expect(s).to.be.closeTo(0.1, 1e-12);
    // Bins are closed on the right: 0.1 falls in the first, 0.95 in the last.
    expect(sampleShares(sorted(0.05, 0.1, 0.15, 0.95), edges)).to.deep.equal([0.5, 0.25, 0, 0, 0, 0, 0, 0, 0, 0.25]);
  });

  it("raises shares below 1e-4 to 1e-4 on both sides before the logarithm", () => {
    const expected = Array(10).fill(0.1);
    const actual = [1, ...Array(9).fill(0)];
    const want = (1 - 0.1) * Math.log(1 / 0.1) + 9 * (PSI_FLOOR - 0.1) * Math.log(PSI_FLOOR / 0.1);
    expect(psiOfShares(actual, expected)).to.be.closeTo(want, 1e-12);
    expect(psiOfShares(expected, expected)).to.equal(0);
    expect(psi(UNIFORM, sorted(0.5, 0.5, 0.5))).to.be.closeTo(want, 1e-12);
  });

  it("takes KS at both sides of each step of the day's CDF", () => {
    // All the day at 0.5: the day's CDF jumps from 0 to 1 where the training one is at 0.5.
    expect(ks(UNIFORM, sorted(0.5, 0.5))).to.be.closeTo(0.5, 1e-12);
    expect(ks(UNIFORM, sorted(0.25, 0.75))).to.be.closeTo(0.25, 1e-12);
    // The day entirely above the training range.
    expect(ks(UNIFORM, sorted(3, 4))).to.equal(1);
    expect(ks(UNIFORM, new Float64Array(0))).to.equal(null);
    // A jump of the training CDF (half the rows at 0) met by the day's values on either side of it.
    const q = quantilesOf((p) => (p <= 0.5 ? 0 : p - 0.5));
    expect(ks(q, sorted(-0.1, 0.3))).to.be.closeTo(0.5, 1e-12);
  });

  it("sorts the present values of a column in place, leaving the missing ones out", () => {
    const values = Float64Array.from([3, Number.NaN, 1, 2, Number.NaN]);
    expect(Array.from(sortedPresent(values))).to.deep.equal([1, 2, 3]);
  });
});

interface Reference {
  floor: number;
  train: Record<string, { count: number; missing: number; quantiles: number[] }>;
  cases: Record<string, { train: string; psi: number; ks: number }>;
}

describe("drift statistics against numpy and scipy (test/fixtures/reference.py)", () => {
  const reference = JSON.parse(readFileSync(join(FIXTURES, "reference.json"), "utf8")) as Reference;
  let train: Record<string, Float64Array>;
  let day: Record<string, Float64Array>;

  const columns = async (file: string) => {
    const { path, header, rows } = await readCsv(join(FIXTURES, file));
    return Object.fromEntries(header.map((h, j) => [h, Float64Array.from(rows, (r, i) => parseNumber(path, r[j] as string, i + 2, h))]));
  };

  before(async () => {
    train = await columns("train.csv");
    day = await columns("day.csv");
  });

  it("uses the clipping floor of the reference", () => {
    expect(reference.floor).to.equal(PSI_FLOOR);
  });

  it("profiles the training columns as numpy's linear quantiles", () => {
    for (const [name, want] of Object.entries(reference.train)) {
      const got = profileColumn(train[name] as Float64Array);
      expect(got.count, name).to.equal(want.count);
      expect(got.missing, name).to.equal(want.missing);
      got.quantiles.forEach((q, i) => expect(q, `${name} q${i}`).to.be.closeTo(want.quantiles[i] as number, 1e-9));
    }
  });

  for (const [name, c] of Object.entries(reference.cases)) {
    it(`${name}: PSI and KS within the profile's approximation of the training sample`, () => {
      const profile = profileColumn(train[c.train] as Float64Array);
      const values = sortedPresent(Float64Array.from(day[name] as Float64Array));
      // The profile's CDF is linear between percentiles, the sample's a step per row: they differ by at most
      // one percentile plus one row, which bounds the difference of the two KS values (measured: at most 7e-4).
      const n = profile.count;
      expect(ks(profile.quantiles, values)).to.be.closeTo(c.ks, 0.01 + 1 / n);
      // The bin edges are the same deciles. Under the profile each bin holds exactly 10% of the training rows;
      // the reference counts the sample, which at these sizes also puts exactly 10% in each (the deciles fall
      // strictly between two rows), so the two PSIs agree to rounding. In general the counts may be off by a row.
      expect(psi(profile.quantiles, values)).to.be.closeTo(c.psi, 1e-9);
    });
  }

  it("finds the shifted samples drifted and the same-distribution one not, at the default threshold 0.2", () => {
    const at = (name: string) => {
      const c = reference.cases[name] as Reference["cases"][string];
      return psi(profileColumn(train[c.train] as Float64Array).quantiles, sortedPresent(Float64Array.from(day[name] as Float64Array)));
    };
    expect(at("normal_same")).to.be.below(0.1);
    expect(at("scores_shifted")).to.be.above(0.2);
  });
});
