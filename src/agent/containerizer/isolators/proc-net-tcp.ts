/**
 * Which TCP ports the processes of a container listen on, from /proc:
 * `/proc/net/tcp` and `/proc/net/tcp6` map the inode of every socket in
 * LISTEN state to its local port (in the agent's network namespace), and
 * `/proc/<pid>/fd` links name the socket inodes a process holds.
 */
import { readdir, readFile, readlink } from "node:fs/promises";

/** The `st` column of a socket in LISTEN state (TCP_LISTEN). */
const TCP_LISTEN = "0A";

/**
 * Listening sockets in the text of `/proc/net/tcp` or `/proc/net/tcp6`, as
 * socket inode -> local port. Lines that do not parse (the header, a torn
 * read) are skipped; sockets without an inode (0) are left out.
 */
export function parseListeningSockets(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split("\n")) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || !/^\d+:$/.test(fields[0] ?? "")) continue;
    if (fields[3] !== TCP_LISTEN) continue;
    const local = /^[0-9A-Fa-f]+:([0-9A-Fa-f]{4})$/.exec(fields[1] ?? "");
    const inode = Number(fields[9]);
    if (local?.[1] === undefined || !Number.isInteger(inode) || inode <= 0) continue;
    out.set(inode, Number.parseInt(local[1], 16));
  }
  return out;
}

/** The inode of a `/proc/<pid>/fd/<n>` link target `socket:[<inode>]`, if it is a socket. */
export function socketInodeOfLink(target: string): number | undefined {
  const match = /^socket:\[(\d+)\]$/.exec(target);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** Every listening TCP socket (IPv4 and IPv6) visible to the agent, as inode -> port. */
export async function readListeningSockets(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = await readFile(file, "latin1");
    } catch {
      // No IPv6 (or no /proc): nothing listens there.
      continue;
    }
    for (const [inode, port] of parseListeningSockets(text)) out.set(inode, port);
  }
  return out;
}

/**
 * The socket inodes `pid` holds open, or undefined when its fds cannot be
 * read (it ended, or belongs to a user the agent may not look at).
 */
export async function readProcessSocketInodes(pid: number): Promise<number[] | undefined> {
  const dir = `/proc/${pid}/fd`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const inodes: number[] = [];
  await Promise.all(
    names.map(async (name) => {
      try {
        const inode = socketInodeOfLink(await readlink(`${dir}/${name}`));
        if (inode !== undefined) inodes.push(inode);
      } catch {
        // The fd was closed meanwhile.
      }
    }),
  );
  return inodes;
}

/** The ports `pids` listen on, given the host's listening sockets. */
export async function listeningPortsOf(
  pids: readonly number[],
  listening: ReadonlyMap<number, number>,
): Promise<number[]> {
  const ports = new Set<number>();
  await Promise.all(
    pids.map(async (pid) => {
      for (const inode of (await readProcessSocketInodes(pid)) ?? []) {
        const port = listening.get(inode);
        if (port !== undefined) ports.add(port);
      }
    }),
  );
  return [...ports].sort((a, b) => a - b);
}
