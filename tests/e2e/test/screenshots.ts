// Screenshots of the Airflow UI for the README, taken by Debian's Chromium through playwright-core (no browser
// download): the DAG list and each DAG's graph.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface ScreenshotJob {
  url: string;
  user: string;
  password: string;
  /** Each DAG, with the run whose task states the graph shows (none: the DAG's plain graph). */
  dags: { dagId: string; runId?: string }[];
  outDir: string;
}

async function login(page: Page, job: ScreenshotJob): Promise<void> {
  await page.goto(`${job.url}/`, { waitUntil: "networkidle" });
  const user = page.locator('input[name="username"]');
  await user.fill(job.user);
  await page.locator('input[name="password"]').fill(job.password);
  await page.locator('button[type="submit"]').click();
  // The form goes away only once the token cookie is set; navigating earlier lands back on the login page.
  await user.waitFor({ state: "detached", timeout: 30_000 });
}

export async function takeScreenshots(job: ScreenshotJob): Promise<string[]> {
  await mkdir(job.outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // The closed network refuses Chromium's background connections; these flags keep it from trying.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const saved: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 720 } });
    await login(page, job);
    await page.goto(`${job.url}/dags`, { waitUntil: "networkidle" });
    for (const { dagId } of job.dags) await page.getByText(dagId, { exact: true }).first().waitFor({ timeout: 60_000 });
    const list = join(job.outDir, "dag-list.png");
    await page.screenshot({ path: list, fullPage: true });
    saved.push(list);
    for (const { dagId, runId } of job.dags) {
      const path = runId ? `/dags/${dagId}/runs/${encodeURIComponent(runId)}` : `/dags/${dagId}`;
      await page.goto(`${job.url}${path}`, { waitUntil: "networkidle" });
      await page.getByRole("button", { name: /show graph/i }).click();
      // The details panel takes half the width; the graph alone reads better in the README.
      await page.getByRole("button", { name: /collapse details panel/i }).click();
      await page.locator(".react-flow__node").first().waitFor({ timeout: 60_000 });
      await page.waitForLoadState("networkidle");
      const file = join(job.outDir, `graph-${dagId}.png`);
      await page.screenshot({ path: file });
      saved.push(file);
    }
  } finally {
    await browser.close();
  }
  return saved;
}
