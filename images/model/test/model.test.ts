import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { InputError, profileFrame, UsageError } from "@airflow-ml-dags/common";
import {
  FAMILIES,
  fitPreprocess,
  loadModel,
  MODEL_FILES,
  PROFILE_JSON,
  saveModel,
  trainingSet,
  trainModel,
  type Manifest,
} from "../src/index.ts";
import { quick, readAll, tempDir } from "./helpers.ts";
import { accuracy, memoryLogger, synthetic } from "./synthetic.ts";

const train = synthetic({ rows: 600, seed: "train", missing: 0.05 });
const test = synthetic({ rows: 400, seed: "test", missing: 0.05 });

describe("trainModel", () => {
  for (const family of FAMILIES) {
    it(`${family} learns a separable set (held-out accuracy well above chance)`, async () => {
      const log = memoryLogger();
      const epochs: number[] = [];
      const trained = await trainModel(train, quick(family), log, (e) => epochs.push(e));
      try {
        const p = trained.predictProba(test);
        expect(p).to.have.length(test.ids.length);
        expect(p.every((v) => v >= 0 && v <= 1)).to.equal(true);
        expect(accuracy(p, test.target)).to.be.greaterThan(0.85);
        if (family === "tree") {
          expect(trained.history).to.have.length(1);
        } else {
          expect(trained.history).to.have.length(8);
          expect(epochs).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
          expect(trained.history[7]).to.be.lessThan(trained.history[0]!);
          const logged = log.lines.filter((l) => l.msg === "epoch");
          expect(logged.map((l) => l.loss)).to.deep.equal(trained.history);
        }
      } finally {
        trained.dispose();
      }
    });
  }

  it("scores a tree by the class-1 share of the leaf, not a hard 0/1", async () => {
    const noisy = synthetic({ rows: 400, seed: "noisy", noise: 2 });
    const trained = await trainModel(noisy, quick("tree", { max_depth: 3, min_samples: 20 }), memoryLogger());
    const p = trained.predictProba(noisy);
    const fractional = p.filter((v) => v > 0 && v < 1);
    expect(fractional.length).to.be.greaterThan(noisy.ids.length / 2);
    // Depth 3 has at most 8 leaves, so at most 8 distinct probabilities.
    expect(new Set(p).size).to.be.within(2, 8);
  });

  it("keeps the training rows' preprocessing with the model", async () => {
    const trained = await trainModel(train, quick("logreg"), memoryLogger());
    trained.dispose();
    expect(trained.preprocess).to.deep.equal(fitPreprocess(train));
  });

  it("refuses one-class data, a frame without target and bad hyperparameters", async () => {
    const oneClass = { ...train, target: new Uint8Array(train.ids.length) };
    await trainModel(oneClass, quick("mlp"), memoryLogger()).then(
      () => expect.fail("trained on one class"),
      (e) => expect(e).to.be.instanceOf(InputError).and.to.have.property("message").match(/only class 0/),
    );
    const { target: _, ...noTarget } = train;
    await trainModel(noTarget, quick("mlp"), memoryLogger()).then(
      () => expect.fail("trained without target"),
      (e) => expect(e).to.be.instanceOf(InputError),
    );
    for (const over of [{ learning_rate: 0 }, { epochs: 1.5 }, { hidden: 0 }, { family: "forest" as never }]) {
      await trainModel(train, quick("mlp", over), memoryLogger()).then(
        () => expect.fail(`accepted ${JSON.stringify(over)}`),
        (e) => expect(e).to.be.instanceOf(UsageError),
      );
    }
  });
});

