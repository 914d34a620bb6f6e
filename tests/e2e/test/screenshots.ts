// Screenshots of the Airflow UI for the README, taken by Debian's Chromium through playwright-core (no browser
// download): the DAG list, each DAG's graph and the Required Actions page of a model waiting for approval. The caller chooses the folder: a temporary one in `make test`,
// docs/screenshots under `make screenshots`.
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Page } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const VIEWPORT = { width: 1440, height: 720 };
// A page taller than this is cut there: far more than a list of a few dozen DAGs needs.
const MAX_HEIGHT = 12_000;

export interface ScreenshotJob {
  url: string;
  user: string;
  password: string;
  /** Each DAG, with the run whose task states the graph shows (none: the DAG's plain graph). */
  dags: { dagId: string; runId?: string }[];
  outDir: string;
}

export interface Screenshots {
  /** Every file written, the DAG list first, then one graph per DAG in the job's order. */
  files: string[];
  /** The DAG list's screenshot, and what it shows. */
  dagList: {
    file: string;
    /** The viewport's height when it was taken (the list grows it to fit every DAG). */
    height: number;
    /** The DAG ids whose links lie wholly inside the screenshot, as the page orders them. */
    visible: string[];
    /** The page's own count ("5 Dags"), or null if it shows none. */
    countShown: number | null;
  };
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

/** How many pixels of the page lie below the viewport: the window's own scroll, or that of a box inside it. */
async function hiddenBelow(page: Page): Promise<number> {
  return page.evaluate(() => {
    let hidden = Math.max(0, document.documentElement.scrollHeight - window.innerHeight);
    for (const el of Array.from(document.querySelectorAll<HTMLElement>("*"))) {
      const { overflowY } = getComputedStyle(el);
      if (overflowY === "auto" || overflowY === "scroll") hidden = Math.max(hidden, el.scrollHeight - el.clientHeight);
    }
    return hidden;
  });
}

/**
 * Grows the viewport until nothing scrolls any more. Airflow's UI scrolls a box inside a window-high layout,
 * so a "full page" screenshot alone stops at the window's height and cuts the DAG list off.
 */
async function fitViewportToPage(page: Page): Promise<number> {
  let height = VIEWPORT.height;
  let hidden = await hiddenBelow(page);
  while (hidden > 0 && height < MAX_HEIGHT) {
    const taller = Math.min(MAX_HEIGHT, height + hidden);
    await page.setViewportSize({ width: VIEWPORT.width, height: taller });
    await page.waitForLoadState("networkidle");
    const now = await hiddenBelow(page);
    if (now >= hidden) {
      // What still scrolls does not grow with the window (a box of fixed height): growing it more is no use.
      await page.setViewportSize({ width: VIEWPORT.width, height });
      break;
    }
    [height, hidden] = [taller, now];
  }
  return height;
}

/** The DAG ids whose name links (`/dags/<id>`) lie wholly inside the viewport. */
async function dagLinksInView(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const ids: string[] = [];
    for (const a of Array.from(document.querySelectorAll<HTMLAnchorElement>("a[href]"))) {
      const m = /^\/dags\/([^/?#]+)$/.exec(a.getAttribute("href") ?? "");
      const box = a.getBoundingClientRect();
      const inView = box.width > 0 && box.height > 0 && box.top >= 0 && box.left >= 0 &&
        box.bottom <= window.innerHeight && box.right <= window.innerWidth;
      if (m && inView) ids.push(decodeURIComponent(m[1] as string));
    }
    return [...new Set(ids)];
  });
}

const launch = () =>
  chromium.launch({
    executablePath: CHROMIUM,
    // The closed network refuses Chromium's background connections; these flags keep it from trying.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });

/** The width the monitor's report page is shown at: its column and a margin. */
export const REPORT_WIDTH = 960;

/**
 * A page of the data folder opened from disk, as a person opens it, shot whole. Every request but the page's
 * own file is refused and returned: a self-contained page makes none.
 */
export async function screenshotFile(file: string, out: string): Promise<{ height: number; requests: string[] }> {
  await mkdir(dirname(out), { recursive: true });
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: REPORT_WIDTH, height: VIEWPORT.height } });
    const url = pathToFileURL(file).href;
    const requests: string[] = [];
    await page.route("**/*", (route) => {
      if (route.request().url() === url) return route.continue();
      requests.push(route.request().url());
      return route.abort();
    });
    await page.goto(url, { waitUntil: "load" });
    await page.screenshot({ path: out, fullPage: true });
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    return { height, requests };
  } finally {
    await browser.close();
  }
}

export async function takeScreenshots(job: ScreenshotJob): Promise<Screenshots> {
  await mkdir(job.outDir, { recursive: true });
  const browser = await launch();
  const files: string[] = [];
  try {
    const page = await browser.newPage({ viewport: VIEWPORT });
    await login(page, job);
    await page.goto(`${job.url}/dags`, { waitUntil: "networkidle" });
    for (const { dagId } of job.dags) {
      await page.locator(`a[href="/dags/${encodeURIComponent(dagId)}"]`).first().waitFor({ timeout: 60_000 });
    }
    // As tall as the list, however many DAGs it holds.
    const height = await fitViewportToPage(page);
    const list = join(job.outDir, "dag-list.png");
    await page.screenshot({ path: list, fullPage: true });
    files.push(list);
    const COUNT = /^\s*(\d+)\s+dags?\s*$/i;
    const countText = await page.getByText(COUNT).first().textContent({ timeout: 5000 }).catch(() => null);
    const count = COUNT.exec(countText ?? "");
    const dagList = { file: list, height, visible: await dagLinksInView(page), countShown: count ? Number(count[1]) : null };

    // The graphs at the README's size.
    await page.setViewportSize(VIEWPORT);
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
      files.push(file);
    }
    return { files, dagList };
  } finally {
    await browser.close();
  }
}

export interface RequiredActionJob {
  url: string;
  user: string;
  password: string;
  /** The UI's path of the waiting task's Required Actions page. */
  path: string;
  /** Texts the page must show (the request's subject, a heading of its Markdown body). */
  expect: string[];
  out: string;
}

/**
 * The page a reviewer decides on, as tall as its request. Returns which of the expected texts appeared and the
 * answer buttons it offers, so the caller can tell a picture of the open request from one of an error page.
 */
export async function screenshotRequiredAction(job: RequiredActionJob): Promise<{ height: number; found: boolean[]; buttons: string[] }> {
  await mkdir(dirname(job.out), { recursive: true });
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: VIEWPORT });
    await login(page, { url: job.url, user: job.user, password: job.password, dags: [], outDir: "" });
    await page.goto(`${job.url}${job.path}`, { waitUntil: "networkidle" });
    const found: boolean[] = [];
    for (const text of job.expect) {
      found.push(await page.getByText(text).first().waitFor({ timeout: 60_000 }).then(() => true, () => false));
    }
    await page.locator('[data-testid^="hitl-option-"]').first().waitFor({ timeout: 30_000 }).catch(() => undefined);
    await page.waitForLoadState("networkidle");
    const height = await fitViewportToPage(page);
    await page.screenshot({ path: job.out });
    // The answer's buttons: the UI gives each option of a single-choice request one, named by a test id.
    const options = page.locator('[data-testid^="hitl-option-"]');
    const buttons = (await options.allInnerTexts()).map((t) => t.trim());
    return { height, found, buttons };
  } finally {
    await browser.close();
  }
}
