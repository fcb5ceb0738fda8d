/**
 * Regenerates src/common/protocol/generated/ from the .proto files:
 *   node dist/src/common/protocol/gen-types.js [--check]
 * With --check, writes nothing and exits 1 if any committed file is stale.
 */
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { descriptorFromProtoDir } from "./descriptor-from-proto.js";
import { renderGeneratedFiles } from "./type-emitter.js";

/** Repository root, from this file's place in the source or dist tree. */
export function repoRoot(): string {
  const here = fileURLToPath(new URL(".", import.meta.url));
  // src/common/protocol/ or dist/src/common/protocol/
  const up = here.endsWith("/dist/src/common/protocol/") ? "../../../../" : "../../../";
  return join(here, up);
}

export const PROTO_DIR_REL = "proto";
export const GENERATED_DIR_REL = "src/common/protocol/generated";

/** Renders the generated files from the current .proto files. */
export function renderFromProtos(root = repoRoot()): Map<string, string> {
  return renderGeneratedFiles(descriptorFromProtoDir(join(root, PROTO_DIR_REL)));
}

/** Files in generated/ that differ from a fresh render (or should not exist). */
export function staleGeneratedFiles(root = repoRoot()): string[] {
  const dir = join(root, GENERATED_DIR_REL);
  const fresh = renderFromProtos(root);
  const stale: string[] = [];
  for (const [name, content] of fresh) {
    const path = join(dir, name);
    if (!existsSync(path) || readFileSync(path, "utf8") !== content) stale.push(name);
  }
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      if (name.endsWith(".ts") && !fresh.has(name)) stale.push(name);
    }
  }
  return stale.sort();
}

function main(argv: readonly string[]): number {
  const root = repoRoot();
  if (argv.includes("--check")) {
    const stale = staleGeneratedFiles(root);
    if (stale.length > 0) {
      process.stderr.write(`stale generated protocol files: ${stale.join(", ")}\n`);
      return 1;
    }
    return 0;
  }
  const dir = join(root, GENERATED_DIR_REL);
  const fresh = renderFromProtos(root);
  for (const name of readdirSync(dir)) {
    if (name.endsWith(".ts") && !fresh.has(name)) unlinkSync(join(dir, name));
  }
  for (const [name, content] of fresh) writeFileSync(join(dir, name), content);
  process.stdout.write(`wrote ${fresh.size} files to ${GENERATED_DIR_REL}\n`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
