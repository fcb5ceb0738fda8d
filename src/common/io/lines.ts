/**
 * Line-at-a-time reading of the text pipes between the agent, its launcher
 * helper and executor hosts (one message per `\n`-terminated line).
 */

/**
 * Calls `onLine` with each complete line `stream` delivers, without its
 * `\n`; a trailing piece with no newline yet waits for the rest.
 */
export function onLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      onLine(line);
      newline = buffered.indexOf("\n");
    }
  });
}
