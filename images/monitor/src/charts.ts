/**
 * The report page's charts, as SVG text made here, in Node: each is a Vega-Lite spec compiled to Vega and
 * rendered by a headless View (renderer "none", no canvas: text widths are estimated, which is all axis labels
 * need). The page holds the SVG itself, so it needs no script and no network to show them.
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { DaySummary, ScoreBins, Verdict } from "./report.ts";

/** The verdicts' colours (the page's too), and the charts' others. */
export const COLORS = {
  ok: "#1a7f37",
  drift: "#b35900",
  "quality drop": "#c62828",
  neutral: "#5470a8",
  muted: "#9aa3ad",
  validation: "#222",
} as const;

const CONFIG: vl.TopLevelSpec["config"] = {
  font: "Helvetica, Arial, sans-serif",
  view: { stroke: null },
  axis: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: "normal", gridColor: "#e6e8eb" },
  legend: { labelFontSize: 12, titleFontSize: 12, orient: "top", labelLimit: 0 },
};

/** The SVG of a Vega-Lite spec. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile({ ...spec, config: CONFIG }).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** PSI per feature as bars (alarms in the drift colour), the threshold as a dashed rule. */
export function psiSpec(features: { feature: string; psi: number | null }[], threshold: number): vl.TopLevelSpec {
  const values = features.map((f) => ({ ...f, psi: f.psi ?? 0, alarm: f.psi !== null && f.psi > threshold ? "above" : "below" }));
  return {
    width: 600,
    height: 220,
    layer: [
      {
        data: { values },
        mark: { type: "bar", width: { band: 0.7 } },
        encoding: {
          x: { field: "feature", type: "nominal", sort: null, title: null, axis: { labelAngle: 0 } },
          y: { field: "psi", type: "quantitative", title: "PSI" },
          color: {
            field: "alarm",
            type: "nominal",
            scale: { domain: ["below", "above"], range: [COLORS.neutral, COLORS.drift] },
            legend: { title: null, labelExpr: "datum.label === 'above' ? 'above the threshold' : 'below the threshold'" },
          },
        },
      },
      {
        data: { values: [{ threshold, label: `${threshold}` }] },
        layer: [
          {
            mark: { type: "rule", strokeDash: [6, 4], color: COLORS["quality drop"] },
            encoding: { y: { field: "threshold", type: "quantitative" } },
          },
          {
            mark: { type: "text", align: "left", baseline: "middle", dx: 4, x: "width", color: COLORS["quality drop"] },
            encoding: { y: { field: "threshold", type: "quantitative" }, text: { field: "label" } },
          },
        ],
      },
    ],
  };
}

/** The scores' distribution: the day's share per bin as bars, the validation's as a step line over them. */
export function scoresSpec(bins: ScoreBins): vl.TopLevelSpec {
  const rows = bins.day.map((share, k) => ({ start: k / 20, end: (k + 1) / 20, day: share, validation: bins.validation[k] ?? 0 }));
  const line = [...rows, { start: 1, end: 1, day: 0, validation: rows[rows.length - 1]?.validation ?? 0 }];
  const share = { type: "quantitative", title: "share of rows", axis: { format: ".0%" } } as const;
  return {
    width: 600,
    height: 200,
    layer: [
      {
        data: { values: rows.map((r) => ({ ...r, source: "this day" })) },
        mark: { type: "rect", opacity: 0.75 },
        encoding: {
          x: { field: "start", type: "quantitative", title: "predicted probability", scale: { domain: [0, 1] } },
          x2: { field: "end" },
          y: { field: "day", ...share },
          color: {
            field: "source",
            type: "nominal",
            scale: { domain: ["this day", "validation"], range: [COLORS.neutral, COLORS.validation] },
            legend: { title: null },
          },
        },
      },
      {
        data: { values: line.map((r) => ({ ...r, source: "validation" })) },
        mark: { type: "line", interpolate: "step-after", strokeWidth: 2 },
        encoding: {
          x: { field: "start", type: "quantitative" },
          y: { field: "validation", ...share },
          color: { field: "source", type: "nominal" },
        },
      },
    ],
  };
}

/** One layer of a layered chart, as Vega-Lite's types have it. */
type Layer = Extract<vl.TopLevelSpec, { layer: unknown }>["layer"][number];

/** A horizontal rule across the chart (the page says what it is: a label would sit on the points). */
const level = (y: number, color: string, dashed: boolean): Layer => ({
  data: { values: [{ y }] },
  mark: { type: "rule", color, strokeDash: dashed ? [6, 4] : [] },
  encoding: { y: { field: "y", type: "quantitative" } },
});

/** ROC AUC per day, the points coloured by verdict; the validation level (solid) and the alarm level (dashed) as rules. */
export function aucSpec(days: DaySummary[], validation: number | null, minimum: number | null): vl.TopLevelSpec {
  const values = days.filter((d) => d.roc_auc !== null).map((d) => ({ ds: d.ds, roc_auc: d.roc_auc, verdict: d.verdict }));
  const levels = [
    ...(validation === null ? [] : [level(validation, COLORS.validation, false)]),
    ...(minimum === null ? [] : [level(minimum, COLORS["quality drop"], true)]),
  ];
  const verdicts: Verdict[] = ["ok", "drift", "quality drop"];
  const x = { field: "ds", type: "temporal", timeUnit: "utcyearmonthdate", title: null, axis: { format: "%b %d", labelAngle: 0 } } as const;
  const y = { field: "roc_auc", type: "quantitative", title: "ROC AUC", scale: { zero: false, padding: 12 } } as const;
  return {
    width: 600,
    height: 200,
    layer: [
      ...levels,
      { data: { values }, mark: { type: "line", color: COLORS.muted }, encoding: { x, y } },
      {
        data: { values },
        mark: { type: "point", filled: true, size: 70, opacity: 1 },
        encoding: {
          x,
          y,
          color: {
            field: "verdict",
            type: "nominal",
            scale: { domain: verdicts, range: verdicts.map((v) => COLORS[v]) },
            legend: { title: null },
          },
        },
      },
    ],
  };
}
