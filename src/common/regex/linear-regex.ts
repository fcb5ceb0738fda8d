/**
 * Regular expressions in RE2 syntax, matched in linear time.
 *
 * Mesos evaluates frameworks' offer constraints (`text_matches`) with RE2,
 * whose matching time is linear in the input. JavaScript's RegExp
 * backtracks, so a framework could stall the master with a pattern such as
 * `(a+)+$`. This module parses the RE2 syntax frameworks use (literals,
 * `.`, classes with ranges, `\d\w\s`, POSIX `[[:alpha:]]`, groups,
 * `(?i)`-style flags, alternation, `* + ? {n,m}`, `^ $ \A \z \b \B`),
 * compiles it to a small instruction program and runs it as a Thompson NFA
 * (one pass, no backtracking). What RE2 refuses (backreferences,
 * lookarounds) is refused here too, with RE2's wording.
 *
 * `programSize` counts the compiled instructions; Mesos limits RE2's
 * `ProgramSize()` (`--offer_constraints_re2_max_program_size`), which counts
 * instructions the same way up to small constant differences.
 */

/** Inclusive code point ranges, sorted and merged. */
type Ranges = readonly (readonly [number, number])[];

type Node =
  | { t: "empty" }
  | { t: "set"; ranges: Ranges }
  | { t: "cat"; items: Node[] }
  | { t: "alt"; items: Node[] }
  | { t: "rep"; node: Node; min: number; max: number }
  | { t: "assert"; kind: AssertKind };

type AssertKind = "bot" | "eot" | "bol" | "eol" | "word" | "nonword";

type Inst =
  | { op: "set"; ranges: Ranges; next: number }
  | { op: "split"; a: number; b: number }
  | { op: "assert"; kind: AssertKind; next: number }
  | { op: "match" };

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
}

const MAX_REPEAT = 1000;
const MAX_CODE_POINT = 0x10ffff;

const DIGIT: Ranges = [[0x30, 0x39]];
const WORD: Ranges = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: Ranges = [
  [0x09, 0x0a],
  [0x0c, 0x0d],
  [0x20, 0x20],
];

const POSIX: Record<string, Ranges> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: DIGIT,
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: WORD,
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

function normalize(ranges: (readonly [number, number])[]): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function negate(ranges: Ranges): Ranges {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of ranges) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

/** Adds the other case of ASCII and simple one-to-one Unicode letters. */
function foldCase(ranges: Ranges): Ranges {
  const extra: [number, number][] = [];
  for (const [lo, hi] of ranges) {
    // Wide ranges: fold only the ASCII letters inside (enough for attribute texts).
    const end = hi - lo > 0x400 ? Math.min(hi, 0x7f) : hi;
    for (let c = lo; c <= end; c++) {
      const s = String.fromCodePoint(c);
      for (const other of [s.toLowerCase(), s.toUpperCase()]) {
        const cp = other.codePointAt(0);
        if (cp !== undefined && other.length === s.length && cp !== c) extra.push([cp, cp]);
      }
    }
  }
  return extra.length === 0 ? ranges : normalize([...ranges, ...extra]);
}

/** A syntax error, worded as RE2 words it. */
class RegexSyntaxError extends Error {}

class Parser {
  private pos = 0;

  constructor(private readonly src: string) {}

