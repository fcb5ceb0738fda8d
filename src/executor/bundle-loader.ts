/**
 * The file the agent starts for a bundled executor: `<name>.bundle.cjs` is
 * this loader, which runs the real bundle `<name>.code.cjs` beside it through
 * V8's code cache (code-cache.ts). Both are written by launch-command.ts.
 */
import { CodeCacheLoader } from "./code-cache.js";

const self = import.meta.filename;
const code = self.replace(/\.bundle\.cjs$/, ".code.cjs");
if (code === self) throw new Error(`${self}: the loader runs only as <name>.bundle.cjs`);
// The bundle runs its main only when it is the process' entry script.
process.argv[1] = code;
new CodeCacheLoader().load(code);
