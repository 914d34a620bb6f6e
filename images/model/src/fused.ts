/**
 * One training step of the tfjs families (an optional relu hidden layer, then one sigmoid unit) as a single loop
 * over the batch: forward, binary cross-entropy, backward, the L2 penalty and Adam. tfjs runs each of these as a
 * separate kernel call, and at a batch of 64 rows the calls, not the arithmetic, are most of the time.
 *
 * The math is tfjs's, step for step, so a model trained here is the one `model.fit` would give within float
 * rounding (the tests compare the two):
 * - the loss is tfjs-layers' binaryCrossentropy: the probability clipped to [ε, 1−ε] (ε = 1e-7, the backend's
 *   epsilon), turned back into a logit and fed to the stable sigmoid cross-entropy; where the clip bites, no
 *   gradient flows;
 * - the batch's loss is the mean over its rows plus l2·Σw² of each kernel (not the biases), as a kernel
 *   regularizer adds it; the epoch's loss is the batch losses weighted by their rows, as model.fit's logger
 *   averages them;
 * - batches are consecutive rows and the last one is whatever is left, as model.fit with `shuffle: false` cuts them;
 * - Adam is tfjs-core's AdamOptimizer: β1 0.9, β2 0.999, ε 1e-7, the moments and the running powers of β kept in
 *   float32, the step lr·m̂/(√v̂ + ε) with m̂ = m/(1−β1ᵗ) and v̂ = v/(1−β2ᵗ).
 * Parameters, moments and activations are stored in float32 like tfjs's tensors; sums run in float64.
 */

const f32 = Math.fround;
/** tfjs's backend epsilon for float32, also Adam's default epsilon. */
const EPSILON = f32(1e-7);
const P_MIN = EPSILON;
const P_MAX = f32(1 - 1e-7);
const BETA1 = f32(0.9);
const BETA2 = f32(0.999);
// tfjs computes 1 − β in float64 from the JS number, then makes it a float32 scalar.
const ONE_MINUS_BETA1 = f32(1 - 0.9);
const ONE_MINUS_BETA2 = f32(1 - 0.999);

/** A dense layer's parameters as tfjs holds them: kernel [inputs × units], row-major, and bias [units]. */
export interface DenseWeights {
  kernel: Float32Array;
  bias: Float32Array;
}

interface Param {
  value: Float32Array;
  grad: Float64Array;
  m: Float32Array;
  v: Float32Array;
  /** Only kernels carry the L2 penalty. */
  l2: boolean;
}

const param = (value: Float32Array, l2: boolean): Param => ({
  value,
  grad: new Float64Array(value.length),
  m: new Float32Array(value.length),
  v: new Float32Array(value.length),
  l2,
});

export interface FusedOptions {
  inputs: number;
  /** Units of the relu hidden layer; 0 for logistic regression (the sigmoid unit on the inputs). */
  hidden: number;
  learningRate: number;
  l2: number;
  batchSize: number;
}

export class FusedTrainer {
  private readonly d: number;
  private readonly h: number;
  private readonly lr: number;
  private readonly l2: number;
  private readonly batchSize: number;
  /** [hidden kernel, hidden bias,] output kernel, output bias: tfjs's order of trainable weights. */
  private readonly params: Param[];
  private readonly w1?: Param;
  private readonly b1?: Param;
  private readonly w2: Param;
  private readonly b2: Param;
  /** β1ᵗ and β2ᵗ, float32 products as tfjs keeps them. */
  private accBeta1 = BETA1;
  private accBeta2 = BETA2;
  // Per-batch scratch, allocated once.
  private readonly act: Float32Array;
  private readonly dAct: Float32Array;
  private readonly dOut: Float32Array;
  private readonly sum: Float64Array;

