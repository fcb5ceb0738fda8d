/**
 * Flag declarations: one typed `FlagSpec` per flag, built with the `flag.*`
 * helpers. A declaration says how to parse and print the value, its default
 * (or that it is required, or optional with no default), a deprecated alias,
 * a validator, and the help text shown by `--help` and in the docs.
 *
 * The value type a flag loads as follows from its declaration:
 * a flag with a default or `required: true` is `T`; any other is `T | undefined`.
 */
import { Bytes } from "./bytes.js";
import { Duration, type Parsed } from "./duration.js";

/** What a flag's value is, as Mesos' flag types are. */
export type FlagKind =
  | "bool"
  | "int"
  | "uint"
  | "port"
  | "double"
  | "string"
  | "path"
  | "duration"
  | "bytes"
  | "json"
  | "list"
  | "uint-list"
  | "path-or-value";

/** Any JSON value, as `JSON.parse` returns it. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** A value that may have been read from a file (`file:///path`); prints as the path. */
export interface PathOrValue {
  readonly value: string;
  readonly path?: string;
}

/** Services a parser may need: reading files, reporting deprecation warnings. */
export interface ParseContext {
  /** Returns the file's text, or throws an Error whose message says why not. */
  readFile(path: string): string;
  warn(message: string): void;
}

/** One flag's declaration. `Present` is true when the loaded value is never undefined. */
export interface FlagSpec<T, Present extends boolean = boolean> {
  readonly kind: FlagKind;
  /** Help text, our own words; may hold `\n` for an example block. */
  readonly help: string;
  /** Deprecated second name that loads the same flag (with a warning). */
  readonly alias?: string;
  readonly required: boolean;
  /** The default, computed when flags are loaded (some depend on the machine). */
  readonly defaultValue?: () => T;
  /** What docs show as the default when it depends on the machine. */
  readonly docDefault?: string;
  /** Accepted and documented, but the feature is not built in mesos-ts yet. */
  readonly notYet: boolean;
  /** An environment variable used when neither the command line nor MESOS_* set the flag. */
  readonly envFallback?: string;
  /** `content`: `file://` values are replaced by the file's text; `never`: taken literally. */
  readonly fetch: "content" | "never" | "self";
  parse(text: string, ctx: ParseContext): Parsed<T>;
  stringify(value: T): string;
  validate?(value: T): string | undefined;
  /** Phantom marker for the value type; never set. */
  readonly present?: Present;
}

/**
 * A flag declaration of any type (what flag tables hold). Method syntax on
 * `FlagSpec` keeps every `FlagSpec<T>` assignable to this.
 */
export type AnyFlagSpec = FlagSpec<unknown, boolean>;

/** The table of flags of one program, keyed by flag name. */
export type FlagSpecs = Record<string, AnyFlagSpec>;

/** The typed values a table of flags loads into. */
export type FlagValues<S extends FlagSpecs> = {
  -readonly [K in keyof S]: S[K] extends FlagSpec<infer T, true> ? T : ValueOf<S[K]> | undefined;
};

type ValueOf<F> = F extends FlagSpec<infer T, boolean> ? T : never;

/** Options every `flag.*` helper takes; `D` is what a default may be written as. */
export interface FlagOptions<T, D = T> {
  help: string;
  default?: D | (() => T);
  required?: boolean;
  alias?: string;
  validate?: (value: T) => string | undefined;
  notYet?: boolean;
  docDefault?: string;
  envFallback?: string;
}

type PresentOf<O> = O extends { default: unknown }
  ? true
  : O extends { required: true }
    ? true
    : false;

interface KindImpl<T, D> {
  kind: FlagKind;
  fetch?: "content" | "never" | "self";
  parse(text: string, ctx: ParseContext): Parsed<T>;
  stringify(value: T): string;
  coerce(d: D): T;
}

