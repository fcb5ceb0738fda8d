import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { bundleModules } from "../../src/executor/bundle.js";
import { CodeCacheLoader } from "../../src/executor/code-cache.js";

const CODE_CACHE_MODULE = pathToFileURL(
  join(import.meta.dirname, "..", "..", "src", "executor", "code-cache.js"),
).href;

/**
 * Loads `file` in a fresh process (V8 keeps compiled scripts in memory, so a
 * second load in this one would not read the cache) and writes what it
 * found missing; returns the bundle's value() and the outcomes.
 */
function loadInChild(
  file: string,
  { exitEarly = false } = {},
): { value: string; outcomes: Record<string, string> } {
  const script = `import { CodeCacheLoader } from ${JSON.stringify(CODE_CACHE_MODULE)};
const loader = new CodeCacheLoader(60000);
const value = loader.load(${JSON.stringify(file)}).value();
${exitEarly ? "" : "loader.writeCaches();"}
process.stdout.write(JSON.stringify({ value, outcomes: Object.fromEntries(loader.outcomes) }));`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  return JSON.parse(out) as { value: string; outcomes: Record<string, string> };
}

const root = mkdtempSync(join(tmpdir(), "executor-code-cache-"));
let n = 0;

/** A CommonJS bundle in a fresh directory, with a sibling it requires; returns its path. */
function bundle(value: string): string {
  const dir = mkdtempSync(join(root, `case-${++n}-`));
  writeFileSync(join(dir, "part.code.cjs"), `module.exports = { part: () => "${value}-part" };\n`);
  const file = join(dir, "main.code.cjs");
  writeFileSync(
    file,
    `const { part } = require("./part.code.cjs");\nconst { sep } = require("node:path");\nmodule.exports = { value: () => "${value}", part, sep, dir: __dirname, self: __filename };\n`,
  );
  return file;
}

interface Exported {
  value(): string;
  part(): string;
  sep: string;
  dir: string;
  self: string;
}

/** Rewrites `file` with `text` the way launch-command.ts does (new file, rename). */
function replace(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

describe("executor code cache", () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it("runs a bundle as CommonJS (own require for ./*.cjs siblings and built-ins, __dirname, __filename)", () => {
    const file = bundle("a");
    const loader = new CodeCacheLoader(60_000);
    const m = loader.load(file) as Exported;
    assert.equal(m.value(), "a");
    assert.equal(m.part(), "a-part");
    assert.equal(m.sep, "/");
    assert.equal(m.self, file);
    assert.equal(m.dir, join(file, ".."));
    assert.equal(loader.load(file), m, "a second load returns the same exports");
    loader.writeCaches();
  });

  it("writes a cache when none exists, and the next process uses it", () => {
    const file = bundle("b");
    const part = join(file, "..", "part.code.cjs");
    const first = loadInChild(file);
    assert.deepEqual(first, { value: "b", outcomes: { [file]: "missing", [part]: "missing" } });
    assert.ok(statSync(`${file}.cache`).size > 0);
    assert.ok(statSync(`${part}.cache`).size > 0, "siblings are cached too");
    const second = loadInChild(file);
    assert.deepEqual(second, { value: "b", outcomes: { [file]: "used", [part]: "used" } });
  });

  it("a cache written at an early exit is used, then replaced by a full one", () => {
    const file = bundle("early");
    assert.equal(loadInChild(file, { exitEarly: true }).outcomes[file], "missing");
    assert.equal(loadInChild(file, { exitEarly: true }).outcomes[file], "used-early");
    // One that lives past the write delay (here: writes explicitly) replaces it.
    assert.equal(loadInChild(file).outcomes[file], "used-early");
    assert.equal(loadInChild(file, { exitEarly: true }).outcomes[file], "used");
  });

  it("never uses the cache of an older bundle, even one of the same length", () => {
    const file = bundle("c");
    loadInChild(file);
    // Same length, other code: V8's own check (source length) would accept the old data.
    replace(file, readFileSync(file, "utf8").replace('"c"', '"d"'));
    const second = loadInChild(file);
    assert.equal(second.value, "d");
    assert.equal(second.outcomes[file], "stale");
    const third = loadInChild(file);
    assert.equal(third.value, "d");
    assert.equal(third.outcomes[file], "used", "the stale cache was replaced");
  });

  it("ignores cache data V8 rejects, still runs the bundle and writes a good cache", () => {
    const file = bundle("e");
    loadInChild(file);
    const data = readFileSync(`${file}.cache`);
    const header = data.indexOf(0x0a) + 1;
    // Keep the header (it names this bundle), garble V8's data.
    writeFileSync(`${file}.cache`, Buffer.concat([data.subarray(0, header), Buffer.alloc(64, 7)]));
    const second = loadInChild(file);
    assert.equal(second.value, "e");
    assert.equal(second.outcomes[file], "rejected");
    assert.equal(loadInChild(file).outcomes[file], "used");
  });

  it("routes a CommonJS bundle's import() through the loader (vm code cannot import on Node 20)", async () => {
    const dir = mkdtempSync(join(root, "dynamic-"));
    writeFileSync(join(dir, "package.json"), '{"type":"module"}\n');
    writeFileSync(join(dir, "later.js"), 'export const later = "loaded later";\n');
    writeFileSync(
      join(dir, "main.js"),
      'export async function load() {\n  const { later } = await import("./later.js");\n  return later;\n}\n',
    );
    const file = join(dir, "main.code.cjs");
    writeFileSync(file, bundleModules(join(dir, "main.js"), { format: "cjs" }));
    const m = new CodeCacheLoader(60_000).load(file) as { load(): Promise<string> };
    assert.equal(await m.load(), "loaded later");
  });
});
