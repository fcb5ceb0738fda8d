/**
 * True when the module at `moduleUrl` is the script node was started with,
 * so a benchmark runs by itself (`node dist/bench/x.js`) as well as through
 * bench/run.ts.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

export function isEntryPoint(moduleUrl: string): boolean {
  const script = process.argv[1];
  try {
    return script !== undefined && realpathSync(script) === fileURLToPath(moduleUrl);
  } catch {
    return false;
  }
}
