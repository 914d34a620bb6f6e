import { expect } from "chai";
import {
  DEFAULT_EXPERIMENT_NAME,
  DEFAULT_REGISTERED_MODEL,
  InputError,
  MlflowClient,
  UsageError,
  checkAlias,
  createLogger,
  experimentName,
  imageDigests,
  imageTags,
  registeredModelName,
  trackingClient,
} from "../src/index.ts";

/** A logger that keeps its lines, to see what a stage would print. */
function memoryLog() {
  const lines: { level: string; msg: string }[] = [];
  return { log: createLogger("test", (l) => lines.push(JSON.parse(l))), lines };
}

describe("MLflow settings of the stages", () => {
  it("uses MLflow only when MLFLOW_TRACKING_URI is set, saying so in one info line otherwise", () => {
    for (const env of [{}, { MLFLOW_TRACKING_URI: "  " }]) {
      const { log, lines } = memoryLog();
      expect(trackingClient(log, env)).to.equal(undefined);
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include({ level: "info", msg: "MLflow off: MLFLOW_TRACKING_URI is not set, nothing is logged or registered" });
    }
    const { log, lines } = memoryLog();
    const client = trackingClient(log, { MLFLOW_TRACKING_URI: "http://mlflow:5000/" });
    expect(client).to.be.instanceOf(MlflowClient);
    expect(client?.trackingUri).to.equal("http://mlflow:5000");
    expect(lines).to.deep.equal([]);
    expect(() => trackingClient(log, { MLFLOW_TRACKING_URI: "mlflow:5000" })).to.throw(InputError, "mlflow:5000:");
  });

  it("names the experiment and the registered model from the option, the environment or the defaults", () => {
    expect(experimentName({})).to.equal(DEFAULT_EXPERIMENT_NAME);
    expect(experimentName({ MLFLOW_EXPERIMENT_NAME: "weekly" })).to.equal("weekly");
    expect(DEFAULT_REGISTERED_MODEL).to.equal("airflow-ml-dags-classifier");
    expect(registeredModelName(undefined, {})).to.equal("airflow-ml-dags-classifier");
    expect(registeredModelName(undefined, { MLFLOW_REGISTERED_MODEL: "clf-env" })).to.equal("clf-env");
    expect(registeredModelName("clf-option", { MLFLOW_REGISTERED_MODEL: "clf-env" })).to.equal("clf-option");
  });

  it("refuses a registered model name a models:/ reference could not name, saying where it came from", () => {
    expect(() => registeredModelName("team/clf", {})).to.throw(UsageError, /^--registered-model: "team\/clf" is not a usable/);
    expect(() => registeredModelName(undefined, { MLFLOW_REGISTERED_MODEL: "a:b" }))
      .to.throw(InputError)
      .with.property("file", "MLFLOW_REGISTERED_MODEL");
  });

  it("accepts aliases the server accepts and refuses others before any change", () => {
    expect(checkAlias("production")).to.equal("production");
    expect(checkAlias("champion_2-b")).to.equal("champion_2-b");
    for (const bad of ["", "prod uction", "a@b", "a/b"]) expect(() => checkAlias(bad), bad).to.throw(UsageError, /^--alias: /);
  });

  it("records only the image facts that are set", () => {
    expect(imageTags({})).to.deep.equal({});
    const env = { AML_IMAGE: "airflow-ml-dags/train:0.1.0", AML_IMAGE_VERSION: "0.1.0", AML_GIT_SHA: "abc1234" };
    expect(imageTags(env)).to.deep.equal({ image: env.AML_IMAGE, image_version: "0.1.0", git_sha: "abc1234" });
  });

  it("reads AML_IMAGE_DIGESTS as a JSON object of strings and refuses anything else in one line", () => {
    expect(imageDigests({})).to.equal(undefined);
    expect(imageDigests({ AML_IMAGE_DIGESTS: '{"train":"sha256:1","validate":"sha256:2"}' })).to.deep.equal({
      train: "sha256:1",
      validate: "sha256:2",
    });
    for (const raw of ["[]", "null", '"x"', '{"train":1}']) {
      expect(() => imageDigests({ AML_IMAGE_DIGESTS: raw }), raw).to.throw(InputError, /^AML_IMAGE_DIGESTS: expected a JSON object of strings/);
    }
    expect(() => imageDigests({ AML_IMAGE_DIGESTS: "{" })).to.throw(InputError, /^AML_IMAGE_DIGESTS: not valid JSON \(/);
  });
});
