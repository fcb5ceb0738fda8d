/**
 * `<name>.cached.cjs`: runs the bundle `<name>.bundle.cjs` beside it through
 * V8's code cache (code-cache.ts). Both are written by launch-command.ts.
 * Not what the agent starts (measured neutral for our bundles, see
 * docs/architecture/command-executor.md); `executor-startup` compares them.
 */
import { CodeCacheLoader } from "./code-cache.js";

const self = import.meta.filename;
const code = self.replace(/\.cached\.cjs$/, ".bundle.cjs");
if (code === self) throw new Error(`${self}: the loader runs only as <name>.cached.cjs`);
// The bundle runs its main only when it is the process' entry script.
process.argv[1] = code;
new CodeCacheLoader().load(code);
