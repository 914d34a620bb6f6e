import { expect } from "chai";
import { alarmText, escapeHtml, indexPage } from "../src/html.ts";
import { findAlarms, verdictOf, type Quality, type Report } from "../src/report.ts";

const quality = (roc_auc: number | null): Quality => ({
  roc_auc,
  log_loss: 0.5,
  accuracy: 0.8,
  precision: 0.8,
  recall: 0.8,
  positive_rate_predicted: 0.5,
  positive_rate_actual: 0.5,
});
const drift = (psi: Record<string, number | null>, scores = 0.01): Report["drift"] => ({
  features: Object.fromEntries(Object.entries(psi).map(([f, v]) => [f, { psi: v, ks: 0, missing_rate: 0, train_missing_rate: 0 }])),
  scores: { psi: scores, ks: 0 },
});
const thresholds = { psi_threshold: 0.2, auc_drop: 0.05, min_roc_auc: 0.85 };

describe("alarms and verdict", () => {
  it("is ok without an alarm; a PSI exactly at the threshold or an AUC exactly at the minimum is none", () => {
    const alarms = findAlarms(quality(0.85), drift({ f00: 0.2, f01: null }), thresholds);
    expect(alarms).to.deep.equal([]);
    expect(verdictOf(alarms)).to.equal("ok");
  });

  it("says drift for PSI alarms only, quality drop as soon as the AUC falls", () => {
    const psiOnly = findAlarms(quality(0.9), drift({ f00: 0.3, f01: 0.1 }, 0.25), thresholds);
    expect(psiOnly).to.deep.equal([
      { metric: "psi", value: 0.3, threshold: 0.2, subject: "f00" },
      { metric: "psi", value: 0.25, threshold: 0.2, subject: "scores" },
    ]);
    expect(verdictOf(psiOnly)).to.equal("drift");
    const both = findAlarms(quality(0.8), drift({ f00: 0.3 }), thresholds);
    expect(both.map((a) => a.subject)).to.deep.equal(["f00", "quality"]);
    expect(verdictOf(both)).to.equal("quality drop");
  });

  it("raises no quality alarm when the day's ROC AUC is undefined (a single class)", () => {
    expect(findAlarms(quality(null), drift({}), thresholds)).to.deep.equal([]);
  });
});

describe("the pages' text", () => {
  it("escapes what it did not write itself", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).to.equal("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("says each alarm in words", () => {
    expect(alarmText({ metric: "psi", value: 0.31234, threshold: 0.2, subject: "f03" }, 0.9)).to.equal("PSI of feature f03 is 0.312, above 0.2");
    expect(alarmText({ metric: "roc_auc", value: 0.8, threshold: 0.85, subject: "quality" }, 0.9)).to.equal(
      "ROC AUC 0.800 is below 0.850 (validation 0.900 minus the allowed drop)",
    );
  });

  it("lists the days newest first, each linking its page", () => {
    const day = (ds: string) => ({
      ds,
      verdict: "ok" as const,
      roc_auc: 0.9,
      validation_roc_auc: 0.91,
      model_version: "<3>",
      max_psi: { feature: "f00", value: 0.01 },
    });
    const html = indexPage([day("2026-03-02"), day("2026-03-10"), day("2026-03-05")]);
    expect([...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1])).to.deep.equal([
      "2026-03-10/report.html",
      "2026-03-05/report.html",
      "2026-03-02/report.html",
    ]);
    expect(html).to.include("&lt;3&gt;").and.not.include("<3>");
  });
});
