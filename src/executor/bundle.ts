/**
 * Folds an ES module and the relative modules it imports statically into
 * one file, so the command executor starts without resolving, reading and
 * compiling a dozen small modules (measured: ~20 ms of its ~100 ms
 * start-up; docs/architecture/command-executor.md).
 *
 * Deliberately tiny and strict, for our own tsc output only: each
 * dependency becomes a function scope whose exports are returned as an
 * object; the entry module stays at top level (so its own exports and
 * `import.meta` keep working). Node built-ins are imported once at the top.
 * Dynamic `import()` is left alone, so the bundle must sit in the entry's
 * directory. Any import or export form it does not know is an error, never
 * a silently wrong bundle.
 */
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

/** A bundling failure: the file and what was not understood. */
export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BundleError";
  }
}

interface ImportLine {
  /** What the line binds: `{ a, b as c }` or `* as ns`; empty for a bare import. */
  clause: string;
  specifier: string;
}

interface ParsedModule {
  file: string;
  imports: ImportLine[];
  exports: string[];
  /** Source with import lines removed and `export` keywords dropped. */
  body: string;
}

const IMPORT = /^import\s+(?:(\{[^}]*\}|\*\s+as\s+[A-Za-z_$][\w$]*)\s+from\s+)?"([^"]+)";\s*$/;
const EXPORT_DECL = /^export\s+((?:async\s+)?function\*?|class|const|let|var)\s+([A-Za-z_$][\w$]*)/;
const EXPORT_LIST = /^export\s*\{([^}]*)\};\s*$/;
/** `export { a, b as c } from "./x.js";` (index modules re-exporting). */
const EXPORT_FROM = /^export\s*\{([^}]*)\}\s*from\s*"([^"]+)";\s*$/;

function parseModule(file: string): ParsedModule {
  const source = readFileSync(file, "utf8");
  const imports: ImportLine[] = [];
  const exports: string[] = [];
  const out: string[] = [];
  const where = (i: number) => `${file}:${i + 1}`;
  const lines = source.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.startsWith("//# sourceMappingURL=")) continue;
    if (/^import[\s{*"]/.test(line)) {
      const m = IMPORT.exec(line);
      if (m === null) throw new BundleError(`${where(i)}: unsupported import form: ${line}`);
      imports.push({ clause: m[1] ?? "", specifier: m[2] ?? "" });
      continue;
    }
    if (line.startsWith("export ")) {
      const decl = EXPORT_DECL.exec(line);
      if (decl !== null) {
        exports.push(decl[2] ?? "");
        out.push(line.slice("export ".length));
        continue;
      }
      const from = EXPORT_FROM.exec(line);
      if (from !== null) {
        // An import of those names plus an export of the local ones.
        const names: string[] = [];
        for (const part of (from[1] ?? "").split(",")) {
          const m = /^\s*([A-Za-z_$][\w$]*)(?:\s+as\s+([A-Za-z_$][\w$]*))?\s*$/.exec(part);
          if (m === null) {
            if (part.trim() === "") continue;
            throw new BundleError(`${where(i)}: unsupported re-export: ${part.trim()}`);
          }
          names.push(m[2] ?? m[1] ?? "");
        }
        imports.push({ clause: `{${from[1] ?? ""}}`, specifier: from[2] ?? "" });
        exports.push(...names);
        continue;
      }
      const list = EXPORT_LIST.exec(line);
      if (list !== null) {
        for (const part of (list[1] ?? "").split(",")) {
          const name = part.trim();
          if (name === "") continue;
          if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
            throw new BundleError(`${where(i)}: unsupported export: ${name}`);
          }
          exports.push(name);
        }
        continue;
      }
      throw new BundleError(`${where(i)}: unsupported export form: ${line}`);
    }
    out.push(line);
  }
  return { file, imports, exports, body: out.join("\n") };
}

/** `{ a, b as c }` -> `{ a, b: c }`, for destructuring. */
function destructure(clause: string): string {
  return clause.replace(/([A-Za-z_$][\w$]*)\s+as\s+([A-Za-z_$][\w$]*)/g, "$1: $2");
}

