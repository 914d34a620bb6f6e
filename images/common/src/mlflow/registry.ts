/**
 * The model registry with aliases (stages are deprecated in MLflow 3 and never used here): registered models,
 * versions made from a run's artifact folder, version tags, aliases, `models:/` references and downloads by URI.
 */
import { MODEL_REF_BY_ALIAS, MODEL_REF_BY_VERSION } from "../contract.ts";
import { InputError } from "../errors.ts";
import { kv, MlflowError, toPairs, type WireKV } from "./client.ts";
import { joinPath, MlflowArtifacts, pathSegments, servedPath } from "./artifacts.ts";

export interface RegisteredModel {
  name: string;
  description: string;
  /** Alias → version. */
  aliases: Record<string, string>;
  tags: Record<string, string>;
}

export interface ModelVersion {
  name: string;
  version: string;
  /** Where the files are, as given at creation (here the run's served-artifacts URI). */
  source: string;
  runId?: string;
  /** "READY" once registered (the SQL registry store registers synchronously). */
  status: string;
  description: string;
  tags: Record<string, string>;
  aliases: string[];
  creationTimestamp: number;
}

/** A parsed `models:/<name>@<alias>` or `models:/<name>/<version>` reference. */
export interface ModelRef {
  uri: string;
  name: string;
  alias?: string;
  version?: string;
}

interface WireRegisteredModel {
  name: string;
  description?: string;
  aliases?: { alias: string; version: string }[];
  tags?: WireKV[];
}
interface WireModelVersion {
  name: string;
  version: string;
  source?: string;
  run_id?: string;
  status?: string;
  description?: string;
  tags?: WireKV[];
  aliases?: string[];
  creation_timestamp?: number;
}

const toRegisteredModel = (m: WireRegisteredModel): RegisteredModel => ({
  name: m.name,
  description: m.description ?? "",
  aliases: Object.fromEntries((m.aliases ?? []).map((a) => [a.alias, a.version])),
  tags: kv(m.tags),
});

const toModelVersion = (v: WireModelVersion): ModelVersion => ({
  name: v.name,
  version: v.version,
  source: v.source ?? "",
  ...(v.run_id ? { runId: v.run_id } : {}),
  status: v.status ?? "",
  description: v.description ?? "",
  tags: kv(v.tags),
  aliases: v.aliases ?? [],
  creationTimestamp: v.creation_timestamp ?? 0,
});

// ---------------------------------------------------------------------------------------------------
// Model references.

const USAGE_MODEL_URI =
  'expected models:/<name>@<alias> or models:/<name>/<version> (registry stages and "latest" are not supported)';

/**
 * Parses `models:/<name>@<alias>` and `models:/<name>/<version>`, by the contract's grammar (the DAG side
 * parses with the same): names hold no `/`, `:`, `@` or spaces, aliases are letters, digits, `_` and `-`.
 */
export function parseModelUri(uri: string): ModelRef {
  const byVersion = MODEL_REF_BY_VERSION.exec(uri);
  if (byVersion) return { uri, name: byVersion[1] as string, version: byVersion[2] as string };
  const byAlias = MODEL_REF_BY_ALIAS.exec(uri);
  if (byAlias) return { uri, name: byAlias[1] as string, alias: byAlias[2] as string };
  throw new InputError(uri, USAGE_MODEL_URI);
}

export const modelUri = (name: string, aliasOrVersion: { alias: string } | { version: string | number }) =>
  "alias" in aliasOrVersion ? `models:/${name}@${aliasOrVersion.alias}` : `models:/${name}/${aliasOrVersion.version}`;

