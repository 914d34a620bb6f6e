import { dirname } from "node:path";
import {
  type Command,
  DEFAULT_DATA_DIR,
  cliOptions,
  dataPaths,
  lastDays,
  layoutPath,
  numberOption,
  parseDs,
  writeFilesAtomic,
} from "@airflow-ml-dags/common";
import { indexPage, reportPage } from "./html.ts";
import {
  readDataProfile,
  readFeatureColumns,
  readHistory,
  readPredictionsManifest,
  readScoredDay,
  readValidation,
  reportDays,
} from "./inputs.ts";
import { buildReport, maxPsi, summarize } from "./report.ts";
import { logDay } from "./tracking.ts";

export const monitorCommand: Command = {
  summary:
    "Compares a day's predictions with its labels and its data with the model's training profile: quality, data and " +
    "prediction drift, a verdict with its alarms. Writes monitoring/{ds}/report.json and report.html and rewrites " +
    "monitoring/index.html; with MLFLOW_TRACKING_URI set, also logs the day to the model version's monitoring run.",
  options: {
    ds: { help: "run date YYYY-MM-DD (the day whose predictions and labels are compared)" },
    ...cliOptions("monitor"),
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    const psiThreshold = numberOption("psi_threshold", args.str("psi-threshold"));
    const aucDrop = numberOption("auc_drop", args.str("auc-drop"));
    const historyDays = numberOption("history_days", args.str("history-days"));
    const dataDir = args.str("data-dir");
    const paths = dataPaths(dataDir, ds);
    const out = {
      report: layoutPath(dataDir, "monitoring_report", ds),
      page: layoutPath(dataDir, "monitoring_page", ds),
      index: layoutPath(dataDir, "monitoring_index", ds),
    };

    // The small inputs first, so that a missing profile or metrics file fails before the large ones are read.
    const manifest = await readPredictionsManifest(paths.predictionsManifest);
    const profile = await readDataProfile(layoutPath(dataDir, "model_profile", manifest.model_ds));
    const validation = await readValidation(layoutPath(dataDir, "model_metrics", manifest.model_ds));
    const { y, p } = await readScoredDay(paths.predictions, paths.target);
    const { rows, columns } = await readFeatureColumns(paths.data);
    if (rows !== y.length) log.warn(`${paths.data} has ${rows} rows, ${paths.predictions} ${y.length}: predictions of other data?`);
    log.info("inputs read", { rows: y.length, model_version: manifest.model_version, model_ds: manifest.model_ds });

    const { report, scoreBins } = buildReport({
      ds,
      manifest,
      profile,
      validation,
      y,
      p,
      columns,
      rows,
      options: { psiThreshold, aucDrop },
    });
    const today = summarize(report);

    // Every earlier report, for the index; those of the last history_days days, for the quality chart.
    const warn = (msg: string) => log.warn(msg);
    const others = (await reportDays(dirname(out.index))).filter((d) => d !== ds);
    const summaries = await readHistory(dataDir, others, warn);
    const window = new Set(lastDays(ds, historyDays + 1).slice(0, -1));
    const history = [...summaries.filter((s) => window.has(s.ds)).sort((a, b) => a.ds.localeCompare(b.ds)), today];

    const started = performance.now();
    const page = await reportPage(report, scoreBins, history);
    log.info("report page rendered", { ms: Math.round(performance.now() - started), bytes: Buffer.byteLength(page) });

    for (const a of report.alarms) log.warn(`alarm: ${a.subject} ${a.metric} ${a.value.toFixed(4)} (threshold ${a.threshold.toFixed(4)})`);
    // MLflow before the files: with the server unreachable the stage fails and writes nothing.
    const mlflow = await logDay(log, report, page);

    await writeFilesAtomic([
      { path: out.report, data: `${JSON.stringify(report, null, 2)}\n` },
      { path: out.page, data: page },
      { path: out.index, data: indexPage([...summaries, today]) },
    ]);
    log.info("written", { outputs: Object.values(out), verdict: report.verdict });
    return {
      ds,
      verdict: report.verdict,
      alarms: report.alarms,
      model_ref: report.model.ref,
      model_version: report.model.version,
      roc_auc: report.quality.roc_auc,
      max_psi: maxPsi(report),
      rows: report.rows,
      mlflow_run_id: mlflow?.runId ?? null,
      outputs: Object.values(out),
    };
  },
};
