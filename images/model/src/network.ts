// The tfjs families: logistic regression (one sigmoid unit) and an MLP (one relu hidden layer).
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { InputError, rng, type Logger } from "@airflow-ml-dags/common";
import { useBackend } from "./backend.ts";
import type { Hyperparams } from "./hyperparams.ts";
import { FusedTrainer, type DenseWeights } from "./fused.ts";

export const MODEL_JSON = "model.json";
export const WEIGHTS_BIN = "weights.bin";

/** Explicit names: tfjs numbers unnamed layers per process, which would make saved files differ between runs. */
export function buildNetwork(hp: Hyperparams, inputs: number): tfl.LayersModel {
  const regularizer = hp.l2 > 0 ? () => tfl.regularizers.l2({ l2: hp.l2 }) : () => undefined;
  const model = tfl.sequential({ name: hp.family });
  if (hp.family === "mlp") {
    model.add(
      tfl.layers.dense({
        name: "hidden",
        inputShape: [inputs],
        units: hp.hidden,
        activation: "relu",
        kernelInitializer: tfl.initializers.heNormal({ seed: hp.seed }),
        kernelRegularizer: regularizer(),
      }),
    );
  }
  model.add(
    tfl.layers.dense({
      name: "output",
      ...(hp.family === "mlp" ? {} : { inputShape: [inputs] }),
      units: 1,
      activation: "sigmoid",
      // A different stream from the hidden layer's, still fixed by the seed.
      kernelInitializer: tfl.initializers.glorotUniform({ seed: hp.seed + 1 }),
      kernelRegularizer: regularizer(),
    }),
  );
  model.compile({ optimizer: tf.train.adam(hp.learning_rate), loss: "binaryCrossentropy" });
  return model;
}

/**
 * How the network is fitted. `fused` (the default) runs each batch as one loop in ./fused.ts, a few times faster
 * than `tfjs`, which is tfjs-layers' `model.fit`, the reference the fused step is tested against: the same math,
 * batches and Adam, so both give the same model within float rounding.
 */
export const TRAINERS = ["fused", "tfjs"] as const;
export type Trainer = (typeof TRAINERS)[number];

/** Each Dense layer's [kernel, bias], read out of the tfjs model. */
function denseWeights(model: tfl.LayersModel): DenseWeights[] {
  return model.layers.map((layer) => {
    const [kernel, bias] = layer.getWeights();
    if (!kernel || !bias) throw new Error(`layer ${layer.name}: expected a kernel and a bias`);
    return { kernel: kernel.dataSync() as Float32Array, bias: bias.dataSync() as Float32Array };
  });
}

function setDenseWeights(model: tfl.LayersModel, weights: DenseWeights[]): void {
  model.layers.forEach((layer, i) => {
    const w = weights[i] as DenseWeights;
    const [kernel, bias] = layer.getWeights() as [tf.Tensor, tf.Tensor];
    const values = [tf.tensor(w.kernel, kernel.shape, "float32"), tf.tensor(w.bias, bias.shape, "float32")];
    try {
      layer.setWeights(values);
    } finally {
      tf.dispose(values);
    }
  });
}

/**
 * Fits epoch by epoch with our own seeded shuffle: tfjs's `shuffle: true` draws from an unseeded
 * generator, so two runs would not give the same weights. The rows of `x` are shuffled in place (it is
 * left in the last epoch's order) and trained on as they are: no shuffled copy of the inputs is made.
 * The fused trainer starts from the model's initial weights and writes the trained ones back into it, so the
 * model is saved and scored the same way whichever trainer ran; the model's own optimizer is then left unused.
 */
export async function fitNetwork(
  model: tfl.LayersModel,
  x: Float32Array,
  y: Uint8Array,
  hp: Hyperparams,
  log: Logger,
  onEpoch?: (epoch: number, loss: number) => void,
  trainer: Trainer = "fused",
): Promise<number[]> {
  const n = y.length;
  const d = x.length / n;
  const random = rng(`shuffle:${hp.seed}`);
  const ys = Float32Array.from(y);
  const row = new Float32Array(d);
  const losses: number[] = [];
  const fused =
    trainer === "fused"
      ? new FusedTrainer(denseWeights(model), {
          inputs: d,
          hidden: hp.family === "mlp" ? hp.hidden : 0,
          learningRate: hp.learning_rate,
          l2: hp.l2,
          batchSize: Math.min(hp.batch_size, n),
        })
      : undefined;
  for (let epoch = 1; epoch <= hp.epochs; epoch++) {
    // Fisher–Yates over rows, x and its labels together.
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      row.set(x.subarray(i * d, (i + 1) * d));
      x.copyWithin(i * d, j * d, (j + 1) * d);
      x.set(row, j * d);
      const label = ys[i] as number;
      ys[i] = ys[j] as number;
      ys[j] = label;
    }
    const loss = fused ? fused.epoch(x, ys) : await tfjsEpoch(model, x, ys, n, d, hp.batch_size);
    if (!Number.isFinite(loss)) throw new Error(`training diverged at epoch ${epoch} (loss ${loss}): try a smaller --learning-rate`);
    losses.push(loss);
    log.info("epoch", { epoch, epochs: hp.epochs, loss });
    onEpoch?.(epoch, loss);
  }
  if (fused) setDenseWeights(model, fused.weights());
  return losses;
}

