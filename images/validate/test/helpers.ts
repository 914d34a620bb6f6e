import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Frame, fmt, frameHeader, frameRows, normal, rng, toCsv } from "@airflow-ml-dags/common";

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A labelled frame whose target follows a noisy linear score of the features, so a model can learn it. */
export function syntheticFrame(rows: number, seed: string, columns = ["f00", "f01", "f02", "f03"]): Frame & { target: Uint8Array } {
  const r = rng(seed);
  const d = columns.length;
  const values = new Float64Array(rows * d);
  const target = new Uint8Array(rows);
  const ids: string[] = [];
  for (let i = 0; i < rows; i++) {
    let score = 0;
    for (let j = 0; j < d; j++) {
      const v = normal(r);
      values[i * d + j] = v;
      score += (j % 2 ? -1 : 1) * v;
    }
    target[i] = score + 0.5 * normal(r) > 0 ? 1 : 0;
    ids.push(`${seed}-${i}`);
  }
  return { path: `${seed}.csv`, ids, columns, values, target };
}

export async function writeFrameCsv(path: string, frame: Frame): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, toCsv(frameHeader(frame), frameRows(frame, (v) => fmt(v))));
}

export interface Run {
  code: number;
  stdout: string;
  /** stderr, every line parsed as the JSON object it must be. */
  logs: { level: string; msg: string; [k: string]: unknown }[];
  stderr: string;
}

/**
 * The validate CLI as a task container runs it: a separate process, its exit code and its two streams.
 * MLflow variables of the calling shell are dropped, so only a test that passes them in `env` uses MLflow.
 */
export function runValidate(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLFLOW_")));
  // The native TensorFlow backend exists only in the images: here validate computes on the pure-JS one.
  const options = { cwd: PACKAGE_DIR, env: { TFJS_BACKEND: "cpu", ...inherited, ...env } };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--import", "tsx", "src/main.ts", ...args], options, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      try {
        const logs = stderr
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => JSON.parse(l) as Run["logs"][number]);
        resolve({ code, stdout, stderr, logs });
      } catch {
        reject(new Error(`stderr is not JSON lines:\n${stderr}`));
      }
    });
  });
}