/** The registry part of `MlflowClient`, and downloads by any artifact or model URI. */
export class MlflowRegistry extends MlflowArtifacts {
  async getRegisteredModel(name: string): Promise<RegisteredModel | undefined> {
    try {
      const r = await this.api<{ registered_model: WireRegisteredModel }>(
        "GET",
        "registered-models/get",
        { name },
        `models:/${name}`,
        true,
      );
      return toRegisteredModel(r.registered_model);
    } catch (err) {
      if (err instanceof MlflowError && err.code === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw err;
    }
  }

  /** The registered model of that name, created if missing (a concurrent creation is fine). */
  async createRegisteredModelIfMissing(
    name: string,
    options: { description?: string; tags?: Record<string, string> } = {},
  ): Promise<RegisteredModel> {
    const found = await this.getRegisteredModel(name);
    if (found) return found;
    try {
      const r = await this.api<{ registered_model: WireRegisteredModel }>(
        "POST",
        "registered-models/create",
        { name, tags: toPairs(options.tags), ...(options.description ? { description: options.description } : {}) },
        `models:/${name}`,
        false,
      );
      return toRegisteredModel(r.registered_model);
    } catch (err) {
      if (!(err instanceof MlflowError && err.code === "RESOURCE_ALREADY_EXISTS")) throw err;
      const raced = await this.getRegisteredModel(name);
      if (!raced) throw err;
      return raced;
    }
  }

  /**
   * Registers the folder `artifactPath` of a run as a new version of `name`. Like MLflow's own
   * `register_model("runs:/…")`, the stored source is the run's served-artifacts URI
   * (`mlflow-artifacts:/<exp>/<run_id>/artifacts/<path>`) with `run_id` for lineage, so the version's
   * download URI points straight at the files. The folder must already hold files; the UI shows the
   * version's schema from the `MLmodel` file among them.
   */
  async createModelVersion(
    name: string,
    runId: string,
    artifactPath: string,
    options: { tags?: Record<string, string>; description?: string } = {},
  ): Promise<ModelVersion> {
    const runUri = `runs:/${joinPath(runId, artifactPath)}`;
    const segments = pathSegments(artifactPath, runUri);
    if (segments.length === 0) {
      throw new InputError(runUri, "a model version needs an artifact folder, not the run's whole artifact root");
    }
    const { run, root } = await this.runArtifactRoot(runId);
    const present = await this.listServed(joinPath(root, ...segments), runUri, false);
    if (present.length === 0) {
      throw new InputError(runUri, "no artifacts at this path; upload the model folder before registering it");
    }
    const r = await this.api<{ model_version: WireModelVersion }>(
      "POST",
      "model-versions/create",
      {
        name,
        source: joinPath(run.info.artifactUri.replace(/\/+$/, ""), ...segments),
        run_id: runId,
        tags: toPairs(options.tags),
        ...(options.description ? { description: options.description } : {}),
      },
      `models:/${name}`,
      false,
    );
    return toModelVersion(r.model_version);
  }

  /** The versions of every registered model that `filter` selects (e.g. `run_id = '<id>'`), every page of them. */
  async searchModelVersions(filter: string): Promise<ModelVersion[]> {
    const out: ModelVersion[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.api<{ model_versions?: WireModelVersion[]; next_page_token?: string }>(
        "GET",
        "model-versions/search",
        { filter, max_results: 1000, ...(pageToken ? { page_token: pageToken } : {}) },
        this.trackingUri,
        true,
      );
      out.push(...(r.model_versions ?? []).map(toModelVersion));
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  async getModelVersion(name: string, version: string | number): Promise<ModelVersion> {
    const r = await this.api<{ model_version: WireModelVersion }>(
      "GET",
      "model-versions/get",
      { name, version: String(version) },
      modelUri(name, { version }),
      true,
    );
    return toModelVersion(r.model_version);
  }

  async setModelVersionTag(name: string, version: string | number, key: string, value: string): Promise<void> {
    const payload = { name, version: String(version), key, value };
    await this.api("POST", "model-versions/set-tag", payload, modelUri(name, { version }), true);
  }

  /** What the registry says to download for a version (for versions made here: an `mlflow-artifacts:/` URI). */
  async getModelVersionDownloadUri(name: string, version: string | number): Promise<string> {
    const r = await this.api<{ artifact_uri: string }>(
      "GET",
      "model-versions/get-download-uri",
      { name, version: String(version) },
      modelUri(name, { version }),
      true,
    );
    return r.artifact_uri;
  }

  /** Points `alias` at `version`, moving it off whichever version held it. */
  async setAlias(name: string, alias: string, version: string | number): Promise<void> {
    await this.api("POST", "registered-models/alias", { name, alias, version: String(version) }, modelUri(name, { alias }), true);
  }

  /** Removes an alias; removing one that does not exist is not an error (the server treats it so). */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.api("DELETE", "registered-models/alias", { name, alias }, modelUri(name, { alias }), true);
  }

  /** The version `alias` points at; a missing alias or model is an `InputError` naming `models:/<name>@<alias>`. */
  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    const uri = modelUri(name, { alias });
    try {
      const r = await this.api<{ model_version: WireModelVersion }>("GET", "registered-models/alias", { name, alias }, uri, true);
      return toModelVersion(r.model_version);
    } catch (err) {
      if (!(err instanceof MlflowError && (err.status === 400 || err.status === 404))) throw err;
      // The server's answers for "no such model" and "no such alias" differ only in wording, so ask
      // the model itself rather than parsing messages.
      const model = await this.getRegisteredModel(name);
      if (!model) throw new MlflowError(uri, `registered model "${name}" does not exist`, "RESOURCE_DOES_NOT_EXIST", err.status);
      if (!(alias in model.aliases)) {
        throw new MlflowError(uri, `no version has alias "${alias}"`, "RESOURCE_DOES_NOT_EXIST", err.status);
      }
      throw err;
    }
  }

  /** The version a `models:/<name>@<alias>` or `models:/<name>/<version>` reference names. */
  async resolveModel(ref: string | ModelRef): Promise<ModelVersion> {
    const parsed = typeof ref === "string" ? parseModelUri(ref) : ref;
    return parsed.alias !== undefined
      ? this.getModelVersionByAlias(parsed.name, parsed.alias)
      : this.getModelVersion(parsed.name, parsed.version as string);
  }

  /**
   * Downloads the files of the version a `models:/` reference names into `localDir` (replaced as a
   * whole). The version is resolved once, so the files and the returned version always match even if
   * the alias moves meanwhile.
   */
  async downloadModel(ref: string, localDir: string): Promise<{ version: ModelVersion; files: string[] }> {
    const parsed = parseModelUri(ref);
    const version = await this.resolveModel(parsed);
    const uri = await this.getModelVersionDownloadUri(version.name, version.version);
    const files = await this.downloadArtifactUri(uri, localDir, parsed.uri);
    return { version, files };
  }

  /**
   * Downloads the folder an artifact URI names: `mlflow-artifacts:/…`, the same as an http(s)
   * served-artifacts URL, `runs:/<run_id>/<path>`, or `models:/<name>/<version>` (what the registry
   * returns as a model version's download URI).
   */
  async downloadArtifactUri(uri: string, localDir: string, context = uri): Promise<string[]> {
    for (let hops = 0; hops < 5; hops++) {
      const served = servedPath(uri);
      if (served !== undefined) return this.downloadServed(served, localDir, context);
      const runs = /^runs:\/([^/]+)(?:\/(.*))?$/.exec(uri);
      if (runs) {
        const { root } = await this.runArtifactRoot(runs[1] as string);
        return this.downloadServed(joinPath(root, ...pathSegments(runs[2] ?? "", context)), localDir, context);
      }
      if (uri.startsWith("models:/")) {
        const ref = parseModelUri(uri);
        const version = ref.version ?? (await this.getModelVersionByAlias(ref.name, ref.alias as string)).version;
        uri = await this.getModelVersionDownloadUri(ref.name, version);
        continue;
      }
      break;
    }
    throw new InputError(context, `artifacts at ${uri} are not served by the tracking server, cannot download them`);
  }
}
