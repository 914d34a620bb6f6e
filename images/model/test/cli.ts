// Runs a stage CLI the way a task container does (a separate process), for the train, validate and predict tests.
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { writeFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { expect } from "chai";
import { frameHeader, frameRows, fmt, toCsv, type Frame } from "@airflow-ml-dags/common";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stderr parsed: every line must be a JSON object. */
  logs: { level: string; msg: string; [k: string]: unknown }[];
  /** The last stdout line, parsed, when the run succeeded. */
  result: Record<string, unknown>;
}

/**
 * The caller's environment without the MLflow variables (a unit test talks to MLflow only when it says
 * so, whatever the shell that runs the tests has set), on the cpu backend unless it says otherwise.
 */
export function offlineEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLFLOW_")));
  // The native TensorFlow backend exists only in the images (its addon is built there): here every stage
  // computes on the pure-JavaScript one, and the smoke suite compares the two on the built images.
  return { TFJS_BACKEND: "cpu", ...env, ...extra };
}

/** `node --import tsx src/main.ts …` in `cwd`, the package folder; `env` adds variables to offlineEnv(). */
export function runStage(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const options = { cwd, env: offlineEnv(env) };
    execFile(process.execPath, ["--import", "tsx", "src/main.ts", ...args], options, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      const logs = stderr
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => {
          try {
            return JSON.parse(l) as Run["logs"][number];
          } catch {
            throw new Error(`stderr line is not JSON: ${l}`);
          }
        });
      const last = stdout.trimEnd().split("\n").pop() ?? "";
      resolve({ code, stdout, stderr, logs, result: code === 0 ? (JSON.parse(last) as Record<string, unknown>) : {} });
    });
  });
}

/** A failed run: the exit code and exactly one error line, whose message matches. */
export function expectFailure(run: Run, code: number, msg: RegExp): void {
  expect(run.code, run.stderr).to.equal(code);
  const errors = run.logs.filter((l) => l.level === "error");
  expect(errors, run.stderr).to.have.length(1);
  expect(errors[0]!.msg).to.match(msg);
  expect(run.logs[run.logs.length - 1]).to.equal(errors[0]);
  expect(run.stdout).to.equal("");
}

export async function writeFrameCsv(path: string, frame: Frame): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, toCsv(frameHeader(frame), frameRows(frame, (v) => fmt(v))));
}

/** A local port nothing listens on: connecting to it is refused at once. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done, fail) => server.close((err) => (err ? fail(err) : done())));
  return port;
}
