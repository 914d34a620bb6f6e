export * from "./hyperparams.ts";
export * from "./model.ts";
export * from "./preprocess.ts";
export { MODEL_JSON, TRAINERS, WEIGHTS_BIN, type Trainer } from "./network.ts";
export { TREE_JSON } from "./tree.ts";
export * from "./backend.ts";
