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
  envFile: string;
  airflowUrl: string;
  mlflowUrl: string;
  env: Record<string, string>;
  compose(...args: string[]): Promise<string>;
  down(): Promise<void>;
}

export async function startStack(overrides: Record<string, string>): Promise<Stack> {
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
  const compose = async (...args: string[]) => {
    const r = await execa(
      "docker",
      ["compose", "--project-directory", join(ROOT, "compose"), "-f", join(ROOT, "compose/docker-compose.yml"), "--env-file", envFile, ...args],
      { env: composeEnv, all: true, reject: false },
    );
    if (r.exitCode !== 0) throw new Error(`docker compose ${args.join(" ")} failed (${r.exitCode}):\n${String(r.all).slice(-4000)}`);
    return String(r.stdout);
  };
  const stack: Stack = {
    project,
    dir,
    dataDir,
    envFile,
    env,
    airflowUrl: `http://127.0.0.1:${airflowPort}`,
    mlflowUrl: `http://127.0.0.1:${mlflowPort}`,
    compose,
    async down() {
      await compose("down", "-v", "--remove-orphans").catch((err) => console.error(String(err)));
      // Task containers wrote as another user; a container that runs as root can remove what they left.
      await execa("docker", ["run", "--rm", "-v", `${dir}:/w`, "--entrypoint", "rm", `${composeEnv.IMAGE_PREFIX}/generate:${composeEnv.IMAGE_VERSION}`, "-rf", "/w/data"], { reject: false, env: {} });
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await compose("up", "-d", "--wait");
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
