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
  dags: string[];
  outDir: string;
}

async function login(page: Page, job: ScreenshotJob): Promise<void> {
  await page.goto(`${job.url}/`, { waitUntil: "networkidle" });
  const user = page.locator('input[name="username"], input#username').first();
  if (await user.count()) {
    await user.fill(job.user);
    await page.locator('input[name="password"], input#password').first().fill(job.password);
    await Promise.all([page.waitForLoadState("networkidle"), page.locator('button[type="submit"]').first().click()]);
  }
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
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await login(page, job);
    await page.goto(`${job.url}/dags`, { waitUntil: "networkidle" });
    for (const dag of job.dags) await page.getByText(dag, { exact: true }).first().waitFor({ timeout: 60_000 });
    const list = join(job.outDir, "dag-list.png");
    await page.screenshot({ path: list });
    saved.push(list);
    for (const dag of job.dags) {
      await page.goto(`${job.url}/dags/${dag}`, { waitUntil: "networkidle" });
      const graph = page.getByRole("button", { name: /graph/i }).first();
      if (await graph.count()) await graph.click();
      // The graph is drawn after its data arrives: wait for the nodes of the DAG's tasks.
      await page.locator(".react-flow__node").first().waitFor({ timeout: 60_000 });
      await page.waitForLoadState("networkidle");
      const file = join(job.outDir, `graph-${dag}.png`);
      await page.screenshot({ path: file });
      saved.push(file);
    }
  } finally {
    await browser.close();
  }
  return saved;
}
