/** A test's own HTTP server (a file server, a health endpoint) on a free loopback port. */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Starts `server` on a free port of 127.0.0.1; its base URL (`http://127.0.0.1:<port>`). */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes `server`; resolves once it stopped (its open connections ended). */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((r) => server.close(() => r()));
}
