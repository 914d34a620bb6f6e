import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { type FileHandle, lstat, mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { InputError } from "./errors.ts";

const tmpName = (path: string) => join(dirname(path), `.${basename(path)}.tmp-${randomBytes(4).toString("hex")}`);

/** "cannot write (EROFS)": what failed, and the system's code for why. */
const failed = (path: string, what: string, err: unknown) =>
  new InputError(path, `${what} (${(err as NodeJS.ErrnoException).code ?? err})`);

/** Temporary files and folders not yet renamed into place or removed: what a stopped stage must not leave. */
const pending = new Set<string>();

/**
 * Removes every temporary file and folder still being written, at once: for a stage stopped by a signal,
 * which runs no `finally` blocks. Outputs already renamed into place stay, complete.
 */
export function removePendingOutputs(): void {
  for (const path of pending) rmSync(path, { recursive: true, force: true });
  pending.clear();
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw failed(dir, "cannot create output folder", err);
  }
}

/** One output of writeStreamsAtomic: appends to its temporary file. */
export interface AtomicWriter {
  readonly path: string;
  write(data: string | Uint8Array): Promise<void>;
}

/**
 * Writes several files so that a reader sees either all old or all new versions, for outputs too large to
 * hold in memory as well: `fill` appends to every file piece by piece (each piece reaches the disk before
 * the next is made), and the temporary files are renamed into place together only once `fill` has returned.
 * An error in `fill` or in a write removes every temporary file.
 */
export async function writeStreamsAtomic(paths: string[], fill: (writers: AtomicWriter[]) => Promise<void>): Promise<void> {
  const staged: { tmp: string; path: string; handle?: FileHandle }[] = [];
  const closeAll = () => Promise.all(staged.map((s) => s.handle?.close().catch(() => undefined)));
  try {
    const writers: AtomicWriter[] = [];
    for (const path of paths) {
      await ensureDir(dirname(path));
      const entry: { tmp: string; path: string; handle?: FileHandle } = { tmp: tmpName(path), path };
      staged.push(entry);
      pending.add(entry.tmp);
      try {
        entry.handle = await open(entry.tmp, "w");
      } catch (err) {
        throw failed(path, "cannot write", err);
      }
      const handle = entry.handle;
      writers.push({
        path,
        async write(data) {
          try {
            // writeFile, unlike write, goes on until every byte is written, from where the last write ended.
            await handle.writeFile(data);
          } catch (err) {
            throw failed(path, "cannot write", err);
          }
        },
      });
    }
    await fill(writers);
    for (const entry of staged) {
      try {
        await entry.handle?.close();
      } catch (err) {
        throw failed(entry.path, "cannot write", err);
      } finally {
        delete entry.handle;
      }
    }
    // Renames come last and cannot fail for lack of space, so readers never see a mix of old and new.
    for (const { tmp, path } of staged) {
      try {
        await rename(tmp, path);
        pending.delete(tmp);
      } catch (err) {
        throw failed(path, "cannot replace", err);
      }
    }
  } catch (err) {
    await closeAll();
    await Promise.all(staged.map(({ tmp }) => rm(tmp, { force: true })));
    for (const { tmp } of staged) pending.delete(tmp);
    throw err;
  }
}

/** writeStreamsAtomic for outputs already in memory, each written whole. */
export const writeFilesAtomic = (files: { path: string; data: string | Uint8Array }[]): Promise<void> =>
  writeStreamsAtomic(
    files.map((f) => f.path),
    async (writers) => {
      for (const [i, writer] of writers.entries()) await writer.write((files[i] as { data: string | Uint8Array }).data);
    },
  );

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
    throw failed(parent, "cannot write", err);
  }
  pending.add(tmp);
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
    pending.delete(tmp);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    pending.delete(tmp);
    throw err;
  }
}
