/**
 * The browser the web UI tests drive (Debian's Chromium through
 * playwright-core) and the built UI they load.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { repoRoot, tempDir } from "./processes.js";

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser tests cannot run here (Chromium missing), or false. */
export const chromiumSkip: string | false = existsSync(CHROMIUM)
  ? false
  : `Debian's Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;

/** The built web UI's page (npm run build:webui). */
export const BUILT_UI = join(repoRoot, "webui", "dist", "index.html");

/** Fails the test unless the web UI is built. */
export function assertUiBuilt(): void {
  assert.ok(existsSync(BUILT_UI), `the web UI is not built (${BUILT_UI}): run npm run build:webui`);
}

/** How a test opens the browser. */
export interface ChromiumOptions {
  viewport: { width: number; height: number };
  /** Also turn off Chromium's background networking, component updates and sync. */
  quiet?: boolean;
  acceptDownloads?: boolean;
}

/**
 * Starts Chromium headless (no sandbox, no GPU, no first-run UI) with a new
 * profile in a temporary directory named `profilePrefix…`: its context, to
 * close at the end, and its first page.
 */
export async function openChromium(
  profilePrefix: string,
  options: ChromiumOptions,
): Promise<{ context: BrowserContext; page: Page }> {
  const quiet =
    options.quiet === true
      ? ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
      : [];
  const context = await chromium.launchPersistentContext(tempDir(profilePrefix), {
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", ...quiet, "--no-first-run"],
    viewport: options.viewport,
    ...(options.acceptDownloads === undefined ? {} : { acceptDownloads: options.acceptDownloads }),
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}