  /** `layers` are the initial weights, copied: [hidden, output] for an MLP, [output] for logistic regression. */
  constructor(layers: DenseWeights[], opts: FusedOptions) {
    this.d = opts.inputs;
    this.h = opts.hidden;
    this.lr = f32(opts.learningRate);
    this.l2 = f32(opts.l2);
    this.batchSize = opts.batchSize;
    const expected = this.h > 0 ? 2 : 1;
    if (layers.length !== expected) throw new Error(`fused trainer: expected ${expected} dense layer(s), got ${layers.length}`);
    const width = this.h > 0 ? this.h : this.d;
    const out = layers[layers.length - 1] as DenseWeights;
    if (out.kernel.length !== width || out.bias.length !== 1) throw new Error("fused trainer: the output layer's shape does not match");
    if (this.h > 0) {
      const hid = layers[0] as DenseWeights;
      if (hid.kernel.length !== this.d * this.h || hid.bias.length !== this.h) throw new Error("fused trainer: the hidden layer's shape does not match");
      this.w1 = param(Float32Array.from(hid.kernel), true);
      this.b1 = param(Float32Array.from(hid.bias), false);
    }
    this.w2 = param(Float32Array.from(out.kernel), true);
    this.b2 = param(Float32Array.from(out.bias), false);
    this.params = [...(this.w1 && this.b1 ? [this.w1, this.b1] : []), this.w2, this.b2];
    const rows = this.batchSize;
    this.act = new Float32Array(rows * Math.max(this.h, 1));
    this.dAct = new Float32Array(rows * Math.max(this.h, 1));
    this.dOut = new Float32Array(rows);
    this.sum = new Float64Array(Math.max(this.h, 1));
  }

  /** The current weights, in the layout the constructor took them. */
  weights(): DenseWeights[] {
    const out = { kernel: Float32Array.from(this.w2.value), bias: Float32Array.from(this.b2.value) };
    return this.w1 && this.b1 ? [{ kernel: Float32Array.from(this.w1.value), bias: Float32Array.from(this.b1.value) }, out] : [out];
  }

  /** One pass over the rows in their order (x row-major, y 0/1); returns the epoch's loss as model.fit reports it. */
  epoch(x: Float32Array, y: ArrayLike<number>): number {
    const n = y.length;
    let total = 0;
    for (let start = 0; start < n; start += this.batchSize) {
      const rows = Math.min(this.batchSize, n - start);
      total += this.step(x, y, start, rows) * rows;
    }
    return total / n;
  }

