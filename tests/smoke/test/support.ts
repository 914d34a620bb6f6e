// What every smoke test needs: the built images run as the DAGs run them, temporary data folders, whole-tree
// checksums, and a throw-away MLflow server on its own Docker network.
import { expect } from "chai";
import { execa } from "execa";
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { docker, startMlflowServer, type MlflowServer } from "../../../images/common/test/integration/server.ts";
import pipeline from "../../../contract/pipeline.json" with { type: "json" };

export const PREFIX = process.env.IMAGE_PREFIX ?? "airflow-ml-dags";
export const VERSION = process.env.IMAGE_VERSION ?? "dev";
/** The pipeline contract, as the images and the DAGs read it: a stage image added there is tested here too. */
export const CONTRACT = pipeline;
/** One name per image of the contract; the union is the contract's keys, so a misspelt stage does not compile. */
export type Stage = keyof typeof pipeline.images;
export const STAGES = Object.keys(pipeline.images) as Stage[];
/** The raw schema's feature columns, in order. */
export const FEATURES = pipeline.raw_schema.features.map((f) => f.name);

export const image = (stage: string) => `${PREFIX}/${stage}:${VERSION}`;

export interface StageRun {
  code: number | undefined;
  stdout: string;
  stderrLines: string[];
  /** The JSON result line; throws with the stage's stderr if it failed. */
  result: () => Record<string, unknown>;
}

export interface RunOptions {
  /** Host folder mounted at /data. */
  dataDir: string;
  /** Mount it read-only, as a volume the task may not write to. */
  readOnly?: boolean;
  /** A user-defined Docker network to join (to reach an MLflow server by its alias). */
  network?: string;
  /** Environment of the task container; an empty value is passed as empty, which the images read as unset. */
  env?: Record<string, string>;
}

/** One stage in a fresh container, as DockerOperator runs it: `docker run --rm -v <data>:/data <image> <args>`. */
export async function runStage(stage: Stage, args: string[], opts: RunOptions): Promise<StageRun> {
  const env = Object.entries(opts.env ?? {}).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  const r = await execa(
    "docker",
    [
      "run", "--rm",
      ...(opts.network ? ["--network", opts.network] : []),
      "-v", `${opts.dataDir}:/data${opts.readOnly ? ":ro" : ""}`,
      ...env,
      image(stage),
      ...args,
    ],
    { reject: false },
  );
  const stdoutLines = r.stdout.trim().split("\n").filter(Boolean);
  return {
    code: r.exitCode,
    stdout: r.stdout,
    stderrLines: r.stderr.trim().split("\n").filter(Boolean),
    result: () => {
      if (r.exitCode !== 0) throw new Error(`${stage} ${args.join(" ")} exited ${r.exitCode}: ${r.stderr.slice(-2000)}`);
      return JSON.parse(stdoutLines.at(-1) ?? "null") as Record<string, unknown>;
    },
  };
}

/**
 * The one error line a failed stage must end with: it is the last stderr line, no other line is an error,
 * and every stderr line is JSON. Returns its msg.
 */
export function theErrorLine(r: StageRun): string {
  const lines = r.stderrLines.map((l, i) => {
    try {
      return JSON.parse(l) as { level?: string; msg?: string };
    } catch {
      throw new Error(`stderr line ${i + 1} is not JSON: ${l}`);
    }
  });
  const errors = lines.filter((l) => l.level === "error");
  expect(errors, r.stderrLines.join("\n")).to.have.length(1);
  expect(lines.at(-1), "the error line comes last").to.deep.equal(errors[0]);
  return String(errors[0]?.msg);
}

/** A new temporary data folder that the containers' unprivileged user may write to. */
export async function makeDataDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `aml-${prefix}-`));
  await chmod(dir, 0o777);
  return dir;
}

export const removeDir = (dir: string) => (dir ? rm(dir, { recursive: true, force: true }) : Promise.resolve());

/**
 * A copy of `from` in a new temporary folder, owners and modes kept (cp -a), so the containers may write
 * where they wrote before.
 */
export async function copyDataDir(from: string, prefix: string): Promise<string> {
  const dir = await makeDataDir(prefix);
  await execa("cp", ["-a", `${from}/.`, dir]);
  return dir;
}

export const exists = (dataDir: string, p: string) => stat(join(dataDir, p)).then(() => true, () => false);

/**
 * Every entry below `dir`: folders as "dir", files as their sha256, anything else by its kind. Hidden
 * entries count too, so a leftover temp file shows up as a difference.
 */
export async function treeSums(dir: string, under = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await readdir(join(dir, under), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const rel = under ? `${under}/${e.name}` : e.name;
    if (e.isDirectory()) {
      out[rel] = "dir";
      Object.assign(out, await treeSums(dir, rel));
    } else if (e.isFile()) {
      out[rel] = createHash("sha256").update(await readFile(join(dir, rel))).digest("hex");
    } else {
      out[rel] = e.isSymbolicLink() ? "symlink" : "other";
    }
  }
  return out;
}

/** The entries of a tree whose paths start with one of `prefixes`. */
export const pick = (sums: Record<string, string>, ...prefixes: string[]) =>
  Object.fromEntries(Object.entries(sums).filter(([p]) => prefixes.some((x) => p === x || p.startsWith(`${x}/`))));

/** The `n` dates ending at `ds`, oldest first. */
export const lastDays = (ds: string, n = 7) =>
  Array.from({ length: n }, (_, i) => new Date(Date.parse(`${ds}T00:00:00Z`) - (n - 1 - i) * 86_400_000).toISOString().slice(0, 10));

export interface MlflowOnNetwork {
  network: string;
  /** The server's name on the network. */
  alias: string;
  server: MlflowServer;
  /** The URI containers on the network use. */
  networkUri: string;
  stop: () => Promise<void>;
}

/**
 * A throw-away MLflow server (the project's image) on a new user-defined Docker network, as in the
 * deployment: task containers started with `network` reach it at `networkUri`, this process at `server.uri`.
 */
export async function startMlflowOnNetwork(label: string): Promise<MlflowOnNetwork> {
  const suffix = randomBytes(3).toString("hex");
  const network = `aml-${label}-${suffix}`;
  const alias = `mlflow-${suffix}`;
  await docker("network", "create", "--label", `airflow-ml-dags.test=${label}`, network);
  let server: MlflowServer;
  try {
    server = await startMlflowServer({ label, network: { name: network, alias } });
  } catch (err) {
    await docker("network", "rm", network);
    throw err;
  }
  return {
    network,
    alias,
    server,
    networkUri: server.networkUri ?? `http://${alias}:5000`,
    stop: async () => {
      await docker("rm", "-f", server.container);
      await docker("network", "rm", network);
    },
  };
}
