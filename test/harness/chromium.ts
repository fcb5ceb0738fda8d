/**
 * The browser the web UI tests drive (Debian's Chromium through
 * playwright-core) and the built UI they load.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./processes.js";

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
