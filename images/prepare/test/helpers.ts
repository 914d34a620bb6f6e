import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { runMain, withTmp } from "../../common/test/helpers.ts";
import { Args, type Command, createLogger } from "@airflow-ml-dags/common";

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));

/** Runs the CLI as the image does, in a child process. */
export const runCli = (...args: string[]) => runMain(main, args);

/** Runs a command in-process with its defaults, as runCli would after parsing, and a silent logger. */
export function run(cmd: Command, values: Record<string, string>) {
  const defaults = Object.fromEntries(Object.entries(cmd.options).flatMap(([k, o]) => (o.default !== undefined ? [[k, o.default]] : [])));
  return cmd.run(new Args({ ...defaults, ...values }, []), createLogger("test", () => {}));
}

export { withTmp };

export async function put(path: string, text: string): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, text);
}

/** Writes raw/{ds}/data.csv and target.csv from lines (header first). */
export async function putDay(dir: string, ds: string, data: string[], target: string[]): Promise<void> {
  await put(join(dir, "raw", ds, "data.csv"), `${data.join("\n")}\n`);
  await put(join(dir, "raw", ds, "target.csv"), `${target.join("\n")}\n`);
}

/** Every file under a folder, relative to it: what a failed run must leave as it found it. */
export async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

/** Lines of a CSV text split into cells (the test files never need quoting). */
export const cells = (text: string) => text.trim().split("\n").map((l) => l.split(","));
