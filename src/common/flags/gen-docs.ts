/**
 * Writes docs/reference/master-flags.md and agent-flags.md from the flag
 * declarations. Run after a build: `node dist/src/common/flags/gen-docs.js`
 * (`--check` only reports stale pages and exits 1).
 *
 * The schemas are imported by path at run time: this is a build tool, and
 * common code must not import the master or agent statically.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type FlagDocPage, renderFlagDocs } from "./docs.js";
import { packageRoot } from "./install-paths.js";
import type { FlagSchema } from "./load.js";
import type { FlagSpecs } from "./spec.js";

interface Target {
  /** Output, relative to the package root. */
  readonly file: string;
  /** Compiled module holding the schema, relative to this file. */
  readonly module: string;
  readonly exportName: string;
  readonly page: FlagDocPage;
}

const TARGETS: readonly Target[] = [
  {
    file: "docs/reference/master-flags.md",
    module: "../../master/flags.js",
    exportName: "masterFlagSchema",
    page: {
      program: "mesos-master",
      source: "src/master/flags.ts",
      intro:
        "All flags of `mesos-master`, as in Mesos 1.12 (names, defaults, aliases). " +
        "`--work_dir` is required unless `--registry=in_memory`.",
    },
  },
  {
    file: "docs/reference/agent-flags.md",
    module: "../../agent/flags.js",
    exportName: "agentFlagSchema",
    page: {
      program: "mesos-agent",
      source: "src/agent/flags.ts",
      intro:
        "All flags of `mesos-agent` (also run as `mesos-slave`), as in Mesos 1.12 (names, " +
        "defaults, aliases), including those Mesos only has on Linux or in builds with " +
        "optional isolators. `--work_dir` and `--master` are required.",
    },
  },
];

/** Each generated page: its path under the package root and its content. */
export async function renderAllFlagDocs(): Promise<{ file: string; content: string }[]> {
  const out: { file: string; content: string }[] = [];
  for (const target of TARGETS) {
    const mod = (await import(new URL(target.module, import.meta.url).href)) as Record<
      string,
      unknown
    >;
    const schema = mod[target.exportName] as FlagSchema<FlagSpecs> | undefined;
    if (schema === undefined) throw new Error(`${target.module} has no ${target.exportName}`);
    out.push({ file: target.file, content: renderFlagDocs(schema, target.page) });
  }
  return out;
}

/** Pages whose committed text differs from what the declarations give. */
export async function staleFlagDocs(root: string = packageRoot()): Promise<string[]> {
  const stale: string[] = [];
  for (const page of await renderAllFlagDocs()) {
    let current = "";
    try {
      current = readFileSync(join(root, page.file), "utf8");
    } catch {
      // Missing counts as stale.
    }
    if (current !== page.content) stale.push(page.file);
  }
  return stale;
}

async function run(args: readonly string[]): Promise<number> {
  const root = packageRoot();
  if (args.includes("--check")) {
    const stale = await staleFlagDocs(root);
    for (const file of stale) process.stderr.write(`stale: ${file}\n`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const page of await renderAllFlagDocs()) {
    writeFileSync(join(root, page.file), page.content);
    process.stdout.write(`wrote ${page.file}\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await run(process.argv.slice(2));
}
