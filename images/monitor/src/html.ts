/**
 * monitoring/{ds}/report.html and monitoring/index.html: self-contained pages (inline CSS and SVG, no script,
 * nothing fetched), readable from the data folder as files or from MLflow as an artifact.
 */
import { COLORS, aucSpec, psiSpec, renderSvg, scoresSpec } from "./charts.ts";
import type { Alarm, DaySummary, Quality, Report, ScoreBins, Verdict } from "./report.ts";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

const num = (v: number | null, digits = 3) => (v === null ? "–" : v.toFixed(digits));
const pct = (v: number | null) => (v === null ? "–" : `${(100 * v).toFixed(1)}%`);
const signed = (v: number | null, digits = 3) => (v === null ? "–" : `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(digits)}`);

const STYLE = `
body { font: 15px/1.45 Helvetica, Arial, sans-serif; color: #1f2328; margin: 0; background: #f6f8fa; }
main { max-width: 760px; margin: 0 auto; padding: 24px 28px 40px; background: #fff; min-height: 100vh; }
h1 { font-size: 22px; margin: 0 0 14px; }
h2 { font-size: 17px; margin: 30px 0 8px; border-bottom: 1px solid #d8dee4; padding-bottom: 4px; }
.verdict { color: #fff; border-radius: 8px; padding: 14px 18px; margin-bottom: 12px; }
.verdict strong { font-size: 26px; letter-spacing: 0.04em; margin-right: 12px; }
.verdict ul { margin: 8px 0 0; padding-left: 20px; }
.badge { color: #fff; border-radius: 4px; padding: 1px 8px; font-size: 13px; white-space: nowrap; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 10px; border-bottom: 1px solid #eaeef2; }
th:first-child, td:first-child { text-align: left; }
table.days td:nth-child(2), table.days th:nth-child(2) { text-align: left; }
th { font-weight: 600; background: #f6f8fa; }
tr.alarm td { background: #fff4e5; font-weight: 600; }
.meta { color: #57606a; margin: 4px 0; }
.meta.flagged { color: ${COLORS.drift}; font-weight: 600; }
.chart { margin: 8px 0; overflow-x: auto; }
a { color: #0969da; }
`;