describe("saveModel / loadModel", () => {
  for (const family of FAMILIES) {
    it(`${family}: the loaded model gives identical probabilities`, async () => {
      const { dir, cleanup } = await tempDir();
      const modelDir = join(dir, "models", "2026-01-05");
      const trained = await trainModel(train, quick(family), memoryLogger());
      try {
        const { files, manifest } = await saveModel(modelDir, trained, { ds: "2026-01-05", dataSha256: "abc" });
        expect(Object.keys(await readAll(modelDir))).to.deep.equal([...files].sort());
        expect(files).to.include.members([...MODEL_FILES[family], "preprocess.json", "manifest.json"]);
        const loaded = await loadModel(modelDir);
        try {
          expect(loaded.family).to.equal(family);
          expect(loaded.columns).to.deep.equal(train.columns);
          expect(loaded.manifest).to.deep.equal(JSON.parse(JSON.stringify(manifest)));
          const before = trained.predictProba(test);
          const after = loaded.predictProba(test);
          expect(Array.from(after)).to.deep.equal(Array.from(before));
        } finally {
          loaded.dispose();
        }
      } finally {
        trained.dispose();
        await cleanup();
      }
    });
  }

  it("writes a manifest that ties the model to its data, run and image", async () => {
    const { dir, cleanup } = await tempDir();
    const saved = { ...process.env };
    Object.assign(process.env, { AML_IMAGE: "airflow-ml-dags/train:9.9.9", AML_IMAGE_VERSION: "9.9.9", AML_GIT_SHA: "abc1234" });
    try {
      const trained = await trainModel(train, quick("mlp"), memoryLogger());
      await saveModel(join(dir, "m"), trained, { ds: "2026-01-05", dataSha256: "f".repeat(64) });
      trained.dispose();
      const manifest = JSON.parse((await readAll(join(dir, "m")))["manifest.json"]!.toString()) as Manifest;
      expect(manifest).to.include({ ds: "2026-01-05", family: "mlp", rows: 600, dataSha256: "f".repeat(64) });
      expect(manifest).to.include({ image: "airflow-ml-dags/train:9.9.9", imageVersion: "9.9.9", gitSha: "abc1234" });
      expect(manifest.columns).to.deep.equal(train.columns);
      expect(manifest.positiveRate).to.equal(train.target.reduce((a, b) => a + b, 0) / 600);
      expect(manifest.hyperparams).to.deep.equal(quick("mlp"));
      expect(manifest.history.losses).to.deep.equal(trained.history);
      expect(manifest.history.finalLoss).to.equal(trained.history[7]);
    } finally {
      process.env = saved;
      await cleanup();
    }
  });

  it("replaces an older model folder as a whole", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const modelDir = join(dir, "m");
      const mlp = await trainModel(train, quick("mlp"), memoryLogger());
      await saveModel(modelDir, mlp, { ds: "2026-01-05", dataSha256: "a" });
      mlp.dispose();
      const tree = await trainModel(train, quick("tree"), memoryLogger());
      await saveModel(modelDir, tree, { ds: "2026-01-05", dataSha256: "a" });
      expect(Object.keys(await readAll(modelDir))).to.deep.equal(["manifest.json", "preprocess.json", "tree.json"]);
      expect(await readdir(dir)).to.deep.equal(["m"]);
    } finally {
      await cleanup();
    }
  });

  it("records the MLflow run and shows beforeCommit the complete folder; a failing hook keeps the old model", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const modelDir = join(dir, "m");
      const tree = await trainModel(train, quick("tree"), memoryLogger());
      await saveModel(modelDir, tree, { ds: "2026-01-05", dataSha256: "a" });
      const before = await readAll(modelDir);
      expect(JSON.parse(before["manifest.json"]!.toString())).to.not.have.any.keys("runId", "experimentId");

      const mlp = await trainModel(train, quick("mlp"), memoryLogger());
      const run = { runId: "0123abcd", experimentId: "7" };
      let seen: Record<string, Buffer> = {};
      const hookFailure = new Error("upload refused");
      let caught: unknown;
      try {
        await saveModel(modelDir, mlp, { ds: "2026-01-12", dataSha256: "b", run }, {
          beforeCommit: async (tmp) => {
            seen = await readAll(tmp);
            throw hookFailure;
          },
        });
      } catch (err) {
        caught = err;
      }
      expect(caught).to.equal(hookFailure);
      expect(Object.keys(seen)).to.deep.equal(["manifest.json", "model.json", "preprocess.json", "weights.bin"]);
      expect(JSON.parse(seen["manifest.json"]!.toString())).to.include({ ds: "2026-01-12", ...run });
      expect(await readAll(modelDir)).to.deep.equal(before);
      expect(await readdir(dir)).to.deep.equal(["m"]);

      await saveModel(modelDir, mlp, { ds: "2026-01-12", dataSha256: "b", run }, { beforeCommit: async () => {} });
      mlp.dispose();
      const loaded = await loadModel(modelDir);
      expect(loaded.manifest).to.include(run);
      loaded.dispose();
    } finally {
      await cleanup();
    }
  });

  it("writes MLflow's MLmodel for a folder logged to a run: signature from the model's columns, listed, still loadable", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const modelDir = join(dir, "m");
      const tree = await trainModel(train, quick("tree"), memoryLogger());
      await saveModel(modelDir, tree, { ds: "2026-01-05", dataSha256: "a", run: { runId: "0123abcd", experimentId: "7" } }, { mlmodel: true });
      tree.dispose();
      const files = await readAll(modelDir);
      const manifest = JSON.parse(files["manifest.json"]!.toString());
      expect(manifest.files).to.include("MLmodel");
      const text = files.MLmodel!.toString();
      expect(text).to.match(/^run_id: '?0123abcd'?$/m);
      const inputs = /^ {2}inputs: '(.*)'$/m.exec(text)?.[1];
      expect(JSON.parse(inputs!).map((c: { name: string }) => c.name)).to.deep.equal(train.columns);
      expect(text).to.contain(`outputs: '[{"type": "double", "name": "probability", "required": true}]'`);
      const loaded = await loadModel(modelDir);
      expect(loaded.family).to.equal("tree");
      loaded.dispose();
    } finally {
      await cleanup();
    }
  });

  it("writes the training profile as profile.json, listed in the manifest (not as a loader file of MLmodel), still loadable", async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const modelDir = join(dir, "m");
      const profile = profileFrame(train);
      const mlp = await trainModel(train, quick("mlp"), memoryLogger());
      const { files } = await saveModel(
        modelDir,
        mlp,
        { ds: "2026-01-05", dataSha256: "a", profile, run: { runId: "0123abcd", experimentId: "7" } },
        { mlmodel: true },
      );
      mlp.dispose();
      expect(PROFILE_JSON).to.equal("profile.json");
      expect(files).to.deep.equal(["model.json", "weights.bin", "preprocess.json", "profile.json", "manifest.json", "MLmodel"]);
      const saved = await readAll(modelDir);
      expect(Object.keys(saved)).to.deep.equal([...files].sort());
      expect(JSON.parse(saved["manifest.json"]!.toString()).files).to.deep.equal(files);
      expect(JSON.parse(saved["profile.json"]!.toString())).to.deep.equal(profile);
      expect(profile.rows).to.equal(600);
      expect(Object.keys(profile.features)).to.deep.equal(train.columns);
      // The flavor lists what loadModel reads: the profile travels with the model but is no part of it.
      const flavorFiles = /^ {4}files:\n((?: {4}- .*\n)+)/m.exec(saved.MLmodel!.toString())?.[1];
      expect(flavorFiles?.trim().split("\n").map((l) => l.trim())).to.deep.equal(["- model.json", "- weights.bin", "- preprocess.json"]);
      const loaded = await loadModel(modelDir);
      expect(loaded.manifest.files).to.include("profile.json");
      expect(Array.from(loaded.predictProba(test))).to.have.length(test.ids.length);
      loaded.dispose();
    } finally {
      await cleanup();
    }
  });
});