function builder<T, D = T>(impl: KindImpl<T, D>) {
  return <O extends FlagOptions<T, D>>(options: O): FlagSpec<T, PresentOf<O>> => {
    const d = options.default;
    let defaultValue: (() => T) | undefined;
    if (typeof d === "function") {
      defaultValue = d as () => T;
    } else if (d !== undefined) {
      const fixed = impl.coerce(d as D);
      defaultValue = () => fixed;
    }
    const spec: FlagSpec<T, PresentOf<O>> = {
      kind: impl.kind,
      help: options.help,
      required: options.required === true,
      notYet: options.notYet === true,
      fetch: impl.fetch ?? "content",
      parse: impl.parse,
      stringify: impl.stringify,
      ...(options.alias !== undefined ? { alias: options.alias } : {}),
      ...(defaultValue !== undefined ? { defaultValue } : {}),
      ...(options.docDefault !== undefined ? { docDefault: options.docDefault } : {}),
      ...(options.envFallback !== undefined ? { envFallback: options.envFallback } : {}),
      ...(options.validate !== undefined ? { validate: options.validate } : {}),
    };
    return spec;
  };
}

const CONVERT_ERROR = "Failed to convert into required type";

function parseInteger(text: string, min: number, max: number): Parsed<number> {
  // C++ stream extraction: optional leading blanks and sign, digits, then the end.
  if (!/^\s*[+-]?\d+$/.test(text)) return { ok: false, error: CONVERT_ERROR };
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) return { ok: false, error: CONVERT_ERROR };
  return { ok: true, value: n };
}

const identity = <T>(v: T): T => v;

function parseJson(text: string, ctx: ParseContext): Parsed<JsonValue> {
  let source = text;
  // Mesos still takes a bare absolute path for JSON flags, with a warning.
  if (text.startsWith("/")) {
    ctx.warn(
      "Giving a JSON flag as a bare absolute path is deprecated; write 'file://' before the path",
    );
    try {
      source = ctx.readFile(text);
    } catch (e) {
      return { ok: false, error: `Error reading file '${text}': ${(e as Error).message}` };
    }
  }
  try {
    return { ok: true, value: JSON.parse(source) as JsonValue };
  } catch (e) {
    return { ok: false, error: `Failed to parse JSON: ${(e as Error).message}` };
  }
}

