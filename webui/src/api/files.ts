/**
 * Where files are read from: the master's `/files/*` (its own log) or an
 * agent's (sandboxes, the agent log). Same shapes either way: `/files/browse`
 * lists `{path, nlink, size, mtime, mode, uid, gid}`, `/files/read` answers
 * `{offset, data}` (offset -1 gives the size), `/files/download` the bytes.
 */
import { arr, num, obj, str } from "../model/json";
import { type AgentEndpoint, agentRead } from "./agent-client";
import { type Fetched, getJson } from "./http";

export interface FileEntry {
  path: string;
  name: string;
  isDirectory: boolean;
  size: number;
  mtime: number;
  mode: string;
  nlink: number;
  uid: string;
  gid: string;
}

export interface Chunk {
  offset: number;
  data: string;
}

export interface FileSource {
  /** Shown in headings: "master", "agent 10.0.0.5:5051". */
  label: string;
  browse(path: string): Promise<Fetched<FileEntry[]>>;
  read(path: string, offset: number, length?: number): Promise<Fetched<Chunk>>;
  downloadUrl(path: string): string;
}

function entriesFrom(value: unknown): FileEntry[] {
  return arr(value).map((item) => {
    const e = obj(item);
    const path = str(e.path);
    const mode = str(e.mode);
    return {
      path,
      name: path.slice(path.lastIndexOf("/") + 1),
      isDirectory: mode.startsWith("d"),
      size: num(e.size),
      mtime: num(e.mtime),
      mode,
      nlink: num(e.nlink),
      uid: str(e.uid),
      gid: str(e.gid),
    };
  });
}

function chunkFrom(value: unknown): Chunk {
  const c = obj(value);
  return { offset: num(c.offset), data: str(c.data) };
}

function map<A, B>(result: Fetched<A>, f: (a: A) => B): Fetched<B> {
  return result.kind === "ok" ? { kind: "ok", value: f(result.value) } : result;
}

function query(path: string, offset?: number, length?: number): string {
  const q = new URLSearchParams({ path });
  if (offset !== undefined) q.set("offset", String(offset));
  if (length !== undefined) q.set("length", String(length));
  return q.toString();
}

/** The master's own files (`/master/log`), read same-origin. */
export function masterFiles(base = ""): FileSource {
  return {
    label: "master",
    browse: async (path) => map(await getJson(`${base}/files/browse?${query(path)}`), entriesFrom),
    read: async (path, offset, length) =>
      map(await getJson(`${base}/files/read?${query(path, offset, length)}`), chunkFrom),
    downloadUrl: (path) => `${base}/files/download?${query(path)}`,
  };
}

/** An agent's files, read with JSONP. */
export function agentFiles(ep: AgentEndpoint): FileSource {
  return {
    label: `agent ${ep.base.replace(/^\/\//, "")}`,
    browse: async (path) =>
      map(await agentRead(`${ep.base}/files/browse?${query(path)}`), entriesFrom),
    read: async (path, offset, length) =>
      map(await agentRead(`${ep.base}/files/read?${query(path, offset, length)}`), chunkFrom),
    downloadUrl: (path) => `${ep.base}/files/download?${query(path)}`,
  };
}

/**
 * An agent's files, falling back to the master's `/files/*` (same path)
 * when the agent does not answer, for masters that proxy sandbox access.
 * The first source that answers is kept for later reads.
 */
export function sandboxFiles(ep: AgentEndpoint, base = ""): FileSource {
  const agent = agentFiles(ep);
  const master = masterFiles(base);
  let chosen: FileSource | undefined;
  async function pick<T>(read: (s: FileSource) => Promise<Fetched<T>>): Promise<Fetched<T>> {
    if (chosen !== undefined) return read(chosen);
    const first = await read(agent);
    if (first.kind === "ok") {
      chosen = agent;
      return first;
    }
    const second = await read(master);
    if (second.kind === "ok") {
      chosen = master;
      return second;
    }
    return first;
  }
  return {
    get label() {
      return chosen?.label ?? agent.label;
    },
    browse: (path) => pick((s) => s.browse(path)),
    read: (path, offset, length) => pick((s) => s.read(path, offset, length)),
    downloadUrl: (path) => (chosen ?? agent).downloadUrl(path),
  };
}
