/**
 * Benchmark runner: `node dist/bench/run.js <name> [args...]` loads
 * bench/<name>.ts (compiled) and calls its exported `run(args)`. Each
 * benchmark prints one JSON line per case and appends rows to
 * docs/benchmarks.md (see bench/lib/report.ts).
 *
 * `npm run bench -- <name>` builds first.
 */

import { readdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

type BenchModule = { run?: (args: string[]) => unknown };

function available(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return readdirSync(here)
    .filter((f) => f.endsWith(".js") && f !== "run.js")
    .map((f) => f.slice(0, -3))
    .sort();
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || !/^[a-z0-9-]+$/.test(name)) {
    process.stderr.write(
      `usage: node dist/bench/run.js <name> [args...]\nbenchmarks: ${available().join(", ")}\n`,
    );
    return name === "--help" ? 0 : 1;
  }
  if (!available().includes(name)) {
    process.stderr.write(`unknown benchmark '${name}'; known: ${available().join(", ")}\n`);
    return 1;
  }
  const mod = (await import(`./${name}.js`)) as BenchModule;
  if (typeof mod.run !== "function") {
    process.stderr.write(`bench/${name}.ts does not export run(args)\n`);
    return 1;
  }
  await mod.run(args);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