/** One epoch of tfjs-layers' own fit, over the rows in their order. */
async function tfjsEpoch(model: tfl.LayersModel, x: Float32Array, ys: Float32Array, n: number, d: number, batchSize: number): Promise<number> {
  const xt = tf.tensor2d(x, [n, d]);
  const yt = tf.tensor2d(ys, [n, 1]);
  try {
    const h = await model.fit(xt, yt, { epochs: 1, batchSize, shuffle: false, verbose: 0 });
    return Number(h.history.loss?.[0]);
  } finally {
    xt.dispose();
    yt.dispose();
  }
}

/** Rows at a time, so scoring a large file does not hold every activation at once. */
const SCORE_CHUNK = 16_384;

export function scoreNetwork(model: tfl.LayersModel, x: Float32Array, rows: number): Float64Array {
  const d = rows ? x.length / rows : 0;
  const out = new Float64Array(rows);
  for (let start = 0; start < rows; start += SCORE_CHUNK) {
    const m = Math.min(SCORE_CHUNK, rows - start);
    // The tensor, not its values, leaves tidy: tidy walks whatever it returns, element by element for an array.
    const p = tf.tidy(() => model.predict(tf.tensor2d(x.subarray(start * d, (start + m) * d), [m, d]), { batchSize: m }) as tf.Tensor);
    try {
      out.set(p.dataSync(), start);
    } finally {
      p.dispose();
    }
  }
  return out;
}

/** model.json in the layout tfjs's own file handlers write, so `tf.loadLayersModel("file://…")` also reads it. */
export async function networkFiles(model: tfl.LayersModel): Promise<{ name: string; data: string | Uint8Array }[]> {
  let files: { name: string; data: string | Uint8Array }[] = [];
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as {},
        format: artifacts.format as string,
        generatedBy: artifacts.generatedBy as string,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
      };
      files = [
        { name: MODEL_JSON, data: `${JSON.stringify(modelJson)}\n` },
        { name: WEIGHTS_BIN, data: new Uint8Array(weights) },
      ];
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: "JSON", weightDataBytes: weights.byteLength } };
    }),
  );
  return files;
}

const byteSize: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/**
 * Reads model.json + weights.bin (already in memory). Every way they can be broken ends in an
 * InputError naming the file, never in a tfjs stack trace.
 */
export async function loadNetwork(modelPath: string, modelText: string, weightsPath: string, weights: Uint8Array): Promise<tfl.LayersModel> {
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(modelText) as tf.io.ModelJSON;
  } catch (err) {
    throw new InputError(modelPath, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== "object" || json === null || typeof json.modelTopology !== "object" || !Array.isArray(json.weightsManifest)) {
    throw new InputError(modelPath, "not a tfjs layers model (no modelTopology or weightsManifest)");
  }
  const specs = tf.io.getWeightSpecs(json.weightsManifest);
  let expected = 0;
  for (const s of specs) {
    const size = byteSize[s.dtype];
    if (!size || !Array.isArray(s.shape)) throw new InputError(modelPath, `weight "${s.name}": unsupported dtype "${s.dtype}"`);
    expected += size * s.shape.reduce((a, b) => a * b, 1);
  }
  if (weights.byteLength !== expected) {
    throw new InputError(weightsPath, `has ${weights.byteLength} bytes, ${MODEL_JSON} describes ${expected}`);
  }
  await useBackend();
  try {
    const buffer = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
    return await tfl.loadLayersModel(tf.io.fromMemory(tf.io.getModelArtifactsForJSONSync(json, specs, buffer)));
  } catch (err) {
    throw new InputError(modelPath, `cannot load the model (${(err as Error).message.split("\n")[0]})`);
  }
}

/** The number of inputs and of Dense layers, to check a loaded network against its manifest. */
export function networkShape(model: tfl.LayersModel): { inputs: number; layers: number; outputs: number } {
  const input = model.inputs[0]?.shape ?? [];
  const output = model.outputs[0]?.shape ?? [];
  return { inputs: Number(input[1]), layers: model.layers.length, outputs: Number(output[1]) };
}
