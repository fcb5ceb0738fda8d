/**
 * Shared benchmark reporting: one JSON line per case on stdout, and a row
 * per case appended to docs/benchmarks.md with the machine, date and commit.
 */

import { execSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";

/** Repository root (bench/lib -> dist/bench/lib when compiled). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

export interface MachineInfo {
  nproc: number;
  cpu: string;
  memGb: number;
  node: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    nproc: list.length,
    cpu: (list[0]?.model ?? "unknown").trim(),
    memGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

/** Short sha of HEAD ("unknown" outside git). */
export function gitCommit(): string {
  try {
    const root = repoRoot();
    const sha = execSync("git rev-parse --short HEAD", {
      cwd: root,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
    return sha;
  } catch {
    return "unknown";
  }
}

const HEADER = `# Benchmark results

Rows are appended by \`npm run bench -- <name>\` (see bench/run.ts); never edited by hand.

| column | meaning |
| --- | --- |
| date | when the case ran (UTC) |
| commit | short git sha of HEAD when it ran |
| machine | nproc x cpu model, memory, node version |
| benchmark | bench/<name>.ts |
| case | the variant and size measured |
| results | the case's numbers (units in the key names: \`_ms\`, \`_mb\`, \`_per_s\`; ratios are plain); \`load_1m\` is the machine's 1-minute load average when the case ended (other work on a shared machine skews wall times) |

| date | commit | machine | benchmark | case | results |
| --- | --- | --- | --- | --- | --- |
`;

/** Path of docs/benchmarks.md, created with its header when missing. */
export function benchmarksFile(): string {
  const file = join(repoRoot(), "docs", "benchmarks.md");
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, HEADER);
  }
  return file;
}

export type CaseResults = Record<string, number | string | boolean | null>;

function formatValue(v: number | string | boolean | null): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return String(v);
}

/**
 * Reports one case: prints `{"benchmark", "case", ...results}` as one JSON
 * line and appends a row to docs/benchmarks.md (unless `BENCH_NO_APPEND=1`).
 */
export function reportCase(benchmark: string, caseName: string, caseResults: CaseResults): void {
  // The machine may be shared: say how busy it was.
  const results = { ...caseResults, load_1m: Math.round((loadavg()[0] ?? 0) * 10) / 10 };
  console.log(JSON.stringify({ benchmark, case: caseName, ...results }));
  if (process.env.BENCH_NO_APPEND === "1") return;
  const m = machineInfo();
  const machine = `${m.nproc}x ${m.cpu}, ${m.memGb} GB, node ${m.node}`;
  const text = Object.entries(results)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(", ");
  const date = new Date().toISOString().replace("T", " ").slice(0, 16);
  appendFileSync(
    benchmarksFile(),
    `| ${date} | ${gitCommit()} | ${machine} | ${benchmark} | ${caseName} | ${text.replace(/\|/g, "/")} |\n`,
  );
}

/** Resident set size in MiB. */
export function rssMb(): number {
  return Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
}

let gcFn: (() => void) | undefined;

/** Runs a full garbage collection (enabling `gc` on the fly when needed). */
export function collectGarbage(): void {
  if (gcFn === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed !== undefined) {
      gcFn = exposed;
    } else {
      v8.setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    }
  }
  gcFn();
}

/** V8 heap in use, MiB (after `collectGarbage` for a stable number). */
export function heapMb(): number {
  return process.memoryUsage().heapUsed / 2 ** 20;
}