  parse(): Node {
    const node = this.alternation({ i: false, m: false, s: false });
    if (this.pos < this.src.length) throw new RegexSyntaxError(`unexpected ): ${this.src}`);
    return node;
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private alternation(flags: Flags): Node {
    const items = [this.concatenation(flags)];
    while (this.peek() === "|") {
      this.pos++;
      items.push(this.concatenation(flags));
    }
    return items.length === 1 ? (items[0] as Node) : { t: "alt", items };
  }

  private concatenation(flags: Flags): Node {
    const items: Node[] = [];
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === "|" || c === ")") break;
      if (c === "(" && this.src.startsWith("(?", this.pos) && this.flagGroupOnly(flags)) continue;
      const atom = this.atom(flags);
      items.push(this.repetition(atom));
    }
    if (items.length === 0) return { t: "empty" };
    return items.length === 1 ? (items[0] as Node) : { t: "cat", items };
  }

  /** `(?flags)` changes the flags of the rest of the group; true when it was one. */
  private flagGroupOnly(flags: Flags): boolean {
    const m = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(this.src.slice(this.pos));
    if (m === null || (m[1] === "" && (m[2] ?? "") === "")) return false;
    this.applyFlags(flags, m[1] ?? "", m[2] ?? "");
    this.pos += m[0].length;
    return true;
  }

  private applyFlags(flags: Flags, on: string, off: string): void {
    for (const f of on) if (f !== "U") flags[f as keyof Flags] = true;
    for (const f of off) if (f !== "U") flags[f as keyof Flags] = false;
  }

  private repetition(atom: Node): Node {
    let node = atom;
    let repeated = false;
    for (;;) {
      const c = this.peek();
      let min: number;
      let max: number;
      const start = this.pos;
      if (c === "*" || c === "+" || c === "?") {
        this.pos++;
        [min, max] = c === "*" ? [0, Infinity] : c === "+" ? [1, Infinity] : [0, 1];
      } else if (c === "{") {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
        if (m === null) return node; // A literal `{`, as in RE2.
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
        if (min > MAX_REPEAT || (max !== Infinity && (max > MAX_REPEAT || max < min))) {
          throw new RegexSyntaxError(`invalid repeat count: ${m[0]}`);
        }
        this.pos += m[0].length;
      } else {
        return node;
      }
      if (repeated) {
        throw new RegexSyntaxError(
          `bad repetition operator: ${this.src.slice(start - 1, this.pos)}`,
        );
      }
      if (atom.t === "empty") {
        throw new RegexSyntaxError(
          `missing argument to repetition operator: ${this.src.slice(start, this.pos)}`,
        );
      }
      if (this.peek() === "?") this.pos++; // Non-greedy: the same set of matches.
      node = { t: "rep", node, min, max };
      repeated = true;
    }
  }

  private atom(flags: Flags): Node {
    const c = this.peek() as string;
    if (c === "*" || c === "+" || c === "?") {
      throw new RegexSyntaxError(`missing argument to repetition operator: ${c}`);
    }
    if (c === "(") return this.group(flags);
    if (c === "[") return this.charClass(flags);
    this.pos++;
    if (c === ".") {
      const ranges: Ranges = flags.s ? [[0, MAX_CODE_POINT]] : negate([[0x0a, 0x0a]]);
      return { t: "set", ranges };
    }
    if (c === "^") return { t: "assert", kind: flags.m ? "bol" : "bot" };
    if (c === "$") return { t: "assert", kind: flags.m ? "eol" : "eot" };
    if (c === "\\") {
      const escaped = this.escape(false);
      if ("kind" in escaped) return escaped;
      return { t: "set", ranges: flags.i ? foldCase(escaped.ranges) : escaped.ranges };
    }
    const cp = this.src.codePointAt(this.pos - 1) as number;
    if (cp > 0xffff) this.pos++;
    const ranges: Ranges = [[cp, cp]];
    return { t: "set", ranges: flags.i ? foldCase(ranges) : ranges };
  }

  private group(outer: Flags): Node {
    const rest = this.src.slice(this.pos);
    const flags = { ...outer };
    if (rest.startsWith("(?")) {
      const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      const flagged = /^\(\?([imsU]*)(?:-([imsU]*))?:/.exec(rest);
      if (named !== null) {
        this.pos += named[0].length;
      } else if (flagged !== null) {
        this.applyFlags(flags, flagged[1] ?? "", flagged[2] ?? "");
        this.pos += flagged[0].length;
      } else {
        const op = /^\(\?(<[=!]|[=!]|P=|.)?/.exec(rest)?.[0] ?? "(?";
        throw new RegexSyntaxError(`invalid or unsupported Perl syntax: ${op}`);
      }
    } else {
      this.pos++;
    }
    const node = this.alternation(flags);
    if (this.peek() !== ")") throw new RegexSyntaxError(`missing ): ${this.src}`);
    this.pos++;
    return node;
  }

  /** After a backslash: a set of characters or an assertion. */
  private escape(inClass: boolean): { ranges: Ranges } | { t: "assert"; kind: AssertKind } {
    const c = this.peek();
    if (c === undefined) throw new RegexSyntaxError("trailing \\");
    this.pos++;
    switch (c) {
      case "d":
        return { ranges: DIGIT };
      case "D":
        return { ranges: negate(DIGIT) };
      case "w":
        return { ranges: WORD };
      case "W":
        return { ranges: negate(WORD) };
      case "s":
        return { ranges: SPACE };
      case "S":
        return { ranges: negate(SPACE) };
      case "t":
        return { ranges: [[0x09, 0x09]] };
      case "n":
        return { ranges: [[0x0a, 0x0a]] };
      case "r":
        return { ranges: [[0x0d, 0x0d]] };
      case "f":
        return { ranges: [[0x0c, 0x0c]] };
      case "v":
        return { ranges: [[0x0b, 0x0b]] };
      case "a":
        return { ranges: [[0x07, 0x07]] };
      case "x": {
        const m = /^(?:\{([0-9A-Fa-f]{1,6})\}|([0-9A-Fa-f]{2}))/.exec(this.src.slice(this.pos));
        if (m === null) throw new RegexSyntaxError(`invalid escape sequence: \\x`);
        this.pos += m[0].length;
        const cp = Number.parseInt((m[1] ?? m[2]) as string, 16);
        if (cp > MAX_CODE_POINT) throw new RegexSyntaxError(`invalid escape sequence: \\x`);
        return { ranges: [[cp, cp]] };
      }
    }
    if (!inClass) {
      if (c === "A") return { t: "assert", kind: "bot" };
      if (c === "z") return { t: "assert", kind: "eot" };
      if (c === "b") return { t: "assert", kind: "word" };
      if (c === "B") return { t: "assert", kind: "nonword" };
    }
    if (/[0-9A-Za-z]/.test(c)) throw new RegexSyntaxError(`invalid escape sequence: \\${c}`);
    const cp = c.codePointAt(0) as number;
    return { ranges: [[cp, cp]] };
  }

  private charClass(flags: Flags): Node {
    const start = this.pos;
    this.pos++; // [
    let negated = false;
    if (this.peek() === "^") {
      negated = true;
      this.pos++;
    }
    const ranges: (readonly [number, number])[] = [];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new RegexSyntaxError(`missing ]: ${this.src.slice(start)}`);
      if (c === "]" && !first) {
        this.pos++;
        break;
      }
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.src.slice(this.pos));
      if (posix !== null) {
        const cls = POSIX[posix[2] as string];
        if (cls === undefined) {
          throw new RegexSyntaxError(`invalid character class range: ${posix[0]}`);
        }
        ranges.push(...(posix[1] === "^" ? negate(cls) : cls));
        this.pos += posix[0].length;
        continue;
      }
      const rangeStart = this.pos;
      const lo = this.classChar();
      if (typeof lo !== "number") {
        ranges.push(...lo);
        continue;
      }
      if (this.peek() === "-" && this.src[this.pos + 1] !== "]" && this.pos + 1 < this.src.length) {
        this.pos++;
        const hi = this.classChar();
        if (typeof hi !== "number" || hi < lo) {
          throw new RegexSyntaxError(
            `invalid character class range: ${this.src.slice(rangeStart, this.pos)}`,
          );
        }
        ranges.push([lo, hi]);
      } else {
        ranges.push([lo, lo]);
      }
    }
    let set = normalize(ranges);
    if (flags.i) set = foldCase(set);
    return { t: "set", ranges: negated ? negate(set) : set };
  }

  /** One character of a class (a code point) or an escaped class such as `\d`. */
  private classChar(): number | Ranges {
    const c = this.peek() as string;
    if (c === "\\") {
      this.pos++;
      const e = this.escape(true);
      if ("kind" in e) throw new RegexSyntaxError("invalid escape sequence in class");
      const only = e.ranges[0];
      return e.ranges.length === 1 && only !== undefined && only[0] === only[1]
        ? only[0]
        : e.ranges;
    }
    const cp = this.src.codePointAt(this.pos) as number;
    this.pos += cp > 0xffff ? 2 : 1;
    return cp;
  }
}

