/**
 * Reads the Mesos CLI's own configuration file (TOML, by default
 * `~/.mesos/config.toml`) so an operator's existing file keeps working.
 * Understood as the Mesos CLI reads them: `[master]` with `address`, or
 * `[master.zookeeper]` with `addresses` and `path`, and `principal` and
 * `secret`; `[agent]` `principal` and `secret`; the `plugins` list. Other
 * keys (`[agent]` `ssl`, `timeout`) are accepted and ignored. The TOML read is a
 * small subset: tables, dotted table names, `key = value` with strings,
 * integers, booleans, arrays (over several lines too) and one-line inline
 * tables.
 */
import { existsSync } from "node:fs";
import { CliError } from "./cli-error.js";

type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
interface TomlTable {
  [key: string]: TomlValue;
}

/** A parse error; `line` is 1-based. */
class TomlError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parses the subset of TOML described above into nested tables. */
export function parseTomlSubset(text: string): TomlTable {
  const root: TomlTable = {};
  let table = root;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    let content = stripComment(lines[index] as string).trim();
    if (content === "") continue;
    if (content.startsWith("[")) {
      const m = /^\[\s*([A-Za-z0-9_.-]+)\s*\]$/.exec(content);
      if (m === null) throw new TomlError(line, `bad table header '${content}'`);
      table = tableAt(root, (m[1] as string).split("."), line);
      continue;
    }
    const eq = content.indexOf("=");
    if (eq <= 0) throw new TomlError(line, `expected 'key = value', got '${content}'`);
    // An array may span lines (the Mesos CLI's own example lists plugins one per line).
    while (openBrackets(content.slice(eq + 1)) > 0) {
      index++;
      if (index >= lines.length) throw new TomlError(line, "unterminated array");
      content += ` ${stripComment(lines[index] as string).trim()}`;
    }
    const key = unquoteKey(content.slice(0, eq).trim(), line);
    const reader = new ValueReader(content.slice(eq + 1).trim(), line);
    const value = reader.value();
    reader.end();
    if (key in table) throw new TomlError(line, `'${key}' is set twice`);
    table[key] = value;
  }
  return root;
}

/** How many `[` are still open in `text` (brackets inside strings do not count). */
function openBrackets(text: string): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote !== undefined) {
      if (ch === "\\" && quote === '"') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === "[") {
      depth++;
    } else if (ch === "]") {
      depth--;
    }
  }
  return depth;
}

function tableAt(root: TomlTable, path: readonly string[], line: number): TomlTable {
  let table = root;
  for (const part of path) {
    const next = table[part] ?? {};
    if (typeof next !== "object" || Array.isArray(next)) {
      throw new TomlError(line, `'${part}' is a value, not a table`);
    }
    table[part] = next;
    table = next;
  }
  return table;
}

function unquoteKey(key: string, line: number): string {
  if (/^[A-Za-z0-9_-]+$/.test(key)) return key;
  const m = /^"([^"\\]*)"$/.exec(key) ?? /^'([^']*)'$/.exec(key);
  if (m === null) throw new TomlError(line, `bad key '${key}'`);
  return m[1] as string;
}

/** The line without a `#` comment (a `#` inside a string is kept). */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote !== undefined) {
      if (ch === "\\" && quote === '"') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === "#") {
      return line.slice(0, i);
    }
  }
  return line;
}

class ValueReader {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly line: number,
  ) {}

  value(): TomlValue {
    this.skipBlanks();
    const ch = this.text[this.pos];
    if (ch === '"') return this.basicString();
    if (ch === "'") return this.literalString();
    if (ch === "[") return this.array();
    if (ch === "{") return this.inlineTable();
    const m = /^(true|false|[+-]?[0-9][0-9_]*)(?=[\s,\]}]|$)/.exec(this.text.slice(this.pos));
    if (m === null)
      throw new TomlError(this.line, `unsupported value '${this.text.slice(this.pos)}'`);
    this.pos += (m[1] as string).length;
    if (m[1] === "true") return true;
    if (m[1] === "false") return false;
    return Number((m[1] as string).replaceAll("_", ""));
  }

  end(): void {
    this.skipBlanks();
    if (this.pos < this.text.length) {
      throw new TomlError(this.line, `unexpected '${this.text.slice(this.pos)}'`);
    }
  }

  private skipBlanks(): void {
    while (this.text[this.pos] === " " || this.text[this.pos] === "\t") this.pos++;
  }

  private basicString(): string {
    let out = "";
    const escapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
    for (this.pos++; this.pos < this.text.length; this.pos++) {
      const ch = this.text[this.pos] as string;
      if (ch === '"') {
        this.pos++;
        return out;
      }
      if (ch === "\\") {
        const esc = escapes[this.text[++this.pos] ?? ""];
        if (esc === undefined) throw new TomlError(this.line, "unsupported escape in a string");
        out += esc;
      } else {
        out += ch;
      }
    }
    throw new TomlError(this.line, "unterminated string");
  }

  private literalString(): string {
    const close = this.text.indexOf("'", this.pos + 1);
    if (close < 0) throw new TomlError(this.line, "unterminated string");
    const out = this.text.slice(this.pos + 1, close);
    this.pos = close + 1;
    return out;
  }

  private array(): TomlValue[] {
    const out: TomlValue[] = [];
    this.pos++;
    for (;;) {
      this.skipBlanks();
      if (this.text[this.pos] === "]") {
        this.pos++;
        return out;
      }
      out.push(this.value());
      this.skipBlanks();
      if (this.text[this.pos] === ",") this.pos++;
      else if (this.text[this.pos] !== "]") throw new TomlError(this.line, "expected ',' or ']'");
    }
  }

  private inlineTable(): TomlTable {
    const out: TomlTable = {};
    this.pos++;
    for (;;) {
      this.skipBlanks();
      if (this.text[this.pos] === "}") {
        this.pos++;
        return out;
      }
      const m = /^([A-Za-z0-9_-]+)\s*=/.exec(this.text.slice(this.pos));
      if (m === null) throw new TomlError(this.line, "bad inline table");
      this.pos += m[0].length;
      out[m[1] as string] = this.value();
      this.skipBlanks();
      if (this.text[this.pos] === ",") this.pos++;
      else if (this.text[this.pos] !== "}") throw new TomlError(this.line, "expected ',' or '}'");
    }
  }
}

