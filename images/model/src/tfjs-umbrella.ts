// What tfjs-node's kernels import as "@tensorflow/tfjs" (the stages alias it here, see backend.ts): the parts
// they use are tfjs-core's, so this is tfjs-core, the one copy the rest of the stage uses.
export * from "@tensorflow/tfjs-core";
