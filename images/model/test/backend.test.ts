// Choosing the tfjs backend. The native backend itself runs in the images only (its addon is built there); the
// smoke suite compares the two backends' scores on the built images.
import { expect } from "chai";
import * as tf from "@tensorflow/tfjs-core";
import { UsageError } from "@airflow-ml-dags/common";
import { ADDON_ENV, BACKEND_ENV, backendOption, chooseBackend, chosenBackend, useBackend } from "../src/index.ts";

describe("tfjs backend choice", () => {
  const saved = { backend: process.env[BACKEND_ENV], addon: process.env[ADDON_ENV] };
  afterEach(() => {
    for (const [name, value] of [[BACKEND_ENV, saved.backend], [ADDON_ENV, saved.addon]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    chooseBackend("cpu");
  });

  it("defaults to the stage's measured choice unless TFJS_BACKEND says otherwise", () => {
    delete process.env[BACKEND_ENV];
    expect(backendOption("tensorflow").default).to.equal("tensorflow");
    process.env[BACKEND_ENV] = "cpu";
    expect(backendOption("tensorflow").default).to.equal("cpu");
    expect(backendOption("cpu").help).to.include(BACKEND_ENV);
  });

  it("refuses a backend it does not have, naming the choices", () => {
    expect(() => chooseBackend("webgl")).to.throw(UsageError, '--backend: expected one of tensorflow, cpu, got "webgl"');
    expect(chosenBackend()).to.equal("cpu");
  });

  it("computes on the cpu backend when chosen, without tfjs's notice about a faster one", async () => {
    const warnings: unknown[][] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => void warnings.push(a);
    try {
      chooseBackend("cpu");
      expect(await useBackend()).to.equal("cpu");
      expect(tf.getBackend()).to.equal("cpu");
      tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync());
    } finally {
      console.warn = warn;
    }
    expect(warnings.filter((w) => String(w[0]).includes("node backend"))).to.deep.equal([]);
  });

  it("says so in one line where the native addon is not in the image", async () => {
    delete process.env[ADDON_ENV];
    chooseBackend("tensorflow");
    let error: unknown;
    await useBackend().catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(UsageError);
    expect((error as Error).message).to.equal(
      `--backend tensorflow: this image has no native TensorFlow (${ADDON_ENV} is not set): use --backend cpu`,
    );
  });
});
