/** Form bodies of the operator endpoints. */

/**
 * A form body (`application/x-www-form-urlencoded`) decoded as libprocess
 * decodes one: pairs split on `&` or `;`, `+` is a space, a key without `=`
 * has the empty value, a repeated key keeps its last value, and a malformed
 * `%` escape is an error. The security layer and the handlers both read
 * bodies with this, so a request is applied with the fields it was
 * authorized for.
 */
export function decodeForm(
  body: string,
): { ok: true; value: Map<string, string> } | { ok: false; error: string } {
  const out = new Map<string, string>();
  for (const token of body.split(/[&;]/)) {
    if (token === "") continue;
    const eq = token.indexOf("=");
    const key = decodeFormComponent(eq < 0 ? token : token.slice(0, eq));
    if (typeof key !== "string") return { ok: false, error: key.error };
    const value = eq < 0 ? "" : decodeFormComponent(token.slice(eq + 1));
    if (typeof value !== "string") return { ok: false, error: value.error };
    out.set(key, value);
  }
  return { ok: true, value: out };
}

const HEX = /^[0-9a-fA-F]{2}$/;

function decodeFormComponent(text: string): string | { error: string } {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== "%") {
      for (const b of Buffer.from(c === "+" ? " " : c, "utf8")) bytes.push(b);
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!HEX.test(hex)) {
      return { error: `Malformed % escape in '${text}': '${text.slice(i, i + 3)}'` };
    }
    bytes.push(Number.parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString("utf8");
}
