// Which tfjs backend the networks compute on: "tensorflow", TensorFlow's own C library through tfjs-node's native
// addon, or "cpu", tfjs's pure-JavaScript kernels. Each stage picks its default by measurement (the README's
// table); `--backend` or TFJS_BACKEND overrides it.
//
// Only tfjs-node's kernels and its backend class are bundled, not its package entry: that one loads tfjs's
// umbrella package (a second copy of tfjs-core, whose backends ours would not see, plus WebGL, the converter and
// tfjs-data). The stages alias "@tensorflow/tfjs" to ./tfjs-umbrella.ts, so tfjs-node's kernels register into the
// one tfjs-core every other part of the stage uses. The addon itself is a file of the image (TFJS_NODE_ADDON, set
// where the image's Dockerfile puts it), loaded only when the tensorflow backend is chosen.
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs-core";
// A named import: the package marks its Node entry as free of side effects, so a bare import would be dropped by
// the bundler, and with it the registration of the cpu backend.
import { version_cpu } from "@tensorflow/tfjs-backend-cpu";
import { UsageError, type OptionSpec } from "@airflow-ml-dags/common";

export const BACKENDS = ["tensorflow", "cpu"] as const;
export type Backend = (typeof BACKENDS)[number];
/** Overrides a stage's default backend, as `--backend` does. */
export const BACKEND_ENV = "TFJS_BACKEND";
/** The native addon's file, set by the images that carry it. */
export const ADDON_ENV = "TFJS_NODE_ADDON";
const TFJS_NODE = "@tensorflow/tfjs-node";

let chosen: Backend = "cpu";

/** The `--backend` option of a stage whose measured default is `stageDefault`. */
export function backendOption(stageDefault: Backend): OptionSpec {
  const fromEnv = process.env[BACKEND_ENV]?.trim();
  return {
    help: `tfjs backend: tensorflow (TensorFlow's native library) or cpu (pure JavaScript); ${BACKEND_ENV} sets it too`,
    default: fromEnv || stageDefault,
  };
}

/** Picks the backend the networks of this process compute on; a bad name is a usage error naming the choices. */
export function chooseBackend(name: string, from = "--backend"): Backend {
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new UsageError(`${from}: expected one of ${BACKENDS.join(", ")}, got "${name}"`);
  }
  chosen = name as Backend;
  return chosen;
}

export const chosenBackend = (): Backend => chosen;

/** Makes the chosen backend the active one (registering the native one on first use). */
export async function useBackend(): Promise<Backend> {
  if (chosen === "tensorflow") await registerNative();
  if (tf.getBackend() !== chosen && !(await tf.setBackend(chosen))) {
    const what = chosen === "cpu" ? `tfjs-backend-cpu ${version_cpu}` : TFJS_NODE;
    throw new Error(`tfjs: the ${chosen} backend (${what}) is not available`);
  }
  await tf.ready();
  if (chosen === "cpu") quietFirstUse();
  return chosen;
}

/**
 * The cpu backend's first write prints a notice that a native backend would be faster. Here it is a choice (the
 * images have the native one; `--backend` says which), so its first write is made with tfjs's notices off.
 */
function quietFirstUse(): void {
  const env = tf.env();
  const prod = env.getBool("PROD");
  env.set("PROD", true);
  try {
    tf.tensor1d([0]).dispose();
  } finally {
    env.set("PROD", prod);
  }
}

async function registerNative(): Promise<void> {
  if (tf.findBackendFactory("tensorflow")) return;
  const addon = process.env[ADDON_ENV]?.trim();
  if (!addon) {
    throw new UsageError(`--backend tensorflow: this image has no native TensorFlow (${ADDON_ENV} is not set): use --backend cpu`);
  }
  // TensorFlow's C++ logging writes plain lines to stderr, where a stage writes JSON lines only: its notes (which
  // CPU instructions it could use) and warnings stay off unless the caller asks for them; its errors reach us
  // as exceptions and get our one error line.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= "2";
  let bindings: unknown;
  try {
    bindings = createRequire(addon)(addon);
  } catch (err) {
    throw new Error(`tfjs: cannot load the native addon ${addon} (${(err as Error).message.split("\n")[0]})`);
  }
  // tfjs-node's kernels register themselves for "tensorflow" when their module loads.
  await import("@tensorflow/tfjs-node/dist/register_all_kernels.js");
  const { NodeJSKernelBackend } = await import("@tensorflow/tfjs-node/dist/nodejs_kernel_backend.js");
  // Priority above the cpu backend's, as tfjs-node's own entry registers it.
  tf.registerBackend("tensorflow", () => new NodeJSKernelBackend(bindings as never, TFJS_NODE), 3);
}