  /** Forward, backward and the Adam update for rows [start, start + rows); returns the batch's loss. */
  private step(x: Float32Array, y: ArrayLike<number>, start: number, rows: number): number {
    const { d, h } = this;
    const w2 = this.w2.value;
    const b2 = this.b2.value[0] as number;
    const dOut = this.dOut;
    let lossSum = 0;
    // Forward: the hidden activations (kept for the backward pass), the probability, the loss and its gradient
    // with respect to the output unit's pre-activation.
    for (let r = 0; r < rows; r++) {
      const xr = (start + r) * d;
      let a = b2;
      if (h > 0) {
        const w1 = (this.w1 as Param).value;
        const b1 = (this.b1 as Param).value;
        const sum = this.sum;
        for (let j = 0; j < h; j++) sum[j] = b1[j] as number;
        for (let k = 0; k < d; k++) {
          const xv = x[xr + k] as number;
          const row = k * h;
          for (let j = 0; j < h; j++) sum[j] = (sum[j] as number) + xv * (w1[row + j] as number);
        }
        const act = this.act;
        const ar = r * h;
        let z = 0;
        for (let j = 0; j < h; j++) {
          const s = f32(sum[j] as number);
          const v = s > 0 ? s : 0;
          act[ar + j] = v;
          z += v * (w2[j] as number);
        }
        a += z;
      } else {
        let z = 0;
        for (let k = 0; k < d; k++) z += (x[xr + k] as number) * (w2[k] as number);
        a += z;
      }
      const p = f32(1 / (1 + Math.exp(-f32(a))));
      const label = y[start + r] as number;
      const pc = p < P_MIN ? P_MIN : p > P_MAX ? P_MAX : p;
      const logit = Math.log(pc / (1 - pc));
      lossSum += (logit > 0 ? logit : 0) - logit * label + Math.log1p(Math.exp(-Math.abs(logit)));
      // d(loss)/d(pre-activation) is p − y through sigmoid and the logit; clipByValue passes no gradient outside its range.
      dOut[r] = p >= P_MIN && p <= P_MAX ? (p - label) / rows : 0;
    }
    let loss = lossSum / rows;

    // Backward into the gradients.
    const gw2 = this.w2.grad;
    gw2.fill(0);
    let gb2 = 0;
    for (let r = 0; r < rows; r++) gb2 += dOut[r] as number;
    this.b2.grad[0] = gb2;
    if (h > 0) {
      const act = this.act;
      const dAct = this.dAct;
      for (let r = 0; r < rows; r++) {
        const g = dOut[r] as number;
        if (g === 0) {
          dAct.fill(0, r * h, (r + 1) * h);
          continue;
        }
        const ar = r * h;
        for (let j = 0; j < h; j++) {
          const v = act[ar + j] as number;
          gw2[j] = (gw2[j] as number) + v * g;
          // relu's gradient is 0 at 0, as tfjs's step function gives it.
          dAct[ar + j] = v > 0 ? g * (w2[j] as number) : 0;
        }
      }
      const gw1 = (this.w1 as Param).grad;
      const gb1 = (this.b1 as Param).grad;
      gw1.fill(0);
      gb1.fill(0);
      for (let r = 0; r < rows; r++) {
        const xr = (start + r) * d;
        const ar = r * h;
        for (let j = 0; j < h; j++) gb1[j] = (gb1[j] as number) + (dAct[ar + j] as number);
        for (let k = 0; k < d; k++) {
          const xv = x[xr + k] as number;
          const row = k * h;
          for (let j = 0; j < h; j++) gw1[row + j] = (gw1[row + j] as number) + xv * (dAct[ar + j] as number);
        }
      }
    } else {
      for (let r = 0; r < rows; r++) {
        const g = dOut[r] as number;
        if (g === 0) continue;
        const xr = (start + r) * d;
        for (let k = 0; k < d; k++) gw2[k] = (gw2[k] as number) + (x[xr + k] as number) * g;
      }
    }

    // The L2 penalty, in the loss and in the kernels' gradients (d/dw of l2·w² is 2·l2·w).
    if (this.l2 > 0) {
      for (const p of this.params) {
        if (!p.l2) continue;
        let sq = 0;
        const w = p.value;
        const g = p.grad;
        for (let i = 0; i < w.length; i++) {
          const wi = w[i] as number;
          sq += wi * wi;
          g[i] = (g[i] as number) + 2 * this.l2 * wi;
        }
        loss += this.l2 * sq;
      }
    }

    this.adam();
    return loss;
  }

  private adam(): void {
    const scale1 = f32(1 - this.accBeta1);
    const scale2 = f32(1 - this.accBeta2);
    const negLr = f32(-this.lr);
    for (const p of this.params) {
      const { value, grad, m, v } = p;
      for (let i = 0; i < value.length; i++) {
        const g = f32(grad[i] as number);
        const mi = f32(f32((m[i] as number) * BETA1) + f32(g * ONE_MINUS_BETA1));
        const vi = f32(f32((v[i] as number) * BETA2) + f32(f32(g * g) * ONE_MINUS_BETA2));
        m[i] = mi;
        v[i] = vi;
        const mHat = f32(mi / scale1);
        const vHat = f32(vi / scale2);
        value[i] = (value[i] as number) + f32(f32(mHat / f32(Math.sqrt(vHat) + EPSILON)) * negLr);
      }
    }
    this.accBeta1 = f32(this.accBeta1 * BETA1);
    this.accBeta2 = f32(this.accBeta2 * BETA2);
  }
}