/** The `flag.*` helpers, one per value type. */
export const flag = {
  /** `--name`, `--no-name`, `--name=true|false|1|0`. */
  bool: builder<boolean>({
    kind: "bool",
    parse: (text) =>
      text === "true" || text === "1"
        ? { ok: true, value: true }
        : text === "false" || text === "0"
          ? { ok: true, value: false }
          : { ok: false, error: "Expecting a boolean (e.g., true or false)" },
    stringify: (v) => (v ? "true" : "false"),
    coerce: identity,
  }),
  /** A signed 32-bit integer. */
  int: builder<number>({
    kind: "int",
    parse: (text) => parseInteger(text, -(2 ** 31), 2 ** 31 - 1),
    stringify: String,
    coerce: identity,
  }),
  /** A non-negative integer (Mesos' `size_t` flags). */
  uint: builder<number>({
    kind: "uint",
    parse: (text) => parseInteger(text, 0, Number.MAX_SAFE_INTEGER),
    stringify: String,
    coerce: identity,
  }),
  /** A TCP port, 0..65535. */
  port: builder<number>({
    kind: "port",
    parse: (text) => parseInteger(text, 0, 65535),
    stringify: String,
    coerce: identity,
  }),
  /** A floating-point number. */
  double: builder<number>({
    kind: "double",
    parse: (text) =>
      /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)
        ? { ok: true, value: Number(text.trim()) }
        : { ok: false, error: CONVERT_ERROR },
    // C++ streams print doubles with 6 significant digits by default.
    stringify: (v) => String(Number(v.toPrecision(6))),
    coerce: identity,
  }),
  /** Free text. */
  string: builder<string>({
    kind: "string",
    parse: (text) => ({ ok: true, value: text }),
    stringify: identity,
    coerce: identity,
  }),
  /**
   * A filesystem path, as Mesos' Path flags: the file is not read, and a
   * leading `file://` is dropped (`file:///etc/x` is `/etc/x`, also in `/flags`).
   */
  path: builder<string>({
    kind: "path",
    fetch: "never",
    parse: (text) => ({
      ok: true,
      value: text.startsWith("file://") ? text.slice("file://".length) : text,
    }),
    stringify: identity,
    coerce: identity,
  }),
  /** A duration such as `500ms`, `1secs`, `10mins`, `1.5hrs`, `2weeks`. */
  duration: builder<Duration, Duration | string>({
    kind: "duration",
    parse: (text) => Duration.parse(text),
    stringify: (v) => v.toString(),
    coerce: (d) => (typeof d === "string" ? Duration.of(d) : d),
  }),
  /** A byte size such as `512MB`, `4KB`, `2GB`. */
  bytes: builder<Bytes, Bytes | string>({
    kind: "bytes",
    parse: (text) => Bytes.parse(text),
    stringify: (v) => v.toString(),
    coerce: (d) => {
      if (typeof d !== "string") return d;
      const r = Bytes.parse(d);
      if (!r.ok) throw new Error(`bad bytes literal '${d}': ${r.error}`);
      return r.value;
    },
  }),
  /** Inline JSON, `file:///path` holding JSON, or (deprecated) a bare absolute path. */
  json: builder<JsonValue>({
    kind: "json",
    parse: parseJson,
    stringify: (v) => JSON.stringify(v),
    coerce: identity,
  }),
  /** A comma-separated set of names; empty items are skipped, repeats are an error. */
  list: builder<string[]>({
    kind: "list",
    parse: (text) => {
      const out: string[] = [];
      for (const token of text.split(",")) {
        if (token === "") continue;
        if (out.includes(token)) return { ok: false, error: `Duplicate token '${token}'` };
        out.push(token);
      }
      return { ok: true, value: out };
    },
    stringify: (v) => v.join(","),
    coerce: identity,
  }),
  /** A comma-separated list of non-negative integers. */
  uintList: builder<number[]>({
    kind: "uint-list",
    parse: (text) => {
      const out: number[] = [];
      for (const token of text.split(",")) {
        if (token === "") continue;
        const n = parseInteger(token, 0, 2 ** 32 - 1);
        if (!n.ok) {
          return {
            ok: false,
            error: `Failed to numify '${token}': Failed to convert '${token}' to number`,
          };
        }
        out.push(n.value);
      }
      return { ok: true, value: out };
    },
    stringify: (v) => v.join(","),
    coerce: identity,
  }),
  /**
   * A value that may be secret: `file:///path` is read, but the flag prints
   * as the path so `/flags` does not leak the content (`--zk`, `--master`).
   */
  pathOrValue: builder<PathOrValue, PathOrValue | string>({
    kind: "path-or-value",
    fetch: "self",
    parse: (text, ctx) => {
      if (!text.startsWith("file://")) return { ok: true, value: { value: text } };
      const path = text.slice("file://".length);
      try {
        return { ok: true, value: { value: trimFileText(ctx.readFile(path)), path } };
      } catch (e) {
        return { ok: false, error: `Error reading file '${path}': ${(e as Error).message}` };
      }
    },
    stringify: (v) => v.path ?? v.value,
    coerce: (d) => (typeof d === "string" ? { value: d } : d),
  }),
};

/**
 * Text read for a `file://` value loses its trailing line breaks, so a file
 * written with `echo` works for numbers and names. (stout passes the text on
 * untouched and leaves trimming to each consumer; we trim once, here.)
 */
export function trimFileText(text: string): string {
  return text.replace(/[\r\n]+$/, "");
}