class Compiler {
  readonly prog: Inst[] = [];

  constructor(private readonly limit: number) {}

  private emit(inst: Inst): number {
    if (this.prog.length >= this.limit)
      throw new RegexSyntaxError("pattern too large - compile failed");
    this.prog.push(inst);
    return this.prog.length - 1;
  }

  /** Compiles `node` so that it continues at `next`; returns its entry. */
  compile(node: Node, next: number): number {
    switch (node.t) {
      case "empty":
        return next;
      case "set":
        return this.emit({ op: "set", ranges: node.ranges, next });
      case "assert":
        return this.emit({ op: "assert", kind: node.kind, next });
      case "cat": {
        let entry = next;
        for (let k = node.items.length - 1; k >= 0; k--) {
          entry = this.compile(node.items[k] as Node, entry);
        }
        return entry;
      }
      case "alt": {
        let entry = this.compile(node.items[node.items.length - 1] as Node, next);
        for (let k = node.items.length - 2; k >= 0; k--) {
          const a = this.compile(node.items[k] as Node, next);
          entry = this.emit({ op: "split", a, b: entry });
        }
        return entry;
      }
      case "rep": {
        let entry = next;
        if (node.max === Infinity) {
          // x*: a loop head that either enters x (which jumps back) or leaves.
          const head = this.emit({ op: "split", a: -1, b: next });
          const body = this.compile(node.node, head);
          (this.prog[head] as { a: number }).a = body;
          entry = head;
        } else {
          // Optional copies, each of which may be skipped straight to what follows them all.
          for (let k = node.max - node.min; k > 0; k--) {
            const body = this.compile(node.node, entry);
            entry = this.emit({ op: "split", a: body, b: next });
          }
        }
        for (let k = 0; k < node.min; k++) entry = this.compile(node.node, entry);
        return entry;
      }
    }
  }
}