describe("determinism", () => {
  const saveTwice = async (a: ReturnType<typeof quick>, b: ReturnType<typeof quick>) => {
    const { dir, cleanup } = await tempDir();
    try {
      const out = [];
      for (const [i, hp] of [a, b].entries()) {
        const trained = await trainModel(train, hp, memoryLogger());
        await saveModel(join(dir, `m${i}`), trained, { ds: "2026-01-05", dataSha256: "a", profile: profileFrame(train) });
        trained.dispose();
        out.push(await readAll(join(dir, `m${i}`)));
      }
      return out as [Record<string, Buffer>, Record<string, Buffer>];
    } finally {
      await cleanup();
    }
  };

  for (const family of FAMILIES) {
    it(`${family}: one seed gives byte-identical files`, async () => {
      const [a, b] = await saveTwice(quick(family), quick(family));
      expect(Object.keys(a)).to.include("profile.json");
      expect(Object.keys(a)).to.deep.equal(Object.keys(b));
      for (const name of Object.keys(a)) expect(a[name]!.equals(b[name]!), name).to.equal(true);
    });
  }

  for (const family of FAMILIES) {
    it(`${family}: a training set made over the frame's own values gives the frame's files`, async () => {
      const { dir, cleanup } = await tempDir();
      try {
        const copy = { ...train, values: train.values.slice() };
        const set = trainingSet(copy, { overwrite: true });
        expect(set.x.buffer).to.equal(copy.values.buffer);
        const out = [];
        for (const [i, data] of [train, set].entries()) {
          const trained = await trainModel(data, quick(family), memoryLogger());
          await saveModel(join(dir, `m${i}`), trained, { ds: "2026-01-05", dataSha256: "a" });
          trained.dispose();
          out.push(await readAll(join(dir, `m${i}`)));
        }
        const [a, b] = out as [Record<string, Buffer>, Record<string, Buffer>];
        expect(Object.keys(a)).to.deep.equal(Object.keys(b));
        for (const name of Object.keys(a)) expect(a[name]!.equals(b[name]!), name).to.equal(true);
      } finally {
        await cleanup();
      }
    });
  }

  for (const family of ["mlp", "logreg"] as const) {
    it(`${family}: another seed gives other weights`, async () => {
      const [a, b] = await saveTwice(quick(family, { seed: 1 }), quick(family, { seed: 2 }));
      expect(a["weights.bin"]!.equals(b["weights.bin"]!)).to.equal(false);
    });
  }
});
