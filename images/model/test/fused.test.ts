// The fused trainer against tfjs-layers' model.fit, an independent implementation of the same math: from the same
// initial weights, over the same shuffled batches, both must end at the same weights and report the same losses.
import { expect } from "chai";
import { DEFAULT_HYPERPARAMS, trainingSet, trainModel, type Family, type Hyperparams } from "../src/index.ts";
import { useBackend } from "../src/backend.ts";
import { buildNetwork, fitNetwork, scoreNetwork, type Trainer } from "../src/network.ts";
import { memoryLogger, synthetic } from "./synthetic.ts";

/**
 * Relative to the weight (absolute below 1). Both sides keep float32 parameters but round at different points
 * (tfjs after every op, the fused step after each sum), so they part by a few float32 ulps: in these runs by at
 * most 5e-7. Getting Adam's epsilon wrong (1e-8 for 1e-7) moves an MLP's weights by 1e-5. Large steps amplify
 * rounding (an MLP at learning rate 0.3 for 30 epochs parts by 1e-2), so the saturated MLP runs only 3 epochs.
 */
const TOLERANCE = 2e-6;
const close = (a: number, b: number) => Math.abs(a - b) <= TOLERANCE * Math.max(1, Math.abs(a));

const COLUMNS = ["a", "b", "c", "d", "e", "f"];
// 333 rows in batches of 32 leave a last batch of 13.
const noisy = trainingSet(synthetic({ rows: 333, seed: "fused-noisy", noise: 1, columns: COLUMNS }));
// Separable but for every 20th label, flipped: those rows end up confidently wrong, where the clip decides the gradient.
const separable = trainingSet(synthetic({ rows: 333, seed: "fused-separable", noise: 0, columns: COLUMNS }));
separable.y.forEach((v, i) => {
  if (i % 20 === 0) separable.y[i] = 1 - v;
});

const hyper = (family: Family, over: Partial<Hyperparams> = {}): Hyperparams => ({
  ...DEFAULT_HYPERPARAMS,
  family,
  hidden: 8,
  batch_size: 32,
  ...over,
});

async function fit(set: typeof noisy, hp: Hyperparams, trainer: Trainer) {
  await useBackend();
  const model = buildNetwork(hp, set.columns.length);
  try {
    const x = Float32Array.from(set.x);
    const losses = await fitNetwork(model, x, set.y, hp, memoryLogger(), undefined, trainer);
    const weights = model.getWeights().map((t) => Float32Array.from(t.dataSync() as Float32Array));
    const scores = scoreNetwork(model, x, set.y.length);
    return { losses, weights, scores };
  } finally {
    model.dispose();
  }
}

async function expectSameFit(set: typeof noisy, hp: Hyperparams) {
  const ref = await fit(set, hp, "tfjs");
  const ours = await fit(set, hp, "fused");
  expect(ours.losses).to.have.length(hp.epochs);
  ours.losses.forEach((loss, i) => expect(close(ref.losses[i] as number, loss), `epoch ${i + 1} loss ${loss} vs tfjs ${ref.losses[i]}`).to.equal(true));
  expect(ours.weights.map((w) => w.length)).to.deep.equal(ref.weights.map((w) => w.length));
  ref.weights.forEach((w, i) =>
    w.forEach((v, j) => {
      const got = ours.weights[i]?.[j] as number;
      expect(close(v, got), `weight ${i}[${j}]: fused ${got}, tfjs ${v}`).to.equal(true);
    }),
  );
  return ref;
}

describe("fused trainer", () => {
  it("the data leave a last partial batch", () => {
    expect(noisy.y.length % 32).to.equal(13);
  });

  for (const family of ["mlp", "logreg"] as const) {
    for (const l2 of [0, 0.01]) {
      for (const epochs of [1, 5]) {
        it(`${family}, l2 ${l2}, ${epochs} epoch(s): the weights and losses of tfjs's model.fit`, async () => {
          await expectSameFit(noisy, hyper(family, { l2, epochs }));
        });
      }
    }

    it(`${family}: one batch larger than the data`, async () => {
      await expectSameFit(noisy, hyper(family, { batch_size: 500, epochs: 3 }));
    });
  }

  // A large step on separable data drives probabilities into binaryCrossentropy's clip, where no gradient flows.
  for (const [family, learning_rate, epochs] of [
    ["logreg", 1, 30],
    ["mlp", 0.1, 3],
  ] as const) {
    it(`${family}: probabilities saturated past the loss's clip`, async () => {
      const ref = await expectSameFit(separable, hyper(family, { learning_rate, epochs }));
      const wrong = ref.scores.filter((p, i) => (separable.y[i] ? p < 1e-7 : p > 1 - 1e-7)).length;
      expect(wrong, "no row is wrong past the clip").to.be.greaterThan(0);
    });
  }

  it("is deterministic: one seed, the same weights bit for bit; another seed, other weights", async () => {
    const hp = hyper("mlp", { l2: 0.01, epochs: 3 });
    const a = await fit(noisy, hp, "fused");
    const b = await fit(noisy, hp, "fused");
    const c = await fit(noisy, { ...hp, seed: hp.seed + 1 }, "fused");
    const bytes = (w: Float32Array[]) => Buffer.concat(w.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength)));
    expect(bytes(a.weights).equals(bytes(b.weights))).to.equal(true);
    expect(a.losses).to.deep.equal(b.losses);
    expect(bytes(a.weights).equals(bytes(c.weights))).to.equal(false);
  });

  it("trainModel uses it by default; trainer tfjs gives the same model within the tolerance", async () => {
    const frame = synthetic({ rows: 333, seed: "fused-noisy", noise: 1, columns: COLUMNS });
    const hp = hyper("mlp", { epochs: 2 });
    const fused = await trainModel(frame, hp, memoryLogger());
    const byDefault = await fit(noisy, hp, "fused");
    const tfjs = await trainModel(frame, hp, memoryLogger(), undefined, { trainer: "tfjs" });
    try {
      expect(fused.history).to.deep.equal(byDefault.losses);
      const p = fused.predictProba(frame);
      const q = tfjs.predictProba(frame);
      p.forEach((v, i) => expect(close(v, q[i] as number), `row ${i}: ${v} vs ${q[i]}`).to.equal(true));
    } finally {
      fused.dispose();
      tfjs.dispose();
    }
  });
});
