/**
 * JSONP reads (`?jsonp=callback`), how the UI reaches agents on other ports
 * without CORS, as the Mesos web UI does. A 404 and an unreachable agent
 * look the same to a script tag: both reject with `JsonpError`.
 */

export class JsonpError extends Error {}

let counter = 0;

/** Loads `url` (absolute or protocol-relative) with a `jsonp` callback; resolves with its value. */
export function jsonp(url: string, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    counter += 1;
    const name = `__mesosJsonp${counter}`;
    const script = document.createElement("script");
    const registry = window as unknown as Record<string, unknown>;
    let done = false;
    const finish = (): void => {
      done = true;
      window.clearTimeout(timer);
      script.remove();
      // A late answer after a timeout must not throw a ReferenceError.
      registry[name] = () => undefined;
    };
    const timer = window.setTimeout(() => {
      if (done) return;
      finish();
      reject(new JsonpError(`no answer from ${url} within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    registry[name] = (value: unknown) => {
      if (done) return;
      finish();
      resolve(value);
    };
    script.onerror = () => {
      if (done) return;
      finish();
      reject(new JsonpError(`could not load ${url.split("?")[0]}`));
    };
    script.src = `${url}${url.includes("?") ? "&" : "?"}jsonp=${name}`;
    document.head.appendChild(script);
  });
}
