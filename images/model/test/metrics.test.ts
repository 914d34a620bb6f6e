import { rng } from "@airflow-ml-dags/common";
import { expect } from "chai";
import { computeMetrics, confusionMatrix, logLoss, rocAuc } from "../src/metrics.ts";

const y = (...v: number[]) => Uint8Array.from(v);
const p = (...v: number[]) => Float64Array.from(v);

describe("metrics on small vectors computed by hand", () => {
  // index:       0    1    2    3    4    5     6    7    8
  const target = y(1, 1, 1, 0, 0, 0, 0, 1, 1);
  const prob = p(0.9, 0.7, 0.4, 0.6, 0.2, 0.45, 0.1, 0.8, 0.3);
  // At 0.5: predicted 1 for rows 0, 1, 3, 7 → tp = rows 0, 1, 7; fp = row 3; fn = rows 2, 8; tn = rows 4, 5, 6.
  const m = computeMetrics(target, prob, 0.5);

  it("counts the confusion matrix", () => {
    expect(m.confusion_matrix).to.deep.equal({ tn: 3, fp: 1, fn: 2, tp: 3 });
    expect(m.rows).to.equal(9);
  });

  it("computes accuracy, precision, recall and f1", () => {
    expect(m.accuracy).to.be.closeTo((3 + 3) / 9, 1e-12);
    expect(m.precision).to.be.closeTo(3 / 4, 1e-12);
    expect(m.recall).to.be.closeTo(3 / 5, 1e-12);
    expect(m.f1).to.be.closeTo((2 * (3 / 4) * (3 / 5)) / (3 / 4 + 3 / 5), 1e-12);
    expect(m.positive_rate).to.be.closeTo(5 / 9, 1e-12);
    expect(m.threshold).to.equal(0.5);
  });

  it("computes ROC AUC as the share of correctly ordered positive/negative pairs", () => {
    // Negatives score 0.6, 0.2, 0.45, 0.1. Positives beat: 0.9 → 4, 0.7 → 4, 0.4 → 2, 0.8 → 4, 0.3 → 2.
    expect(m.roc_auc).to.be.closeTo((4 + 4 + 2 + 4 + 2) / (5 * 4), 1e-12);
  });

  it("computes log loss as the mean negative log-likelihood", () => {
    const expected =
      -(
        Math.log(0.9) +
        Math.log(0.7) +
        Math.log(0.4) +
        Math.log(1 - 0.6) +
        Math.log(1 - 0.2) +
        Math.log(1 - 0.45) +
        Math.log(1 - 0.1) +
        Math.log(0.8) +
        Math.log(0.3)
      ) / 9;
    expect(m.log_loss).to.be.closeTo(expected, 1e-12);
  });

  it("moves rows between cells when the threshold moves", () => {
    // At 0.3 rows 2 (0.4) and 8 (0.3, the threshold itself), both target 1, and row 5 (0.45, target 0)
    // become predicted 1 as well.
    expect(confusionMatrix(target, prob, 0.3)).to.deep.equal({ tn: 2, fp: 2, fn: 0, tp: 5 });
  });

  it("predicts 1 for a probability equal to the threshold", () => {
    expect(confusionMatrix(y(1, 0), p(0.5, 0.5), 0.5)).to.deep.equal({ tn: 0, fp: 1, fn: 0, tp: 1 });
  });
});

describe("ROC AUC with ties", () => {
  // Positives score 0.2, 0.5, 0.9; negatives 0.2, 0.5, 0.1.
  const target = y(0, 1, 0, 1, 1, 0);
  const prob = p(0.2, 0.2, 0.5, 0.5, 0.9, 0.1);

  it("counts a tied pair as one half", () => {
    // positive 0.2: tie with 0.2, below 0.5, above 0.1; positive 0.5: above 0.2, tie with 0.5, above 0.1;
    // positive 0.9: above all three.
    const pairs = 1 / 2 + 0 + 1 + (1 + 1 / 2 + 1) + (1 + 1 + 1);
    expect(rocAuc(target, prob)).to.be.closeTo(pairs / (3 * 3), 1e-12);
  });

  it("equals the trapezoid area under the ROC curve", () => {
    // (FPR, TPR) as the threshold passes 0.9, 0.5, 0.2, 0.1: (0, 1/3), (1/3, 2/3), (2/3, 1), (1, 1).
    const area = 0 + (1 / 3) * ((1 / 3 + 2 / 3) / 2) + (1 / 3) * ((2 / 3 + 1) / 2) + (1 / 3) * 1;
    expect(rocAuc(target, prob)).to.be.closeTo(area, 1e-12);
  });

  it("is 1 for a perfect ranking, 0 for a reversed one and 1/2 when every score is the same", () => {
    expect(rocAuc(y(0, 0, 1, 1), p(0.1, 0.2, 0.3, 0.4))).to.equal(1);
    expect(rocAuc(y(1, 1, 0, 0), p(0.1, 0.2, 0.3, 0.4))).to.equal(0);
    expect(rocAuc(y(1, 0, 1, 0), p(0.7, 0.7, 0.7, 0.7))).to.equal(1 / 2);
  });

  it("does not depend on the order of the rows", () => {
    expect(rocAuc(y(1, 0, 0, 1, 1, 0), p(0.9, 0.1, 0.2, 0.2, 0.5, 0.5))).to.be.closeTo(7 / 9, 1e-12);
  });
});

