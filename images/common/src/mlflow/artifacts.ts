/**
 * Run artifacts through the tracking server's served-artifacts proxy (`--serve-artifacts`): task containers
 * upload and download over HTTP and never touch the artifact store. Artifact paths are checked before
 * anything is sent, since the server would store some names under another name or refuse them half-way.
 */
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { replaceDirAtomic } from "../atomic.ts";
import { InputError } from "../errors.ts";
import { ARTIFACTS, MlflowError, readJson } from "./client.ts";
import { MlflowRuns, type Run } from "./runs.ts";

export interface ArtifactFile {
  /** Relative to the folder listed, with `/` separators. */
  path: string;
  isDir: boolean;
  /** Bytes, for files. */
  size?: number;
}

interface WireFileInfo {
  path: string;
  is_dir?: boolean;
  file_size?: number | string;
}

// ---------------------------------------------------------------------------------------------------
// Artifact paths.

/**
 * Checks one artifact path and returns its segments. The server decodes `%` escapes repeatedly and
 * refuses `#`, so names holding them would be stored under another name or refused half-way through an
 * upload: they are refused up front instead.
 */
export function pathSegments(path: string, where: string): string[] {
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  for (const s of segments) {
    if (s === ".." || /[#%\\\u0000-\u001f]/.test(s)) {
      throw new InputError(
        where,
        `artifact path "${path}" has a name MLflow cannot store ("..", "#", "%", "\\" or a control character)`,
      );
    }
  }
  return segments;
}

export const joinPath = (...parts: string[]) => parts.filter((p) => p !== "").join("/");

/** Path of an artifact URI below the served-artifacts root, or undefined for a store we cannot reach. */
export function servedPath(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined; // not a URI at all: the caller reports it as unsupported
  }
  let path: string;
  if (url.protocol === "mlflow-artifacts:") {
    path = url.pathname;
  } else if (url.protocol === "http:" || url.protocol === "https:") {
    const marker = "/api/2.0/mlflow-artifacts/artifacts";
    const at = url.pathname.indexOf(marker);
    if (at < 0) return undefined;
    path = url.pathname.slice(at + marker.length);
  } else {
    return undefined;
  }
  try {
    return path
      .split("/")
      .filter((s) => s !== "")
      .map((s) => decodeURIComponent(s))
      .join("/");
  } catch {
    return undefined; // a malformed % escape: not a path the proxy could serve either
  }
}

const encodePath = (path: string) => path.split("/").map(encodeURIComponent).join("/");

/** Every file below `dir`, relative with `/` separators, sorted so uploads happen in a stable order. */
async function listLocalFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string) => {
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(current, code === "ENOENT" ? "folder not found" : `cannot read folder (${code ?? err})`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = join(current, entry.name);
      // Symlinks are followed, as a copy would: the server stores bytes, not links.
      const kind = entry.isSymbolicLink() ? await stat(full) : entry;
      if (kind.isDirectory()) await walk(full);
      else if (kind.isFile()) out.push(relative(dir, full).split(sep).join("/"));
      else throw new InputError(full, "not a regular file or folder, cannot upload it");
    }
  };
  await walk(dir);
  return out;
}

/** The artifacts part of `MlflowClient`. */
export class MlflowArtifacts extends MlflowRuns {
  /** The served path of a run's artifact folder, e.g. `1/<run_id>/artifacts`. */
  protected async runArtifactRoot(runId: string): Promise<{ run: Run; root: string }> {
    const run = await this.getRun(runId);
    const root = servedPath(run.info.artifactUri);
    if (root === undefined) {
      throw new InputError(
        `runs:/${runId}`,
        `artifacts are stored at ${run.info.artifactUri}, not behind the tracking server; start it with --serve-artifacts`,
      );
    }
    return { run, root };
  }

