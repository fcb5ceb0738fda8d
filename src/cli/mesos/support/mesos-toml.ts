/**
 * Reads the Mesos CLI's own configuration file (TOML, by default
 * `~/.mesos/config.toml`) so an operator's existing file keeps working.
 * Only what the Mesos CLI itself reads is understood: `[master]` with
 * `address`, or `[master.zookeeper]` with `addresses` and `path`; other
 * tables (`[agent]`, `plugins`) are accepted and ignored. The TOML read is a
 * small subset: tables, dotted table names, `key = value` with strings,
 * integers, booleans, one-line arrays and one-line inline tables.
 */
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
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const content = stripComment(raw).trim();
    if (content === "") return;
    if (content.startsWith("[")) {
      const m = /^\[\s*([A-Za-z0-9_.-]+)\s*\]$/.exec(content);
      if (m === null) throw new TomlError(line, `bad table header '${content}'`);
      table = tableAt(root, (m[1] as string).split("."), line);
      return;
    }
    const eq = content.indexOf("=");
    if (eq <= 0) throw new TomlError(line, `expected 'key = value', got '${content}'`);
    const key = unquoteKey(content.slice(0, eq).trim(), line);
    const reader = new ValueReader(content.slice(eq + 1).trim(), line);
    const value = reader.value();
    reader.end();
    if (key in table) throw new TomlError(line, `'${key}' is set twice`);
    table[key] = value;
  });
  return root;
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

/**
 * The master a Mesos CLI TOML file names (`host:port`, or `zk://...` for a
 * ZooKeeper group), or undefined when it names none.
 */
export function masterFromMesosToml(text: string, path: string): string | undefined {
  let doc: TomlTable;
  try {
    doc = parseTomlSubset(text);
  } catch (e) {
    if (e instanceof TomlError) {
      throw new CliError(`the CLI config ${path} is not valid TOML: line ${e.line}: ${e.message}`);
    }
    throw e;
  }
  const master = doc.master;
  if (master === undefined) return undefined;
  const where = `the CLI config ${path}`;
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
