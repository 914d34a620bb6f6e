import { expect } from "chai";
import { dataPaths, lastDays, parseDs, rng, shuffle, underDataDir, UsageError } from "../src/index.ts";

describe("paths, dates and randomness", () => {
  it("accepts real dates and refuses malformed ones", () => {
    expect(parseDs("2026-11-20")).to.equal("2026-11-20");
    for (const bad of ["2026-13-01", "2026-02-30", "20261120", "2026-1-2", "", "2026-11-20T00:00"]) {
      expect(() => parseDs(bad), bad).to.throw(UsageError, /expected a date YYYY-MM-DD/);
    }
  });

  it("lists the last N days oldest first, across a month end", () => {
    expect(lastDays("2026-03-02", 3)).to.deep.equal(["2026-02-28", "2026-03-01", "2026-03-02"]);
  });

  it("lays out the data folder as the DAGs expect", () => {
    const p = dataPaths("/data", "2026-11-20");
    expect(p.data).to.equal("/data/raw/2026-11-20/data.csv");
    expect(p.target).to.equal("/data/raw/2026-11-20/target.csv");
    expect(p.trainData).to.equal("/data/processed/2026-11-20/train_data.csv");
    expect(p.modelDir).to.equal("/data/models/2026-11-20");
    expect(p.predictions).to.equal("/data/predictions/2026-11-20/predictions.csv");
    expect(underDataDir("/data", "models/x")).to.equal("/data/models/x");
    expect(underDataDir("/data", "/elsewhere/m")).to.equal("/elsewhere/m");
  });

  it("gives the same stream for a seed and another for another seed", () => {
    const a = Array.from({ length: 5 }, rng("s1"));
    const take = (seed: string) => {
      const r = rng(seed);
      return Array.from({ length: 5 }, () => r());
    };
    expect(take("s1")).to.deep.equal(take("s1"));
    expect(take("s1")).not.to.deep.equal(take("s2"));
    expect(a).to.have.length(5);
  });

  it("shuffles into a permutation", () => {
    const xs = shuffle(Array.from({ length: 50 }, (_, i) => i), rng("x"));
    expect([...xs].sort((p, q) => p - q)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
    expect(xs).not.to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
  });
});