  /**
   * Uploads every file below `localDir` (recursively) to `artifactPath` of the run, keeping the
   * relative layout. Returns the uploaded paths relative to `localDir`. Empty folders are not kept:
   * the artifact store only holds files.
   */
  async uploadArtifacts(runId: string, localDir: string, artifactPath = ""): Promise<string[]> {
    const context = `runs:/${joinPath(runId, artifactPath)}`;
    const base = pathSegments(artifactPath, context);
    const files = await listLocalFiles(localDir);
    if (files.length === 0) throw new InputError(localDir, "folder has no files to upload");
    for (const file of files) pathSegments(file, join(localDir, file));
    const { root } = await this.runArtifactRoot(runId);
    for (const file of files) {
      const local = join(localDir, file);
      let data: Buffer;
      try {
        // Whole-file bodies carry a Content-Length and can be re-sent on retry; model files are small.
        data = await readFile(local);
      } catch (err) {
        throw new InputError(local, `cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
      }
      await this.call({
        method: "PUT",
        path: `${ARTIFACTS}/${encodePath(joinPath(root, ...base, file))}`,
        body: data,
        context: `runs:/${joinPath(runId, ...base, file)}`,
        idempotent: true,
        timeoutMs: this.transferTimeoutMs,
        read: (res) => res.text(),
      });
    }
    return files;
  }

  /** Lists a served folder; `recursive` descends into sub-folders and returns files only. */
  protected async listServed(path: string, context: string, recursive: boolean): Promise<ArtifactFile[]> {
    const r = await this.call({
      method: "GET",
      path: ARTIFACTS,
      query: { path },
      context,
      idempotent: true,
      read: (res) => readJson<{ files?: WireFileInfo[] }>(res, "mlflow-artifacts", context),
    });
    const out: ArtifactFile[] = [];
    for (const f of r.files ?? []) {
      // The server returns base names; anything else would let a listing write outside the target folder.
      if (f.path === "" || f.path === "." || f.path === ".." || f.path.includes("/") || f.path.includes("\\")) {
        throw new InputError(context, `server listed an unexpected artifact name "${f.path}"`);
      }
      if (f.is_dir) {
        if (!recursive) out.push({ path: f.path, isDir: true });
        else {
          const below = await this.listServed(joinPath(path, f.path), context, true);
          out.push(...below.map((sub) => ({ ...sub, path: `${f.path}/${sub.path}` })));
        }
      } else {
        out.push({ path: f.path, isDir: false, ...(f.file_size !== undefined ? { size: Number(f.file_size) } : { size: 0 }) });
      }
    }
    return out;
  }

  /** Lists `artifactPath` of a run (its root by default); paths are relative to `artifactPath`. */
  async listArtifacts(runId: string, artifactPath = "", options: { recursive?: boolean } = {}): Promise<ArtifactFile[]> {
    const context = `runs:/${joinPath(runId, artifactPath)}`;
    const segments = pathSegments(artifactPath, context);
    const { root } = await this.runArtifactRoot(runId);
    return this.listServed(joinPath(root, ...segments), context, options.recursive ?? false);
  }

  /** Downloads the folder `artifactPath` of a run into `localDir` (replaced as a whole). */
  async downloadArtifacts(runId: string, artifactPath: string, localDir: string): Promise<string[]> {
    const context = `runs:/${joinPath(runId, artifactPath)}`;
    const segments = pathSegments(artifactPath, context);
    const { root } = await this.runArtifactRoot(runId);
    return this.downloadServed(joinPath(root, ...segments), localDir, context);
  }

  /**
   * Downloads a served folder into `localDir`. The folder is filled in a hidden sibling and swapped in
   * at the end, so a failure leaves the previous content (or nothing), never a half-downloaded model.
   */
  protected async downloadServed(path: string, localDir: string, context: string): Promise<string[]> {
    const files = (await this.listServed(path, context, true)).map((f) => f.path);
    // Missing folders and single files both list as empty: either way there is no folder to download.
    if (files.length === 0) throw new InputError(context, "no artifacts found at this path");
    await replaceDirAtomic(localDir, async (tmp) => {
      for (const file of files) {
        const dest = join(tmp, ...file.split("/"));
        try {
          await mkdir(dirname(dest), { recursive: true });
        } catch (err) {
          throw new InputError(dirname(dest), `cannot create folder (${(err as NodeJS.ErrnoException).code ?? err})`);
        }
        await this.call({
          method: "GET",
          path: `${ARTIFACTS}/${encodePath(joinPath(path, file))}`,
          context,
          idempotent: true,
          timeoutMs: this.transferTimeoutMs,
          read: async (res) => {
            if (!res.body) throw new MlflowError(context, `MLflow sent no content for ${file}`, "BAD_RESPONSE", res.status);
            const out = createWriteStream(dest);
            try {
              await pipeline(Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>), out);
            } catch (err) {
              // A failing disk is the user's to fix and not worth a retry; a dropped connection is retried.
              const failed = out.errored as NodeJS.ErrnoException | null;
              if (failed) throw new InputError(join(localDir, file), `cannot write (${failed.code ?? failed.message})`);
              throw err;
            }
          },
        });
      }
    });
    return files;
  }
}