describe("log loss clipping", () => {
  it("matches the plain formula away from 0 and 1", () => {
    expect(logLoss(y(1, 0, 1), p(0.8, 0.3, 0.5))).to.be.closeTo(-(Math.log(0.8) + Math.log(1 - 0.3) + Math.log(0.5)) / 3, 1e-12);
  });

  it("clips a certain wrong answer to 1e-15 instead of returning Infinity", () => {
    expect(logLoss(y(1, 0), p(0, 0))).to.be.closeTo(-(Math.log(1e-15) + Math.log(1)) / 2, 1e-9);
    // p = 1 is clipped to 1 - 1e-15; the loss of target 0 is then -log(1 - (1 - 1e-15)), about 34.5.
    expect(logLoss(y(0), p(1))).to.be.closeTo(-Math.log(1 - (1 - 1e-15)), 1e-9);
    expect(logLoss(y(1, 0), p(1, 0))).to.be.closeTo(-Math.log(1 - 1e-15), 1e-12);
  });
});

describe("edge cases", () => {
  it("gives precision 0 (and f1 0) when nothing is predicted positive", () => {
    const m = computeMetrics(y(0, 1, 1), p(0.1, 0.2, 0.3));
    expect(m.confusion_matrix).to.deep.equal({ tn: 1, fp: 0, fn: 2, tp: 0 });
    expect(m.precision).to.equal(0);
    expect(m.recall).to.equal(0);
    expect(m.f1).to.equal(0);
    expect(m.accuracy).to.be.closeTo(1 / 3, 1e-12);
  });

  it("gives recall 0 and ROC AUC null with a note when no row is positive", () => {
    const m = computeMetrics(y(0, 0), p(0.7, 0.2));
    expect(m.confusion_matrix).to.deep.equal({ tn: 1, fp: 1, fn: 0, tp: 0 });
    expect(m.recall).to.equal(0);
    expect(m.precision).to.equal(0);
    expect(m.positive_rate).to.equal(0);
    expect(m.roc_auc).to.equal(null);
    expect(m.roc_auc_note).to.match(/every row has target 0/);
    expect(JSON.parse(JSON.stringify(m)).roc_auc).to.equal(null);
  });

  it("gives ROC AUC null when every row is positive", () => {
    const m = computeMetrics(y(1, 1, 1), p(0.7, 0.2, 0.9));
    expect(m.roc_auc).to.equal(null);
    expect(m.roc_auc_note).to.match(/every row has target 1/);
    expect(m.precision).to.equal(1);
    expect(m.recall).to.be.closeTo(2 / 3, 1e-12);
  });

  it("has no note when ROC AUC is defined", () => {
    expect(computeMetrics(y(0, 1), p(0.3, 0.6))).not.to.have.property("roc_auc_note");
  });

  it("refuses inputs that cannot be scored", () => {
    expect(() => computeMetrics(y(), p())).to.throw(/no rows/);
    expect(() => computeMetrics(y(0, 1), p(0.5))).to.throw(/2 targets but 1 probabilities/);
    expect(() => computeMetrics(y(0, 2), p(0.5, 0.5))).to.throw(/target 1 is 2/);
    expect(() => computeMetrics(y(0, 1), p(0.5, Number.NaN))).to.throw(/probability 1 is NaN/);
    expect(() => computeMetrics(y(0, 1), p(1.5, 0.5))).to.throw(/probability 0 is 1.5/);
    expect(() => computeMetrics(y(0, 1), p(0.5, 0.5), 2)).to.throw(/threshold 2/);
  });
});

describe("agreement with brute force on random data", () => {
  function randomCase(seed: string, n: number) {
    const r = rng(seed);
    const target = new Uint8Array(n);
    const prob = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      target[i] = r() < 0.4 ? 1 : 0;
      // Two decimals and a shift by the target: many ties, and a ranking better than chance.
      prob[i] = Math.round(Math.min(1, r() * 0.8 + 0.2 * (target[i] as number)) * 100) / 100;
    }
    return { target, prob };
  }

  for (const seed of ["a", "b", "c", "d", "e"]) {
    it(`ROC AUC equals the pair count (seed ${seed})`, () => {
      const { target, prob } = randomCase(seed, 300);
      let pairs = 0;
      let wins = 0;
      for (let i = 0; i < target.length; i++) {
        if (target[i] !== 1) continue;
        for (let j = 0; j < target.length; j++) {
          if (target[j] !== 0) continue;
          pairs++;
          const pi = prob[i] as number;
          const pj = prob[j] as number;
          wins += pi > pj ? 1 : pi === pj ? 0.5 : 0;
        }
      }
      expect(rocAuc(target, prob)).to.be.closeTo(wins / pairs, 1e-12);
    });

    it(`confusion matrix and log loss equal a plain loop (seed ${seed})`, () => {
      const { target, prob } = randomCase(seed, 300);
      const cm = { tn: 0, fp: 0, fn: 0, tp: 0 };
      let loss = 0;
      target.forEach((t, i) => {
        const pi = prob[i] as number;
        const pred = pi >= 0.6 ? 1 : 0;
        if (t === 1 && pred === 1) cm.tp++;
        else if (t === 1) cm.fn++;
        else if (pred === 1) cm.fp++;
        else cm.tn++;
        const q = Math.min(Math.max(pi, 1e-15), 1 - 1e-15);
        loss -= t === 1 ? Math.log(q) : Math.log(1 - q);
      });
      const m = computeMetrics(target, prob, 0.6);
      expect(m.confusion_matrix).to.deep.equal(cm);
      expect(m.log_loss).to.be.closeTo(loss / target.length, 1e-9);
      expect(m.accuracy).to.be.closeTo((cm.tp + cm.tn) / target.length, 1e-12);
    });
  }
});
