import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { InputError } from "@airflow-ml-dags/common";
import { DEFAULT_HYPERPARAMS, type Family, type Hyperparams } from "../src/index.ts";

/** Small and quick, still enough to learn the synthetic sets. */
export const quick = (family: Family, over: Partial<Hyperparams> = {}): Hyperparams => ({
  ...DEFAULT_HYPERPARAMS,
  family,
  epochs: 8,
  batch_size: 32,
  hidden: 8,
  ...over,
});

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "model-test-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function readAll(dir: string): Promise<Record<string, Buffer>> {
  const out: Record<string, Buffer> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = await readFile(join(dir, name));
  return out;
}

/** Awaits `p` and checks it failed with an InputError naming `file` and matching `problem`. */
export async function expectInputError(p: Promise<unknown>, file: string, problem: RegExp): Promise<InputError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected an InputError").to.be.instanceOf(InputError);
  const e = caught as InputError;
  expect(e.file).to.equal(file);
  expect(e.problem).to.match(problem);
  expect(e.message).to.not.include("\n");
  return e;
}
