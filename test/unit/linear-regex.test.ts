import assert from "node:assert/strict";
import { test } from "node:test";
import { compileRegex } from "../../src/common/regex/linear-regex.js";

function matches(pattern: string, text: string): boolean {
  const compiled = compileRegex(pattern);
  assert.ok(compiled.ok, `${pattern}: ${compiled.ok ? "" : compiled.error}`);
  return compiled.regex.fullMatch(text);
}

test("linear regex: RE2 syntax, whole-string matches", () => {
  const cases: [string, string, boolean][] = [
    ["abc", "abc", true],
    ["abc", "abcd", false],
    ["a.c", "abc", true],
    ["a.c", "a\nc", false],
    ["(?s)a.c", "a\nc", true],
    ["rack-[0-9]+", "rack-12", true],
    ["rack-[0-9]+", "rack-", false],
    ["rack-(1|2)", "rack-2", true],
    ["rack-(1|2)", "rack-3", false],
    ["(?i)HOST", "host", true],
    ["host", "HOST", false],
    ["(?i:a)b", "Ab", true],
    ["(?i:a)b", "AB", false],
    ["[^a-c]x", "dx", true],
    ["[^a-c]x", "ax", false],
    ["a{2,3}", "aa", true],
    ["a{2,3}", "aaaa", false],
    ["a{2}", "aa", true],
    ["a{2,}", "aaaaa", true],
    ["a{2,}", "a", false],
    ["a{0,2}b", "b", true],
    ["a{1,2}?b", "ab", true],
    ["x{", "x{", true],
    ["\\d+\\.\\d+", "1.25", true],
    ["[[:alpha:]]+", "abc", true],
    ["[[:alpha:]]+", "ab1", false],
    ["[\\d\\s]+", "1 2", true],
    ["\\bfoo\\b", "foo", true],
    ["a\\Bb", "ab", true],
    ["x*", "", true],
    ["(?:ab)*c", "ababc", true],
    ["(?P<n>a)b", "ab", true],
    ["(?<n>a)b", "ab", true],
    ["a|b|c", "c", true],
    ["^a$", "a", true],
    ["\\Aa\\z", "a", true],
    ["(?m)a$\\n^b", "a\nb", true],
    ["[a-]", "-", true],
    ["[]a]", "]", true],
    ["é", "é", true],
    ["(?i)É", "é", true],
    ["\\x41\\x{42}", "AB", true],
    [".", "😀", true],
    ["(a*)*", "aaa", true],
    ["(|a)b", "ab", true],
  ];
  for (const [pattern, text, want] of cases) {
    assert.equal(matches(pattern, text), want, `${pattern} on ${JSON.stringify(text)}`);
  }
});

test("linear regex: what RE2 refuses is refused, with RE2's wording", () => {
  const refused: [string, RegExp][] = [
    ["(a", /^missing \): \(a$/],
    ["a)", /^unexpected \): a\)$/],
    ["*a", /^missing argument to repetition operator: \*$/],
    ["a**", /^bad repetition operator: \*\*$/],
    ["(?=a)", /^invalid or unsupported Perl syntax: \(\?=$/],
    ["(?!a)", /^invalid or unsupported Perl syntax: \(\?!$/],
    ["(?<=a)b", /^invalid or unsupported Perl syntax: \(\?<=$/],
    ["(a)\\1", /^invalid escape sequence: \\1$/],
    ["[z-a]", /^invalid character class range: z-a$/],
    ["a{1001}", /^invalid repeat count: \{1001\}$/],
    ["[abc", /^missing \]: \[abc$/],
    ["\\q", /^invalid escape sequence: \\q$/],
  ];
  for (const [pattern, error] of refused) {
    const compiled = compileRegex(pattern);
    assert.equal(compiled.ok, false, pattern);
    if (!compiled.ok) assert.match(compiled.error, error, pattern);
  }
});

test("linear regex: patterns that make a backtracking engine explode still answer at once", () => {
  for (const pattern of ["(a+)+$", "(a|aa)*b", "(a*)*b", "(.*a){12}"]) {
    const compiled = compileRegex(pattern);
    assert.ok(compiled.ok, pattern);
    // 2^40 paths for a backtracking engine; one pass here.
    assert.equal(compiled.regex.fullMatch(`${"a".repeat(40)}!`), false, pattern);
  }
});

test("linear regex: the program size grows with the pattern and is bounded on request", () => {
  const small = compileRegex("rack-[0-9]+");
  const large = compileRegex("(rack|row|zone)-[0-9]{1,3}-(a|b|c|d)");
  assert.ok(small.ok && large.ok);
  assert.ok(small.regex.programSize < large.regex.programSize);
  assert.deepEqual(compileRegex("a{1000}", { maxInstructions: 100 }), {
    ok: false,
    error: "pattern too large - compile failed",
  });
});