function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === "object" && !Array.isArray(v);
}

/** HTTP basic credentials the CLI sends to a master or to agents. */
export interface BasicCredential {
  readonly principal: string;
  readonly secret: string;
}

/** What the CLI takes from a Mesos CLI TOML file. */
export interface MesosTomlConfig {
  /** `host:port`, or `zk://...` for a ZooKeeper group; undefined when the file names none. */
  readonly master?: string;
  /** Directories searched for `mesos-<name>` plugins (the `plugins` array). */
  readonly plugins: string[];
  /** `[master] principal` and `secret`: sent to the master. */
  readonly masterCredential?: BasicCredential;
  /** `[agent] principal` and `secret`: sent to agents (task exec/attach, sandboxes). */
  readonly agentCredential?: BasicCredential;
}

/**
 * The master a Mesos CLI TOML file names (`host:port`, or `zk://...` for a
 * ZooKeeper group), or undefined when it names none.
 */
export function masterFromMesosToml(text: string, path: string): string | undefined {
  return readMesosToml(text, path).master;
}

/** Reads a Mesos CLI TOML file: the master, plugin directories and credentials. */
export function readMesosToml(text: string, path: string): MesosTomlConfig {
  let doc: TomlTable;
  try {
    doc = parseTomlSubset(text);
  } catch (e) {
    if (e instanceof TomlError) {
      throw new CliError(`the CLI config ${path} is not valid TOML: line ${e.line}: ${e.message}`);
    }
    throw e;
  }
  const where = `the CLI config ${path}`;
  const agent = doc.agent;
  if (agent !== undefined && !isTable(agent))
    throw new CliError(`${where}: 'agent' must be a table`);
  return {
    master: masterOf(doc, where),
    plugins: pluginsOf(doc, where),
    masterCredential: isTable(doc.master) ? credentialOf(doc.master, "master", where) : undefined,
    agentCredential: agent === undefined ? undefined : credentialOf(agent, "agent", where),
  };
}

/**
 * `plugins = ["/dir", ...]`: every entry must exist, as the Mesos CLI
 * checks before running any command (a typo would otherwise hide a plugin).
 */
function pluginsOf(doc: TomlTable, where: string): string[] {
  const plugins = doc.plugins;
  if (plugins === undefined) return [];
  if (!Array.isArray(plugins) || !plugins.every((p) => typeof p === "string" && p !== "")) {
    throw new CliError(`${where}: 'plugins' must be a list of directories`);
  }
  for (const dir of plugins as string[]) {
    if (!existsSync(dir)) throw new CliError(`${where}: plugin directory ${dir} does not exist`);
  }
  return plugins as string[];
}

/** `principal` and `secret` of a table; both or neither (one alone would silently send nothing). */
function credentialOf(table: TomlTable, name: string, where: string): BasicCredential | undefined {
  const { principal, secret } = table;
  if (principal === undefined && secret === undefined) return undefined;
  if (typeof principal !== "string" || principal === "" || typeof secret !== "string") {
    throw new CliError(`${where}: [${name}] needs both 'principal' and 'secret' as strings`);
  }
  return { principal, secret };
}

function masterOf(doc: TomlTable, where: string): string | undefined {
  const master = doc.master;
  if (master === undefined) return undefined;
  if (!isTable(master)) throw new CliError(`${where}: 'master' must be a table`);
  const { address, zookeeper } = master;
  if ((address === undefined) === (zookeeper === undefined)) {
    throw new CliError(`${where}: [master] must hold either 'address' or 'zookeeper'`);
  }
  if (address !== undefined) {
    if (typeof address !== "string" || address.trim() === "") {
      throw new CliError(`${where}: master 'address' must be a non-empty string`);
    }
    return address.trim();
  }
  if (!isTable(zookeeper)) throw new CliError(`${where}: master 'zookeeper' must be a table`);
  const { addresses, path: zkPath } = zookeeper;
  if (
    !Array.isArray(addresses) ||
    addresses.length === 0 ||
    !addresses.every((a) => typeof a === "string" && a !== "")
  ) {
    throw new CliError(`${where}: master zookeeper 'addresses' must be a list of host:port`);
  }
  if (typeof zkPath !== "string" || !zkPath.startsWith("/") || zkPath.length < 2) {
    throw new CliError(`${where}: master zookeeper 'path' must be a znode path such as /mesos`);
  }
  return `zk://${addresses.join(",")}${zkPath}`;
}