const page = (title: string, body: string) =>
  `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
  `<title>${escapeHtml(title)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n<main>\n${body}\n</main>\n</body>\n</html>\n`;

const VERDICT_TEXT: Record<Verdict, string> = { ok: "OK", drift: "DRIFT", "quality drop": "QUALITY DROP" };
export const verdictBadge = (v: Verdict) => `<span class="badge" style="background:${COLORS[v]}">${VERDICT_TEXT[v]}</span>`;

/** One alarm in words: what crossed which line. */
export function alarmText(a: Alarm, validationAuc: number | null): string {
  if (a.metric === "roc_auc") {
    return `ROC AUC ${num(a.value)} is below ${num(a.threshold)} (validation ${num(validationAuc)} minus the allowed drop)`;
  }
  const what = a.subject === "scores" ? "the predicted probabilities (prediction drift)" : `feature ${a.subject}`;
  return `PSI of ${what} is ${num(a.value)}, above ${a.threshold}`;
}

const QUALITY_ROWS: [keyof Quality, string, "num" | "pct"][] = [
  ["roc_auc", "ROC AUC", "num"],
  ["log_loss", "log loss", "num"],
  ["accuracy", "accuracy", "num"],
  ["precision", "precision", "num"],
  ["recall", "recall", "num"],
  ["positive_rate_predicted", "positive rate, predicted", "pct"],
  ["positive_rate_actual", "positive rate, actual", "pct"],
];

/** A table of cells already made HTML; rows flagged true are highlighted as alarms. */
function table(head: string[], rows: { cells: string[]; alarm?: boolean }[], className?: string): string {
  const th = `<tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr>`;
  const trs = rows.map((r) => `<tr${r.alarm ? ' class="alarm"' : ""}>${r.cells.map((c) => `<td>${c}</td>`).join("")}</tr>`);
  return `<table${className ? ` class="${className}"` : ""}>\n${th}\n${trs.join("\n")}\n</table>`;
}

function qualityTable(r: Report): string {
  const aucAlarm = r.alarms.some((a) => a.subject === "quality");
  const rows = QUALITY_ROWS.map(([key, label, kind]) => {
    const day = r.quality[key];
    const val = r.validation[key];
    const diff = day === null || val === null ? null : day - val;
    const cells =
      kind === "pct"
        ? [label, pct(day), pct(val), diff === null ? "–" : `${signed(100 * diff, 1)} pt`]
        : [label, num(day), num(val), signed(diff)];
    return { cells, alarm: key === "roc_auc" && aucAlarm };
  });
  return table(["metric", "this day", "validation", "difference"], rows);
}

function driftTable(r: Report): string {
  const rows = Object.entries(r.drift.features).map(([name, f]) => ({
    cells: [escapeHtml(name), num(f.psi), num(f.ks), pct(f.missing_rate), pct(f.train_missing_rate)],
    alarm: f.psi !== null && f.psi > r.thresholds.psi_threshold,
  }));
  return table(["feature", "PSI", "KS", "missing, this day", "missing, training"], rows);
}

/** The verdict in its colour, with the alarms in words. */
function verdictBox(r: Report): string {
  const n = r.alarms.length;
  const alarms = n
    ? `${n} ${n === 1 ? "alarm" : "alarms"}<ul>${r.alarms.map((a) => `<li>${escapeHtml(alarmText(a, r.validation.roc_auc))}</li>`).join("")}</ul>`
    : "<div>No alarm: the data, the scores and the quality are where the model was validated.</div>";
  return `<div class="verdict" style="background:${COLORS[r.verdict]}"><strong>${VERDICT_TEXT[r.verdict]}</strong>${alarms}</div>`;
}

/** Which model scored the day. */
function modelLine(r: Report): string {
  const m = r.model;
  const version = m.version === null ? "a model folder" : `version ${escapeHtml(m.version)}`;
  const run = m.run_id ? `, training run <code>${escapeHtml(m.run_id)}</code>` : "";
  const rows = r.rows.toLocaleString("en-US");
  const ref = `<code>${escapeHtml(m.ref)}</code>`;
  return `<p class="meta">Scored by ${version} (${ref}), trained on ${escapeHtml(m.model_ds)}${run}. ${rows} rows with their labels.</p>`;
}

/** The report page of one day; `history` holds the earlier days' summaries and today's, oldest first. */
export async function reportPage(r: Report, scoreBins: ScoreBins, history: DaySummary[]): Promise<string> {
  const t = r.thresholds;
  const psiBars = Object.entries(r.drift.features).map(([feature, f]) => ({ feature, psi: f.psi }));
  const [aucSvg, psiSvg, scoresSvg] = await Promise.all([
    renderSvg(aucSpec(history, r.validation.roc_auc, t.min_roc_auc)),
    renderSvg(psiSpec(psiBars, t.psi_threshold)),
    renderSvg(scoresSpec(scoreBins)),
  ]);
  const s = r.drift.scores;
  const scoresAlarm = s.psi > t.psi_threshold;
  const days = `${history.length} ${history.length === 1 ? "day" : "days"}`;
  const body = `
<h1>Model monitoring · ${escapeHtml(r.ds)}</h1>
${verdictBox(r)}
${modelLine(r)}
<h2>Quality on the day's labels</h2>
${qualityTable(r)}
<h2>ROC AUC, last ${days} with a report</h2>
<p class="meta">Solid line: the validation ROC AUC ${num(r.validation.roc_auc)}; dashed red line: the alarm level
${num(t.min_roc_auc)} (validation − ${t.auc_drop}).</p>
<div class="chart">${aucSvg}</div>
<h2>Feature drift against the training rows</h2>
<p class="meta">Population stability index on the training deciles (alarm above ${t.psi_threshold}) and Kolmogorov–Smirnov distance.</p>
<div class="chart">${psiSvg}</div>
${driftTable(r)}
<h2>Prediction drift against the validation scores</h2>
<p class="meta${scoresAlarm ? " flagged" : ""}">PSI ${num(s.psi)}${scoresAlarm ? ` (above ${t.psi_threshold})` : ""}, KS ${num(s.ks)}.</p>
<div class="chart">${scoresSvg}</div>
<p class="meta">Thresholds: PSI ${t.psi_threshold}; ROC AUC drop ${t.auc_drop}. <a href="../index.html">Every day</a>.</p>`;
  return page(`Monitoring ${r.ds}: ${VERDICT_TEXT[r.verdict]}`, body);
}

/** monitoring/index.html: every day with a report, newest first, linking its page. */
export function indexPage(days: DaySummary[]): string {
  const sorted = [...days].sort((a, b) => (a.ds < b.ds ? 1 : a.ds > b.ds ? -1 : 0));
  const rows = sorted.map((d) => {
    const ds = escapeHtml(d.ds);
    const maxPsi = d.max_psi.value === null ? "–" : `${num(d.max_psi.value)} (${escapeHtml(d.max_psi.feature ?? "")})`;
    const version = escapeHtml(d.model_version ?? "folder");
    return { cells: [`<a href="${ds}/report.html">${ds}</a>`, verdictBadge(d.verdict), num(d.roc_auc), num(d.validation_roc_auc), maxPsi, version] };
  });
  const head = ["day", "verdict", "ROC AUC", "validation", "largest feature PSI", "model version"];
  const count = `${sorted.length} ${sorted.length === 1 ? "day" : "days"}`;
  return page("Model monitoring", `<h1>Model monitoring</h1>\n<p class="meta">${count}, newest first.</p>\n${table(head, rows, "days")}`);
}
