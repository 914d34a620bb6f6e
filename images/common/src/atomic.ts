import { randomBytes } from "node:crypto";
import { lstat, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { InputError } from "./errors.ts";

const tmpName = (path: string) => join(dirname(path), `.${basename(path)}.tmp-${randomBytes(4).toString("hex")}`);

async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new InputError(dir, `cannot create output folder (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}

/**
 * Writes several files so that a reader sees either all old or all new versions: every temp file is
 * written first, and only then are they renamed into place. A failure removes the temp files.
 */
export async function writeFilesAtomic(files: { path: string; data: string | Uint8Array }[]): Promise<void> {
  const staged: { tmp: string; path: string }[] = [];
  try {
    for (const { path, data } of files) {
      await ensureDir(dirname(path));
      const tmp = tmpName(path);
      staged.push({ tmp, path });
      try {
        await writeFile(tmp, data);
      } catch (err) {
        throw new InputError(path, `cannot write (${(err as NodeJS.ErrnoException).code ?? err})`);
      }
    }
    // Renames come last and cannot fail for lack of space, so readers never see a mix of old and new.
    for (const { tmp, path } of staged) {
      try {
        await rename(tmp, path);
      } catch (err) {
        throw new InputError(path, `cannot replace (${(err as NodeJS.ErrnoException).code ?? err})`);
      }
    }
  } catch (err) {
    await Promise.all(staged.map(({ tmp }) => rm(tmp, { force: true })));
    throw err;
  }
}

export const writeFileAtomic = (path: string, data: string | Uint8Array) => writeFilesAtomic([{ path, data }]);

/**
 * Builds a whole output folder in a hidden sibling and swaps it in, so a failed run leaves the previous
 * folder (or none) and never a half-filled one.
 */
export async function replaceDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = dirname(dir);
  await ensureDir(parent);
  // rename() would silently swap a file (or a link) for the new folder and the cleanup would delete it:
  // what stands in the way is not ours to remove.
  const existing = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw new InputError(dir, `cannot read (${err.code ?? err})`);
  });
  if (existing && !existing.isDirectory()) throw new InputError(dir, "exists and is not a folder, so it cannot be replaced");
  const tmp = tmpName(dir);
  const old = `${tmp}.old`;
  try {
    await mkdir(tmp);
  } catch (err) {
    throw new InputError(parent, `cannot write (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  try {
    await fill(tmp);
    let hadOld = true;
    try {
      await rename(dir, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      hadOld = false;
    }
    await rename(tmp, dir);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