function isWordChar(cp: number | undefined): boolean {
  return (
    cp !== undefined &&
    ((cp >= 0x30 && cp <= 0x39) ||
      (cp >= 0x41 && cp <= 0x5a) ||
      cp === 0x5f ||
      (cp >= 0x61 && cp <= 0x7a))
  );
}

function inRanges(ranges: Ranges, cp: number): boolean {
  for (const [lo, hi] of ranges) {
    if (cp < lo) return false;
    if (cp <= hi) return true;
  }
  return false;
}

/** A compiled pattern. */
export class LinearRegex {
  /** Instructions in the compiled program (compare RE2's `ProgramSize()`). */
  readonly programSize: number;

  constructor(
    readonly source: string,
    private readonly prog: readonly Inst[],
    private readonly start: number,
  ) {
    this.programSize = prog.length;
  }

  /** Whether the whole of `text` matches (RE2's `FullMatch`). */
  fullMatch(text: string): boolean {
    const chars = Array.from(text, (c) => c.codePointAt(0) as number);
    const n = this.prog.length;
    let current: number[] = [];
    let next: number[] = [];
    const mark = new Int32Array(n).fill(-1);
    let generation = 0;
    const add = (list: number[], pc: number, at: number): void => {
      // Epsilon closure by an explicit stack: no recursion depth limit.
      const stack = [pc];
      while (stack.length > 0) {
        const p = stack.pop() as number;
        if (mark[p] === generation) continue;
        mark[p] = generation;
        const inst = this.prog[p] as Inst;
        switch (inst.op) {
          case "split":
            stack.push(inst.b, inst.a);
            break;
          case "assert":
            if (assertHolds(inst.kind, chars, at)) stack.push(inst.next);
            break;
          default:
            list.push(p);
        }
      }
    };
    add(current, this.start, 0);
    for (let at = 0; at < chars.length; at++) {
      const cp = chars[at] as number;
      generation++;
      next.length = 0;
      for (const pc of current) {
        const inst = this.prog[pc] as Inst;
        if (inst.op === "set" && inRanges(inst.ranges, cp)) add(next, inst.next, at + 1);
      }
      if (next.length === 0) return false;
      [current, next] = [next, current];
    }
    return current.some((pc) => (this.prog[pc] as Inst).op === "match");
  }
}

function assertHolds(kind: AssertKind, chars: readonly number[], at: number): boolean {
  switch (kind) {
    case "bot":
      return at === 0;
    case "eot":
      return at === chars.length;
    case "bol":
      return at === 0 || chars[at - 1] === 0x0a;
    case "eol":
      return at === chars.length || chars[at] === 0x0a;
    case "word":
    case "nonword": {
      const boundary = isWordChar(chars[at - 1]) !== isWordChar(chars[at]);
      return kind === "word" ? boundary : !boundary;
    }
  }
}

/** Compiles `pattern` (RE2 syntax), or says why it is not valid. */
export function compileRegex(
  pattern: string,
  options: { maxInstructions?: number } = {},
): { ok: true; regex: LinearRegex } | { ok: false; error: string } {
  try {
    const ast = new Parser(pattern).parse();
    const compiler = new Compiler(options.maxInstructions ?? 100_000);
    const match = compiler.prog.length;
    compiler.prog.push({ op: "match" });
    const start = compiler.compile(ast, match);
    return { ok: true, regex: new LinearRegex(pattern, compiler.prog, start) };
  } catch (e) {
    if (e instanceof RegexSyntaxError) return { ok: false, error: e.message };
    throw e;
  }
}
