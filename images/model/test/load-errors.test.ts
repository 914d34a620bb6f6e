import { cp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { InputError } from "@airflow-ml-dags/common";
import { loadModel, saveModel, trainModel, type Family } from "../src/index.ts";
import { expectInputError, quick, tempDir } from "./helpers.ts";
import { memoryLogger, synthetic } from "./synthetic.ts";

describe("loadModel refuses a broken model folder with one clear line", () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let n = 0;

  before(async () => {
    ({ dir: root, cleanup } = await tempDir());
    const train = synthetic({ rows: 300, seed: "errors" });
    for (const family of ["mlp", "logreg", "tree"] as const) {
      const trained = await trainModel(train, quick(family, { epochs: 2 }), memoryLogger());
      await saveModel(join(root, family), trained, { ds: "2026-01-05", dataSha256: "a" });
      trained.dispose();
    }
  });
  after(() => cleanup());

  /** A fresh copy of a good model folder to break. */
  async function copy(family: Family): Promise<string> {
    const dir = join(root, `case-${n++}`);
    await cp(join(root, family), dir, { recursive: true });
    return dir;
  }
  const editJson = async (path: string, edit: (j: Record<string, unknown>) => unknown) =>
    writeFile(path, JSON.stringify(edit(JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>) ?? {}));

  it("loads the untouched folders (the cases below break one thing each)", async () => {
    for (const family of ["mlp", "logreg", "tree"] as const) (await loadModel(join(root, family))).dispose();
  });

  it("missing model folder, or a file in its place", async () => {
    await expectInputError(loadModel(join(root, "nope")), join(root, "nope"), /^model folder not found$/);
    const dir = await copy("mlp");
    await expectInputError(loadModel(join(dir, "manifest.json")), join(dir, "manifest.json"), /model folder not found/);
  });

  it("missing or corrupt manifest.json", async () => {
    const dir = await copy("mlp");
    const manifest = join(dir, "manifest.json");
    await writeFile(manifest, "{ not json");
    await expectInputError(loadModel(dir), manifest, /^not valid JSON/);
    await rm(manifest);
    await expectInputError(loadModel(dir), manifest, /^file not found$/);
  });

  it("manifest naming an unknown family", async () => {
    const dir = await copy("mlp");
    await editJson(join(dir, "manifest.json"), (m) => ({ ...m, family: "forest" }));
    await expectInputError(loadModel(dir), join(dir, "manifest.json"), /unknown model family "forest"/);
  });

  it("manifest with a run id that is not one", async () => {
    const dir = await copy("tree");
    await editJson(join(dir, "manifest.json"), (m) => ({ ...m, runId: 42 }));
    await expectInputError(loadModel(dir), join(dir, "manifest.json"), /"runId" must be an MLflow run id/);
  });

  it("manifest naming another family than the files hold", async () => {
    const tree = await copy("mlp");
    await editJson(join(tree, "manifest.json"), (m) => ({ ...m, family: "tree" }));
    await expectInputError(loadModel(tree), join(tree, "tree.json"), /file not found \(manifest\.json names family "tree"\)/);

    const mlp = await copy("tree");
    await editJson(join(mlp, "manifest.json"), (m) => ({ ...m, family: "mlp" }));
    await expectInputError(loadModel(mlp), join(mlp, "model.json"), /file not found \(manifest\.json names family "mlp"\)/);

    const logreg = await copy("mlp");
    await editJson(join(logreg, "manifest.json"), (m) => ({ ...m, family: "logreg" }));
    await expectInputError(loadModel(logreg), join(logreg, "model.json"), /names family "logreg", but the network has 2 layer/);
  });

  it("missing, corrupt or truncated tfjs files", async () => {
    const dir = await copy("mlp");
    const model = join(dir, "model.json");
    const weights = join(dir, "weights.bin");
    const good = await readFile(model, "utf8");

    await writeFile(weights, (await readFile(weights)).subarray(0, 100));
    await expectInputError(loadModel(dir), weights, /^has 100 bytes, model\.json describes \d+$/);
    await rm(weights);
    await expectInputError(loadModel(dir), weights, /^file not found/);
    await cp(join(root, "mlp", "weights.bin"), weights);

    await writeFile(model, good.slice(0, 50));
    await expectInputError(loadModel(dir), model, /^not valid JSON/);
    await writeFile(model, JSON.stringify({ hello: "world" }));
    await expectInputError(loadModel(dir), model, /not a tfjs layers model/);
    await writeFile(model, good.replace(/"class_name":"Dense"/g, '"class_name":"Bogus"'));
    await expectInputError(loadModel(dir), model, /^cannot load the model/);
    await rm(model);
    await expectInputError(loadModel(dir), model, /^file not found/);
  });

  it("missing or corrupt tree.json", async () => {
    const dir = await copy("tree");
    const tree = join(dir, "tree.json");
    const good = JSON.parse(await readFile(tree, "utf8")) as { root: Record<string, unknown> };

    await writeFile(tree, "[1, 2");
    await expectInputError(loadModel(dir), tree, /^not valid JSON/);
    await writeFile(tree, JSON.stringify({ ...good, name: "DTRegression" }));
    await expectInputError(loadModel(dir), tree, /not an ml-cart decision tree classifier/);
    await writeFile(tree, JSON.stringify({ ...good, root: { ...good.root, left: undefined } }));
    await expectInputError(loadModel(dir), tree, /^root\.left: expected a tree node$/);
    await writeFile(tree, JSON.stringify({ ...good, root: { ...good.root, splitColumn: "f00" } }));
    await expectInputError(loadModel(dir), tree, /^root: bad "splitColumn"$/);
    await rm(tree);
    await expectInputError(loadModel(dir), tree, /^file not found/);
  });

  it("missing or corrupt preprocess.json", async () => {
    const dir = await copy("logreg");
    const pre = join(dir, "preprocess.json");
    await editJson(pre, (p) => ({ ...p, std: [1] }));
    await expectInputError(loadModel(dir), pre, /"std" must hold 4 finite numbers/);
    await rm(pre);
    await expectInputError(loadModel(dir), pre, /^file not found$/);
  });

  it("preprocess.json columns that differ from the manifest's", async () => {
    const dir = await copy("mlp");
    const pre = join(dir, "preprocess.json");
    await editJson(pre, (p) => ({ ...p, columns: ["f00", "f01", "f02", "x"] }));
    await expectInputError(loadModel(dir), pre, /columns f00,f01,f02,x differ from manifest\.json's f00,f01,f02,f03/);
  });

  for (const family of ["mlp", "logreg", "tree"] as const) {
    it(`${family}: preprocess.json columns that do not match the model's input size`, async () => {
      const dir = await copy(family);
      const one = (a: unknown) => (a as unknown[]).slice(0, 1);
      await editJson(join(dir, "preprocess.json"), (p) => ({ columns: one(p.columns), median: one(p.median), mean: one(p.mean), std: one(p.std) }));
      await editJson(join(dir, "manifest.json"), (m) => ({ ...m, columns: one(m.columns) }));
      const problem = family === "tree" ? /^has 1 columns, but the tree splits on input [2-4]$/ : /^has 1 columns, but the model takes 4 inputs$/;
      await expectInputError(loadModel(dir), join(dir, "preprocess.json"), problem);
    });
  }

  it("data whose columns are not the model's", async () => {
    const loaded = await loadModel(join(root, "tree"));
    const other = synthetic({ rows: 5, seed: "other", columns: ["f00", "f01", "f02", "g03"] });
    expect(() => loaded.predictProba({ ...other, path: "data.csv" })).to.throw(InputError, /^data\.csv: missing columns f03; unexpected columns g03$/);
  });
});
