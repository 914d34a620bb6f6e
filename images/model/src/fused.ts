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
  /** Every trainable weight, for Adam and the penalty. */
  private readonly params: Param[];
  /** The hidden kernel transposed, [units × inputs], so a unit's weights are contiguous for the row loops. */
  private readonly w1t?: Param;
  private readonly b1?: Param;
  private readonly w2: Param;
  private readonly b2: Param;
  /** β1ᵗ and β2ᵗ, float32 products as tfjs keeps them. */
  private accBeta1 = BETA1;
  private accBeta2 = BETA2;
  // Per-batch scratch, allocated once: the hidden activations and the loss's gradient per row.
  private readonly act: Float32Array;
  private readonly dOut: Float32Array;

  /** `layers` are the initial weights, copied: [hidden, output] for an MLP, [output] for logistic regression. */
  constructor(layers: DenseWeights[], opts: FusedOptions) {
    const d = (this.d = opts.inputs);
    const h = (this.h = opts.hidden);
    this.lr = f32(opts.learningRate);
    this.l2 = f32(opts.l2);
    this.batchSize = opts.batchSize;
    const expected = h > 0 ? 2 : 1;
    if (layers.length !== expected) throw new Error(`fused trainer: expected ${expected} dense layer(s), got ${layers.length}`);
    const out = layers[layers.length - 1] as DenseWeights;
    if (out.kernel.length !== (h > 0 ? h : d) || out.bias.length !== 1) throw new Error("fused trainer: the output layer's shape does not match");
    this.w2 = param(Float32Array.from(out.kernel), true);
    this.b2 = param(Float32Array.from(out.bias), false);
    this.params = [this.w2, this.b2];
    if (h > 0) {
      const hid = layers[0] as DenseWeights;
      if (hid.kernel.length !== d * h || hid.bias.length !== h) throw new Error("fused trainer: the hidden layer's shape does not match");
      this.w1t = param(transpose(hid.kernel, d, h), true);
      this.b1 = param(Float32Array.from(hid.bias), false);
      this.params.push(this.w1t, this.b1);
    }
    this.act = new Float32Array(this.batchSize * Math.max(h, 1));
    this.dOut = new Float32Array(this.batchSize);
  }

  /** The current weights, in the layout the constructor took them. */
  weights(): DenseWeights[] {
    const out = { kernel: Float32Array.from(this.w2.value), bias: Float32Array.from(this.b2.value) };
    if (!this.w1t || !this.b1) return [out];
    return [{ kernel: transpose(this.w1t.value, this.h, this.d), bias: Float32Array.from(this.b1.value) }, out];
  }

  /** One pass over the rows in their order (x row-major, y 0/1); returns the epoch's loss as model.fit reports it. */
  epoch(x: Float32Array, y: Float32Array): number {
    const n = y.length;
    let total = 0;
    for (let start = 0; start < n; start += this.batchSize) {
      const rows = Math.min(this.batchSize, n - start);
      for (const p of this.params) p.grad.fill(0);
      let loss = this.h > 0 ? this.mlpStep(x, y, start, rows) : this.logregStep(x, y, start, rows);
      if (this.l2 > 0) loss += this.penalty();
      this.adam();
      total += loss * rows;
    }
    return total / n;
  }

  /** Forward and backward of the MLP over rows [start, start + rows) into the gradients; returns the mean loss. */
  private mlpStep(x: Float32Array, y: Float32Array, start: number, rows: number): number {
    const d = this.d;
    const h = this.h;
    const w1t = (this.w1t as Param).value;
    const b1 = (this.b1 as Param).value;
    const w2 = this.w2.value;
    const b2 = this.b2.value[0] as number;
    const act = this.act;
    const dOut = this.dOut;
    let lossSum = 0;
    for (let r = 0; r < rows; r++) {
      const xr = (start + r) * d;
      const ar = r * h;
      let z = 0;
      for (let j = 0; j < h; j++) {
        const wj = j * d;
        let s = 0;
        for (let k = 0; k < d; k++) s += (x[xr + k] as number) * (w1t[wj + k] as number);
        // tfjs rounds the product to float32, then adds the bias.
        const pre = f32(f32(s) + (b1[j] as number));
        const v = pre > 0 ? pre : 0;
        act[ar + j] = v;
        z += v * (w2[j] as number);
      }
      lossSum += this.output(f32(f32(z) + b2), y[start + r] as number, r, rows);
    }
    const gw1t = (this.w1t as Param).grad;
    const gb1 = (this.b1 as Param).grad;
    const gw2 = this.w2.grad;
    let gb2 = 0;
    for (let r = 0; r < rows; r++) {
      const g = dOut[r] as number;
      if (g === 0) continue;
      gb2 += g;
      const xr = (start + r) * d;
      const ar = r * h;
      for (let j = 0; j < h; j++) {
        const v = act[ar + j] as number;
        // relu's gradient is 0 at 0 (tfjs's step function): an inactive unit passes nothing back.
        if (v <= 0) continue;
        gw2[j] = (gw2[j] as number) + v * g;
        const dj = f32(g * (w2[j] as number));
        gb1[j] = (gb1[j] as number) + dj;
        const wj = j * d;
        for (let k = 0; k < d; k++) gw1t[wj + k] = (gw1t[wj + k] as number) + dj * (x[xr + k] as number);
      }
    }
    this.b2.grad[0] = gb2;
    return lossSum / rows;
  }

  /** The same for logistic regression: one sigmoid unit on the inputs. */
  private logregStep(x: Float32Array, y: Float32Array, start: number, rows: number): number {
    const d = this.d;
    const w = this.w2.value;
    const b = this.b2.value[0] as number;
    const gw = this.w2.grad;
    let gb = 0;
    let lossSum = 0;
    for (let r = 0; r < rows; r++) {
      const xr = (start + r) * d;
      let s = 0;
      for (let k = 0; k < d; k++) s += (x[xr + k] as number) * (w[k] as number);
      lossSum += this.output(f32(f32(s) + b), y[start + r] as number, r, rows);
      const g = this.dOut[r] as number;
      if (g === 0) continue;
      gb += g;
      for (let k = 0; k < d; k++) gw[k] = (gw[k] as number) + g * (x[xr + k] as number);
    }
    this.b2.grad[0] = gb;
    return lossSum / rows;
  }

  /**
   * The sigmoid output and tfjs-layers' binaryCrossentropy for one row: returns its loss and leaves in dOut the
   * gradient of the batch's mean loss with respect to the pre-activation `a`.
   */
  private output(a: number, label: number, r: number, rows: number): number {
    const p = f32(1 / (1 + Math.exp(-a)));
    const pc = p < P_MIN ? P_MIN : p > P_MAX ? P_MAX : p;
    const logit = Math.log(pc / (1 - pc));
    // Through the sigmoid and the logit the gradient is p − y; clipByValue passes none outside its range.
    this.dOut[r] = p >= P_MIN && p <= P_MAX ? (p - label) / rows : 0;
    return (logit > 0 ? logit : 0) - logit * label + Math.log1p(Math.exp(-Math.abs(logit)));
  }

  /** The L2 penalty of the kernels, l2·Σw², added to their gradients (2·l2·w); returns it for the loss. */
  private penalty(): number {
    let loss = 0;
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

/** A row-major [rows × cols] matrix as [cols × rows]. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j] as number;
  return out;
}
