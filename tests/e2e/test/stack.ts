// The stack of `make up`, started under its own project name, ports and data folder so it never touches a
// developer's running stack.
import { execa } from "execa";
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? ok(addr.port) : fail(new Error("no port"))));
    });
  });
}

export interface Stack {
  project: string;
  dir: string;
  dataDir: string;
  /** What task containers mount at /data: the data folder, or the Celery topology's named volume. */
  dataMount: string;
  /** The Celery workers started (0: the LocalExecutor of the default `make up`). */
  workers: number;
  envFile: string;
  airflowUrl: string;
  mlflowUrl: string;
  env: Record<string, string>;
  compose(...args: string[]): Promise<string>;
  down(): Promise<void>;
}

/** Options of the topology: `celeryWorkers` > 0 starts it as `make up EXECUTOR=celery WORKERS=n` does. */
export interface Topology {
  celeryWorkers?: number;
}

export async function startStack(overrides: Record<string, string>, topology: Topology = {}): Promise<Stack> {
  const workers = topology.celeryWorkers ?? 0;
  const dir = await mkdtemp(join(tmpdir(), "aml-e2e-"));
  const dataDir = join(dir, "data");
  await mkdir(dataDir);
  await chmod(dataDir, 0o777);
  await chmod(dir, 0o755);
  const envFile = join(dir, ".env");
  await execa("bash", [join(ROOT, "compose/make-env.sh"), envFile, dataDir]);
  const airflowPort = await freePort();
  const mlflowPort = await freePort();
  const project = `aml-e2e-${process.pid}`;
  const extra = { AIRFLOW_PORT: String(airflowPort), MLFLOW_PORT: String(mlflowPort), ...overrides };
  await appendFile(envFile, Object.entries(extra).map(([k, v]) => `${k}=${v}\n`).join(""));
  const env: Record<string, string> = {};
  for (const line of (await readFile(envFile, "utf8")).split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1] as string] = m[2] as string;
  }
  const version = (await readFile(join(ROOT, "VERSION"), "utf8")).trim();
  const { stdout: gid } = await execa("stat", ["-c", "%g", "/var/run/docker.sock"]);
  const composeEnv = {
    COMPOSE_PROJECT_NAME: project,
    IMAGE_VERSION: process.env.IMAGE_VERSION ?? version,
    IMAGE_PREFIX: process.env.IMAGE_PREFIX ?? "airflow-ml-dags",
    DOCKER_GID: gid.trim(),
  };
  const files = ["compose/docker-compose.yml", ...(workers > 0 ? ["compose/docker-compose.celery.yml"] : [])];
  const compose = async (...args: string[]) => {
    const r = await execa(
      "docker",
      ["compose", "--project-directory", join(ROOT, "compose"), ...files.flatMap((f) => ["-f", join(ROOT, f)]), "--env-file", envFile, ...args],
      { env: composeEnv, all: true, reject: false },
    );
    if (r.exitCode !== 0) throw new Error(`docker compose ${args.join(" ")} failed (${r.exitCode}):\n${String(r.all).slice(-4000)}`);
    return String(r.stdout);
  };
  const stack: Stack = {
    project,
    dir,
    dataDir,
    dataMount: workers > 0 ? `${project}-data` : dataDir,
    workers,
    envFile,
    env,
    airflowUrl: `http://127.0.0.1:${airflowPort}`,
    mlflowUrl: `http://127.0.0.1:${mlflowPort}`,
    compose,
    async down() {
      // Every profile: down leaves the containers of a profile it is not given.
      await compose("--profile", "flower", "--profile", "triggerer", "down", "-v", "--remove-orphans").catch((err) => console.error(String(err)));
      // Task containers wrote as another user; a container that runs as root can remove what they left.
      await execa("docker", ["run", "--rm", "-v", `${dir}:/w`, "--entrypoint", "rm", `${composeEnv.IMAGE_PREFIX}/generate:${composeEnv.IMAGE_VERSION}`, "-rf", "/w/data"], { reject: false, env: {} });
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await compose("up", "-d", "--wait", ...(workers > 0 ? ["--scale", `airflow-worker=${workers}`] : []));
  } catch (err) {
    await printLogs(stack);
    await stack.down();
    throw err;
  }
  return stack;
}

export async function printLogs(stack: Stack): Promise<void> {
  try {
    console.error(await stack.compose("logs", "--no-color", "--tail", "150"));
  } catch (err) {
    console.error(String(err));
  }
}

/**
 * The sha256 of every file under `dirs` of the stack's data, by path: what the task containers see at /data
 * (the data folder or the named volume), read by a container of the generate image, so both topologies are
 * read the same way (a volume has no host path, and task files belong to the containers' user).
 */
export async function fingerprints(stack: Stack, dirs: string[]): Promise<Map<string, string>> {
  const version = process.env.IMAGE_VERSION ?? (await readFile(join(ROOT, "VERSION"), "utf8")).trim();
  const image = `${process.env.IMAGE_PREFIX ?? "airflow-ml-dags"}/generate:${version}`;
  const script = `cd /data && find ${dirs.join(" ")} -type f -print0 | sort -z | xargs -0 -r sha256sum`;
  const { stdout } = await execa("docker", ["run", "--rm", "--pull", "never", "-v", `${stack.dataMount}:/data:ro`, "--entrypoint", "sh", image, "-c", script]);
  const sums = new Map<string, string>();
  for (const line of stdout.split("\n").filter(Boolean)) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!m) throw new Error(`sha256sum printed an unexpected line: ${line}`);
    sums.set(m[2] as string, m[1] as string);
  }
  return sums;
}