/** Collects the entry and its relative static imports, dependencies first. */
function collect(entry: string): ParsedModule[] {
  const ordered: ParsedModule[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (file: string, chain: string[]): void => {
    const s = state.get(file);
    if (s === "done") return;
    if (s === "visiting") {
      throw new BundleError(`import cycle: ${[...chain, file].join(" -> ")}`);
    }
    state.set(file, "visiting");
    const parsed = parseModule(file);
    for (const imp of parsed.imports) {
      if (imp.specifier.startsWith(".")) {
        visit(resolve(dirname(file), imp.specifier), [...chain, file]);
      } else if (!imp.specifier.startsWith("node:")) {
        throw new BundleError(
          `${file}: only relative and node: imports can be bundled (${imp.specifier})`,
        );
      }
    }
    state.set(file, "done");
    ordered.push(parsed);
  };
  visit(resolve(entry), []);
  return ordered;
}

/** Options of {@link bundleModules}. */
export interface BundleOptions {
  /**
   * Dynamic `import("...")` specifiers of the entry to replace, e.g.
   * `{ "./task-runtime.js": "./task-runtime.bundle.js" }`.
   */
  rewriteDynamicImports?: Readonly<Record<string, string>>;
  /**
   * `cjs`: a CommonJS file (write it as `.cjs`): Node built-ins come from
   * `require`, the entry's exports go to `module.exports`, rewritten dynamic
   * imports become a deferred `require` of the target (a CommonJS bundle
   * too), and the entry's `import.meta.filename`/`import.meta.url` become
   * `__filename` and its URL. Node starts a CommonJS entry without its ES
   * module loader: measured ~5-7 % less CPU per executor start
   * (docs/architecture/command-executor.md). Default `esm`.
   */
  format?: "esm" | "cjs";
}

/** The entry's `import.meta` uses a CommonJS bundle can express. */
const IMPORT_META_CJS: Readonly<Record<string, string>> = {
  "import.meta.filename": "__filename",
  "import.meta.url": 'require("node:url").pathToFileURL(__filename).href',
};

/** Returns the bundled source of `entry` (a compiled ES module). */
export function bundleModules(entry: string, options: BundleOptions = {}): string {
  const modules = collect(entry);
  const cjs = options.format === "cjs";
  const root = dirname(resolve(entry));
  const nodeModules = new Map<string, string>();
  const nodeAlias = (specifier: string): string => {
    let alias = nodeModules.get(specifier);
    if (alias === undefined) {
      alias = `__node_${specifier.slice(5).replace(/\W/g, "_")}`;
      nodeModules.set(specifier, alias);
    }
    return alias;
  };
  const moduleVar = new Map<string, string>();
  const bindings = (m: ParsedModule): string[] =>
    m.imports.map((imp) => {
      if (imp.clause === "") return "";
      const source = imp.specifier.startsWith("node:")
        ? nodeAlias(imp.specifier)
        : (moduleVar.get(resolve(dirname(m.file), imp.specifier)) as string);
      return imp.clause.startsWith("*")
        ? `const ${imp.clause.replace(/^\*\s+as\s+/, "")} = ${source};`
        : `const ${destructure(imp.clause)} = ${source};`;
    });

  const parts: string[] = [];
  let dynamicImports = false;
  /**
   * CommonJS: the remaining `import("…")` calls go through `__import`, which
   * the code-cache loader provides (`module.__import`): code compiled by
   * `vm.Script` cannot call `import()` itself on Node 20 without an
   * experimental flag. Run directly, the bundle uses its own `import()`.
   */
  const routeDynamicImports = (body: string): string => {
    if (!cjs) return body;
    const routed = body.replace(/\bimport\((?=")/g, "__import(");
    if (routed !== body) dynamicImports = true;
    return routed;
  };
  modules.forEach((m, index) => {
    const isEntry = index === modules.length - 1;
    const name = relative(root, m.file);
    if (isEntry) {
      let body = m.body;
      for (const [from, to] of Object.entries(options.rewriteDynamicImports ?? {})) {
        const literal = `import(${JSON.stringify(from)})`;
        if (!body.includes(literal)) throw new BundleError(`${m.file}: no ${literal} to rewrite`);
        const target = cjs
          ? `Promise.resolve().then(() => require(${JSON.stringify(to)}))`
          : `import(${JSON.stringify(to)})`;
        body = body.split(literal).join(target);
      }
      if (cjs) {
        for (const [meta, replacement] of Object.entries(IMPORT_META_CJS)) {
          body = body.split(meta).join(replacement);
        }
        if (/\bimport\.meta\b/.test(body)) {
          throw new BundleError(`${m.file}: import.meta beyond filename/url cannot be CommonJS`);
        }
      }
      parts.push(`// ---- ${name} (entry)`, ...bindings(m), routeDynamicImports(body));
      if (m.exports.length > 0) {
        parts.push(
          cjs
            ? `module.exports = { ${m.exports.join(", ")} };`
            : `export { ${m.exports.join(", ")} };`,
        );
      }
      return;
    }
    if (/\bimport\.meta\b/.test(m.body)) {
      throw new BundleError(`${m.file}: import.meta outside the entry module cannot be bundled`);
    }
    const variable = `__module_${index}`;
    moduleVar.set(m.file, variable);
    parts.push(
      `// ---- ${name}`,
      `const ${variable} = (() => {`,
      ...bindings(m),
      routeDynamicImports(m.body),
      `return { ${m.exports.join(", ")} };`,
      "})();",
    );
  });
  const header = [
    `// Generated by src/executor/bundle.ts from ${relative(root, resolve(entry))}; do not edit.`,
    ...(cjs ? ['"use strict";'] : []),
    ...[...nodeModules].map(([spec, alias]) =>
      cjs ? `const ${alias} = require("${spec}");` : `import * as ${alias} from "${spec}";`,
    ),
    ...(dynamicImports
      ? [
          'const __import = typeof module.__import === "function" ? module.__import : (specifier) => import(specifier);',
        ]
      : []),
  ];
  return `${[...header, ...parts].join("\n")}\n`;
}
