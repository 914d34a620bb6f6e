// Test support shared by the stage packages' tests (imported by relative path; not part of the library).
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh temporary folder per test, removed afterwards. */
export async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "aml-test-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a stage's CLI (its src/main.ts) as the image does, in a child process, and splits its output into lines. */
export function runMain(main: string, args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", main, ...args], { encoding: "utf8" });
  const stdout = r.stdout.trim().split("\n").filter(Boolean);
  const stderr = r.stderr.trim().split("\n").filter(Boolean);
  return { code: r.status, stdout, stderr, errors: stderr.map((l) => JSON.parse(l)).filter((l) => l.level === "error") };
}
