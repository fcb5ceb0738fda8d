/**
 * Module names listed in Mesos `Modules` manifests (`--modules`, the files
 * of `--modules_dir`), so a daemon can say which ones it does not load.
 * Malformed entries are skipped: the code that uses a module reports those.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonValue } from "./spec.js";

type JsonObject = { [key: string]: JsonValue };

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `[library, module]` pairs of one manifest, in order. */
function listed(manifest: JsonValue): [string, string][] {
  const out: [string, string][] = [];
  const libraries = isObject(manifest) ? manifest.libraries : undefined;
  if (!Array.isArray(libraries)) return out;
  for (const library of libraries) {
    if (!isObject(library) || !Array.isArray(library.modules)) continue;
    const file =
      typeof library.file === "string"
        ? library.file
        : typeof library.name === "string"
          ? library.name
          : "?";
    for (const module of library.modules) {
      const name = typeof module === "string" ? module : isObject(module) ? module.name : undefined;
      if (typeof name === "string") out.push([file, name]);
    }
  }
  return out;
}

/** The `[library, module]` pairs of `--modules`, else of every file in `--modules_dir`. */
export function listedModules(
  modules: JsonValue | undefined,
  modulesDir: string | undefined,
): [string, string][] {
  if (modules !== undefined) return listed(modules);
  if (modulesDir === undefined) return [];
  const out: [string, string][] = [];
  let names: string[];
  try {
    names = readdirSync(modulesDir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    try {
      out.push(...listed(JSON.parse(readFileSync(join(modulesDir, name), "utf8")) as JsonValue));
    } catch {
      // An unreadable manifest is reported where its module is used.
    }
  }
  return out;
}
