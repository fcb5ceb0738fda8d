/**
 * A reason shown to a user stays one line even when it quotes their input:
 * control characters (newlines, NUL, escape sequences) are written as JSON
 * escapes (`\n`, `\u0000`), so a log line or an HTTP error body cannot be
 * split or forged by a value sent to us. A final newline is kept: some of
 * Mesos' answers end with one.
 */
export function oneLine(text: string): string {
  const ended = text.endsWith("\n");
  const body = ended ? text.slice(0, -1) : text;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters escaped
  const escaped = body.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
  return ended ? `${escaped}\n` : escaped;
}
