import { expect } from "chai";
import type { Manifest } from "@airflow-ml-dags/model";
import { gateDecision, GATE_METRICS, gateValue, lowerIsBetter } from "../src/gate.ts";
import { computeMetrics } from "@airflow-ml-dags/model/metrics";
import { decidedApproval, valMetrics, versionTags } from "../src/registry.ts";

describe("quality gate rule", () => {
  it("promotes a higher score by at least the margin, an equal one only with margin 0", () => {
    expect(gateDecision("roc_auc", 0, 0.9, 0.8, "1")).to.deep.equal({
      promote: true,
      reason: "roc_auc 0.9 >= 0.8 (production version 1) + margin 0",
    });
    expect(gateDecision("roc_auc", 0, 0.8, 0.8, "1").promote).to.equal(true);
    expect(gateDecision("roc_auc", 0.01, 0.805, 0.8, "1")).to.deep.equal({
      promote: false,
      reason: "roc_auc 0.805 < 0.8 (production version 1) + margin 0.01",
    });
    expect(gateDecision("accuracy", 0.01, 0.82, 0.8, "4").promote).to.equal(true);
  });

  it("rejects a worse candidate with a reason naming the metric, both values and the production version", () => {
    const outcome = gateDecision("roc_auc", 0, 0.51234567, 0.93, "3");
    expect(outcome).to.deep.equal({ promote: false, reason: "roc_auc 0.512346 < 0.93 (production version 3) + margin 0" });
  });

  it("treats log loss as lower-is-better, the margin counting downwards", () => {
    expect(lowerIsBetter("log_loss")).to.equal(true);
    expect(GATE_METRICS.filter(lowerIsBetter)).to.deep.equal(["log_loss"]);
    expect(gateDecision("log_loss", 0, 0.3, 0.4, "2")).to.deep.equal({
      promote: true,
      reason: "log_loss 0.3 <= 0.4 (production version 2) - margin 0",
    });
    expect(gateDecision("log_loss", 0.05, 0.38, 0.4, "2")).to.deep.equal({
      promote: false,
      reason: "log_loss 0.38 > 0.4 (production version 2) - margin 0.05",
    });
    expect(gateDecision("log_loss", 0, 0.5, 0.4, "2").promote).to.equal(false);
  });

  it("rejects when the metric is undefined on the validation rows", () => {
    const outcome = gateDecision("roc_auc", 0, null, null, "1");
    expect(outcome.promote).to.equal(false);
    expect(outcome.reason).to.match(/^roc_auc is undefined on the validation rows/);
  });

  it("reads the gate metric from the computed metrics", () => {
    const m = computeMetrics(Uint8Array.from([0, 0, 1, 1]), Float64Array.from([0.1, 0.6, 0.4, 0.9]));
    expect(gateValue(m, "roc_auc")).to.equal(0.75);
    expect(gateValue(m, "accuracy")).to.equal(0.5);
    expect(gateValue(m, "log_loss")).to.equal(m.log_loss);
  });
});

describe("what validate records in MLflow", () => {
  it("logs every metric as val_*, leaving out an undefined ROC AUC", () => {
    const m = computeMetrics(Uint8Array.from([0, 0, 1, 1]), Float64Array.from([0.1, 0.6, 0.4, 0.9]));
    const logged = Object.fromEntries(valMetrics(m).map((x) => [x.key, x.value]));
    expect(logged).to.deep.equal({
      val_rows: 4,
      val_positive_rate: 0.5,
      val_accuracy: 0.5,
      val_precision: 0.5,
      val_recall: 0.5,
      val_f1: 0.5,
      val_roc_auc: 0.75,
      val_log_loss: m.log_loss,
      val_tn: 1,
      val_fp: 1,
      val_fn: 1,
      val_tp: 1,
    });
    const oneClass = computeMetrics(Uint8Array.from([1, 1]), Float64Array.from([0.2, 0.9]));
    expect(valMetrics(oneClass).map((x) => x.key)).to.not.include("val_roc_auc");
  });

  const manifest = {
    ds: "2026-11-20",
    family: "mlp",
    dataSha256: "ab".repeat(32),
    gitSha: "abc1234",
    image: "airflow-ml-dags/train:0.1.0",
    imageVersion: "0.1.0",
  } as Manifest;

  it("tags a version with the data date, data hash, git sha, images and their digests", () => {
    const digests = { train: "sha256:1111", validate: "sha256:2222" };
    expect(versionTags(manifest, "2026-11-20", { AML_IMAGE_DIGESTS: JSON.stringify(digests) })).to.deep.equal({
      ds: "2026-11-20",
      data_sha256: "ab".repeat(32),
      family: "mlp",
      val_ds: "2026-11-20",
      git_sha: "abc1234",
      image: "airflow-ml-dags/train:0.1.0",
      image_version: "0.1.0",
      image_digests: JSON.stringify(digests),
    });
    // A model whose manifest has no git sha takes validate's own; no digests variable, no digests tag.
    const bare = { ds: "2026-11-20", family: "tree", dataSha256: "cd" } as Manifest;
    expect(versionTags(bare, "2026-11-21", { AML_GIT_SHA: "def5678" })).to.deep.equal({
      ds: "2026-11-20",
      data_sha256: "cd",
      family: "tree",
      val_ds: "2026-11-21",
      git_sha: "def5678",
    });
  });

  it("refuses an AML_IMAGE_DIGESTS that is not a JSON object of strings", () => {
    expect(() => versionTags(manifest, "2026-11-20", { AML_IMAGE_DIGESTS: "[1,2]" })).to.throw(
      "AML_IMAGE_DIGESTS: expected a JSON object of strings",
    );
    expect(() => versionTags(manifest, "2026-11-20", { AML_IMAGE_DIGESTS: '{"train":3}' })).to.throw(
      "AML_IMAGE_DIGESTS: expected a JSON object of strings",
    );
    expect(() => versionTags(manifest, "2026-11-20", { AML_IMAGE_DIGESTS: "{oops" })).to.throw(/^AML_IMAGE_DIGESTS: not valid JSON/);
  });
});

describe("a decision recorded on a version's tags", () => {
  it("reads back who decided, the comment and the time; a pending or untagged version has none", () => {
    const at = "2026-03-09T10:00:00.000Z";
    expect(decidedApproval({ approval: "approved", approved_by: "ann", approval_comment: "better recall", approval_at: at })).to.deep.equal({
      status: "approved",
      by: "ann",
      comment: "better recall",
      at,
    });
    expect(decidedApproval({ approval: "timed_out", rejected_by: "timeout", approval_at: at })).to.deep.equal({
      status: "timed_out",
      by: "timeout",
      comment: "",
      at,
    });
    // A rejection's reviewer is rejected_by, never approved_by (a version approved earlier then rejected is not one).
    expect(decidedApproval({ approval: "rejected", approved_by: "bob", rejected_by: "ann" })?.by).to.equal("ann");
    expect(decidedApproval({ approval: "pending" })).to.equal(undefined);
    expect(decidedApproval({ gate_decision: "promoted" })).to.equal(undefined);
  });
});
