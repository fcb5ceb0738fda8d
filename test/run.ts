/**
 * Runs every test suite with node's built-in runner over the compiled tree.
 * Unit and property tests first (fast), then tests that start real processes.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const suites = ["unit", "prop", "integration", "system"]
  .map((s) => join(here, s))
  .filter((d) => existsSync(d));

const result = spawnSync(
  process.execPath,
  ["--test", "--test-concurrency=2", "--test-reporter=spec", ...suites],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
