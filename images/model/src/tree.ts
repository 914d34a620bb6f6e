/// <reference path="./ml-cart.d.ts" />
// The tree family: ml-cart's CART classifier, scored by the class-1 share of the leaf a row reaches.
import { DecisionTreeClassifier, type CartJson } from "ml-cart";
import { InputError } from "@airflow-ml-dags/common";
import type { Hyperparams } from "./hyperparams.ts";

export const TREE_JSON = "tree.json";

export type { DecisionTreeClassifier };

export function fitTree(x: Float32Array, y: Uint8Array, hp: Hyperparams): DecisionTreeClassifier {
  const n = y.length;
  const d = x.length / n;
  const rows = Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * d, (i + 1) * d)));
  const tree = new DecisionTreeClassifier({ maxDepth: hp.max_depth, minNumSamples: hp.min_samples });
  tree.train(rows, Array.from(y));
  return tree;
}

/**
 * ml-cart's own predict returns the majority class (0/1); ranking metrics (ROC AUC) and thresholds
 * need a probability, which the leaf holds as its class shares. A leaf that saw only class 0 has a
 * single share.
 */
export function scoreTree(tree: DecisionTreeClassifier, x: Float32Array, rows: number): Float64Array {
  const d = rows ? x.length / rows : 0;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const dist = tree.root.classify(x.subarray(i * d, (i + 1) * d));
    // ml-cart sums 1/n once per sample, which can overshoot 1 by an ulp or two.
    out[i] = dist.columns > 1 ? Math.min(1, dist.get(0, 1)) : 0;
  }
  return out;
}

export const treeToJson = (tree: DecisionTreeClassifier) => `${JSON.stringify(tree.toJSON())}\n`;

/**
 * Walks the saved nodes first: ml-cart's loader would fail deep inside on a broken tree, or not at all.
 * Returns the highest input (1-based) a split reads.
 */
function checkNode(path: string, node: unknown, where: string): number {
  const n = node as Record<string, unknown> | null;
  if (typeof n !== "object" || n === null) throw new InputError(path, `${where}: expected a tree node`);
  if (n.distribution !== undefined) {
    const dist = n.distribution;
    const row = Array.isArray(dist) && dist.length === 1 ? dist[0] : undefined;
    if (!Array.isArray(row) || row.length === 0 || !row.every((v) => typeof v === "number" && v >= 0 && v <= 1 + 1e-9)) {
      throw new InputError(path, `${where}: a leaf's "distribution" must be one row of class shares`);
    }
    return 0;
  }
  const col = n.splitColumn;
  if (typeof col !== "number" || !Number.isInteger(col) || col < 0) throw new InputError(path, `${where}: bad "splitColumn"`);
  if (typeof n.splitValue !== "number") throw new InputError(path, `${where}: bad "splitValue"`);
  return Math.max(col + 1, checkNode(path, n.left, `${where}.left`), checkNode(path, n.right, `${where}.right`));
}

export function loadTree(path: string, text: string): { tree: DecisionTreeClassifier; inputsUsed: number } {
  let json: CartJson;
  try {
    json = JSON.parse(text) as CartJson;
  } catch (err) {
    throw new InputError(path, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== "object" || json === null || json.name !== "DTClassifier" || json.options?.kind !== "classifier") {
    throw new InputError(path, "not an ml-cart decision tree classifier");
  }
  const inputsUsed = checkNode(path, json.root, "root");
  return { tree: DecisionTreeClassifier.load(json), inputsUsed };
}
