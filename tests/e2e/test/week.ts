// The fixed week both topologies run (stack.test.ts on the LocalExecutor, week-on-celery.test.ts on two Celery
// workers through a backfill), and what the second compares with the first.

export const WEEK = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06", "2026-11-07", "2026-11-08"];
// @weekly fires on Sundays: the one training run of the week is on its last day.
export const TRAIN_DS = "2026-11-08";
export const ROWS = 2000;
// From this day on the world shifts (GENERATE_DRIFT_FROM): after the week, so the week's data is the same
// whether a run goes on to that day or not.
export const DRIFT_DS = "2026-11-10";

/** The folders of the week's outputs under the data folder. */
export const WEEK_DIRS = [
  ...WEEK.map((ds) => `raw/${ds}`),
  `processed/${TRAIN_DS}`,
  `models/${TRAIN_DS}`,
  ...WEEK.map((ds) => `predictions/${ds}`),
];

/**
 * Files of those folders that record which MLflow run or version made them, and when (the run ids differ
 * between two stacks by design); every other file must be the same bytes whichever topology ran the week.
 */
export const RUN_RECORDS = new Set(["manifest.json", "metrics.json", "MLmodel"]);

export const comparable = (sums: Map<string, string>) =>
  new Map([...sums].filter(([path]) => !RUN_RECORDS.has(path.slice(path.lastIndexOf("/") + 1))));

/** The LocalExecutor week's comparable files, by path, once stack.test.ts has seen the week through. */
export const localWeek: { sums?: Map<string, string> } = {};
