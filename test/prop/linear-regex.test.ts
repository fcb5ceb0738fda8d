import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { compileRegex } from "../../src/common/regex/linear-regex.js";

/** Patterns both RE2 and JavaScript read the same way (no backtracking blow-up at these sizes). */
const pattern: fc.Arbitrary<string> = fc.letrec<{ re: string; atom: string }>((tie) => ({
  atom: fc.oneof(
    fc.constantFrom("a", "b", ".", "[ab]", "[^a]", "\\d", "x"),
    tie("re").map((r) => `(${r})`),
    tie("re").map((r) => `(?:${r})`),
  ),
  re: fc.oneof(
    { depthSize: "small" },
    tie("atom"),
    fc.tuple(tie("atom"), fc.constantFrom("*", "+", "?", "{1,2}", "{2}")).map(([a, q]) => a + q),
    fc.tuple(tie("re"), tie("re")).map(([a, b]) => a + b),
    fc.tuple(tie("re"), tie("re")).map(([a, b]) => `${a}|${b}`),
  ),
})).re;

test("linear regex: full matches agree with JavaScript's RegExp on the syntax both share", () => {
  fc.assert(
    fc.property(pattern, fc.stringMatching(/^[abx1\n]{0,8}$/), (p, text) => {
      const compiled = compileRegex(p);
      assert.ok(compiled.ok, p);
      const js = new RegExp(`^(?:${p})$`, "u");
      assert.equal(
        compiled.regex.fullMatch(text),
        js.test(text),
        `${p} on ${JSON.stringify(text)}`,
      );
    }),
    { numRuns: 500 },
  );
});
