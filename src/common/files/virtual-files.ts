/**
 * The virtual filesystem behind `/files/*` and the v1 LIST_FILES / READ_FILE
 * calls: real files and directories are attached under virtual paths
 * (`/master/log`, a sandbox as `/frameworks/F/executors/E/runs/latest`), and
 * requests name virtual paths only. A request resolves through the longest
 * attached prefix; symbolic links are followed and the result must stay
 * inside the attached directory, so `..` and links cannot reach other files.
 *
 * Status mapping (what the HTTP layer answers), as Mesos' files process:
 * invalid input, paths that cannot be resolved (a link loop) and paths
 * that resolve to an existing file outside their attached root (`..`, a
 * link pointing out: `'<host path>' is inaccessible.`) 400; nothing
 * attached or no such file 404 with an empty body; a caller the
 * attachment's guard refuses (ACCESS_SANDBOX, ACCESS_MESOS_LOG) 403,
 * checked before the path is looked at; other I/O failures 500.
 */
import { constants as fsConstants } from "node:fs";
import {
  access,
  type FileHandle,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  stat,
} from "node:fs/promises";
import { basename, join } from "node:path";
import type { AclAction } from "../auth/acls.js";

/**
 * Opens `real`, a path {@link VirtualFiles} resolved and found inside its
 * attachment, to read it. A sandbox's user may swap a directory on that
 * path for a link (to /etc, say) after the check: what was opened must be
 * the very path checked, else it is refused as a path out of it. Non-blocking,
 * so a FIFO in a sandbox with no writer cannot hold a libuv thread (and with
 * it every later file request) forever.
 */
async function openResolved(real: string, vpath: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(real, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    // A socket, a file we may not read: Mesos' 500 line, with the virtual path.
    throw new FilesError("unknown", `Failed to open file at '${vpath}': ${errnoText(e)}.`);
  }
  // Where the open file is now (no /proc: not checked).
  const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
  if (opened !== undefined && opened !== real) {
    await handle.close();
    throw new FilesError("invalid", `'${real}' is inaccessible.`);
  }
  return handle;
}

/** What the HTTP layer maps to a status. */
export type FilesErrorKind = "invalid" | "not-found" | "forbidden" | "unknown";

/**
 * A failed files request with a one-line reason (empty for "not-found":
 * Mesos answers an unknown path with a bare 404).
 */
export class FilesError extends Error {
  constructor(
    readonly kind: FilesErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "FilesError";
  }

  /** The HTTP status Mesos-style endpoints answer for this error. */
  get status(): number {
    switch (this.kind) {
      case "invalid":
        return 400;
      case "not-found":
        return 404;
      case "forbidden":
        return 403;
      default:
        return 500;
    }
  }
}

/** One entry of a listing (v1 `FileInfo`, with owner names resolved). */
export interface FileEntry {
  /** Virtual path of the entry. */
  path: string;
  nlink: number;
  size: number;
  /** Modification time, seconds since the epoch. */
  mtimeSecs: number;
  /** st_mode bits (type and permissions). */
  mode: number;
  /** Owner user name (the numeric id when unknown). */
  uid: string;
  /** Owner group name (the numeric id when unknown). */
  gid: string;
}

/** The outcome of a read. */
export interface FileChunk {
  /** Size of the whole file, in bytes. */
  size: number;
  /** The bytes read (empty at or past the end). */
  data: Buffer;
}

/**
 * The caller of a files request as the ACLs see it (the HTTP layer builds
 * one from the request's principal and the daemon's authorizer).
 */
export interface FilesCaller {
  /** May the caller perform `action` on `object` (a user; undefined: any object)? */
  may(action: AclAction, object?: string): boolean;
  /** The one-line reason a caller not authorized to `what` is refused with. */
  refusal(what: string): string;
}

/**
 * Guards an attached path, as Mesos attaches sandboxes and logs with an
 * authorization callback: every request under the path is checked first
 * (before the path is resolved, so a refused caller learns nothing of what
 * exists) and refused with 403.
 */
export interface AttachAuthorizer {
  /** What a refused caller was not authorized to do ("access the Mesos log"). */
  readonly what: string;
  allows(caller: FilesCaller): boolean;
}

/** The daemons' log files' virtual paths: guarded by `access_mesos_logs` unless told otherwise. */
export const LOG_VIRTUAL_PATHS: ReadonlySet<string> = new Set(["/master/log", "/slave/log"]);

/** ACCESS_MESOS_LOG: the object is the log (ANY). */
export const logAccess: AttachAuthorizer = {
  what: "access the Mesos log",
  allows: (caller) => caller.may("access_mesos_logs"),
};

/**
 * ACCESS_SANDBOX of an executor's sandbox: the object is the user the
 * executor runs as (its command's user, else its framework's), looked up
 * at request time; undefined when neither is known (then only rules for
 * ANY users apply, as in Mesos).
 */
export function sandboxAccess(
  frameworkId: string,
  executorId: string,
  user: () => string | undefined,
): AttachAuthorizer {
  return {
    what: `access the sandbox of executor '${executorId}' of framework ${frameworkId}`,
    allows: (caller) => caller.may("access_sandboxes", user()),
  };
}

/** The guard an attachment gets when none is given: the log's for the log paths. */
function defaultGuard(virtualPath: string): AttachAuthorizer | undefined {
  return LOG_VIRTUAL_PATHS.has(trimTrailing(virtualPath)) ? logAccess : undefined;
}

/** Reads at most this many bytes per read (16 pages of 4 KiB, as Mesos). */
export const MAX_READ_BYTES = 16 * 4096;

/** `drwxr-xr-x` style text of st_mode. */
export function modeString(mode: number): string {
  const type = mode & 0o170000;
  const letter =
    type === 0o040000
      ? "d"
      : type === 0o020000
        ? "c"
        : type === 0o060000
          ? "b"
          : type === 0o010000
            ? "p"
            : type === 0o120000
              ? "l"
              : type === 0o140000
                ? "s"
                : "-";
  const bits = "rwxrwxrwx";
  let out = letter;
  for (let i = 0; i < 9; i++) out += mode & (0o400 >> i) ? bits[i] : "-";
  return out;
}

/** The legacy JSON of an entry: `{path, nlink, size, mtime, mode, uid, gid}`. */
export function fileEntryJson(e: FileEntry): Record<string, unknown> {
  return {
    path: e.path,
    nlink: e.nlink,
    size: e.size,
    mtime: e.mtimeSecs,
    mode: modeString(e.mode),
    uid: e.uid,
    gid: e.gid,
  };
}

/** The v1 `FileInfo` message of an entry. */
export function fileInfoMessage(e: FileEntry): {
  path: string;
  nlink: number;
  size: number;
  mtime: { nanoseconds: number };
  mode: number;
  uid: string;
  gid: string;
} {
  return {
    path: e.path,
    nlink: e.nlink,
    size: e.size,
    mtime: { nanoseconds: e.mtimeSecs * 1e9 },
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
  };
}

/** strerror(3)'s text for the errors a path lookup can meet (Node has only its own words). */
const STRERROR: Record<string, string> = {
  ELOOP: "Too many levels of symbolic links",
  EACCES: "Permission denied",
  ENAMETOOLONG: "File name too long",
  EPERM: "Operation not permitted",
  EIO: "Input/output error",
  ENXIO: "No such device or address",
  ENOENT: "No such file or directory",
  ENOTDIR: "Not a directory",
};

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code !== undefined ? STRERROR[code] : undefined) ?? (e as Error).message;
}

/** id -> name from an /etc/passwd or /etc/group style file (read once). */
async function idNames(file: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  try {
    for (const line of (await readFile(file, "utf8")).split("\n")) {
      const parts = line.split(":");
      const id = Number(parts[2]);
      if (parts[0] && Number.isInteger(id) && !out.has(id)) out.set(id, parts[0]);
    }
  } catch {
    // Unknown ids are shown as numbers.
  }
  return out;
}

/** Removes trailing slashes (keeps a lone "/"). */
function trimTrailing(path: string): string {
  let p = path;
  while (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  return p;
}

interface Attachment {
  real: string;
  isDir: boolean;
  authorize: AttachAuthorizer | undefined;
}

/** Mesos' answer to a path that names nothing: 404 with no body. */
function notFound(): FilesError {
  return new FilesError("not-found", "");
}

/** The attached paths of one process host (shared by its master and agents). */
export class VirtualFiles {
  private readonly attached = new Map<string, Attachment>();
  private users: Promise<Map<number, string>> | undefined;
  private groups: Promise<Map<number, string>> | undefined;

  /**
   * Makes `realPath` (a file or directory, resolved through links now)
   * visible as `virtualPath`. Replaces an earlier attachment of the same
   * virtual path. Fails when the real path cannot be resolved or read.
   */
  async attach(realPath: string, virtualPath: string, authorize?: AttachAuthorizer): Promise<void> {
    await this.attachAll(realPath, [virtualPath], authorize);
  }

  /**
   * `attach` of one real path under several virtual paths, resolving and
   * checking it once (an agent attaches each sandbox three times; a launch
   * storm would otherwise pay three times the file system calls).
   */
  async attachAll(
    realPath: string,
    virtualPaths: readonly string[],
    authorize?: AttachAuthorizer,
  ): Promise<void> {
    // Mesos' wording, with strerror's text rather than Node's.
    let real: string;
    try {
      real = await realpath(realPath);
    } catch (e) {
      throw new Error(`Failed to get realpath of '${realPath}': ${errnoText(e)}`);
    }
    try {
      await access(real, fsConstants.R_OK);
    } catch (e) {
      throw new Error(`Failed to access '${realPath}': ${errnoText(e)}`);
    }
    const isDir = (await stat(real)).isDirectory();
    for (const virtualPath of virtualPaths) {
      this.attached.set(trimTrailing(virtualPath), {
        real,
        isDir,
        authorize: authorize ?? defaultGuard(virtualPath),
      });
    }
  }

  /**
   * Attaches a path the caller has already resolved (no symbolic link in
   * it) and knows to exist and be readable, without touching the disk: the
   * agent attaches each new sandbox, a directory it has just created under
   * its resolved work directory.
   */
  attachResolved(
    real: string,
    isDir: boolean,
    virtualPaths: readonly string[],
    authorize?: AttachAuthorizer,
  ): void {
    for (const virtualPath of virtualPaths) {
      this.attached.set(trimTrailing(virtualPath), {
        real,
        isDir,
        authorize: authorize ?? defaultGuard(virtualPath),
      });
    }
  }

  /** Forgets `virtualPath`. */
  detach(virtualPath: string): void {
    this.attached.delete(trimTrailing(virtualPath));
  }

  /**
   * Forgets every attachment whose real path is `realPath` or lies below
   * it (a sandbox that garbage collection removed, under all its virtual
   * paths). Returns the virtual paths forgotten.
   */
  detachBeneath(realPath: string): string[] {
    const root = trimTrailing(realPath);
    const prefix = root.endsWith("/") ? root : `${root}/`;
    const gone: string[] = [];
    for (const [virtualPath, a] of this.attached) {
      if (a.real === root || a.real.startsWith(prefix)) gone.push(virtualPath);
    }
    for (const virtualPath of gone) this.attached.delete(virtualPath);
    return gone;
  }

  /** True if exactly `virtualPath` is attached. */
  isAttached(virtualPath: string): boolean {
    return this.attached.has(trimTrailing(virtualPath));
  }

  /** Virtual path -> real path of every attachment (`/files/debug`). */
  debug(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of [...this.attached.keys()].sort()) out[k] = this.attached.get(k)?.real ?? "";
    return out;
  }

  /**
   * Whether some attachment covers `virtualPath` (a prefix match), without
   * touching the disk: lets a caller send unknown paths elsewhere (the
   * master forwards sandbox paths to the agent holding them).
   */
  covers(virtualPath: string): boolean {
    return this.match(virtualPath) !== undefined;
  }

  /**
   * Lists a directory (or a single file), sorted by path. `caller` is
   * checked against the attachment's guard; without one (an internal
   * read) nothing is checked.
   */
  async browse(virtualPath: string, caller?: FilesCaller): Promise<FileEntry[]> {
    const { real, vpath } = await this.resolve(virtualPath, caller);
    const st = await stat(real);
    if (!st.isDirectory()) return [await this.entry(real, vpath)];
    // Listed through the directory opened (and checked) once, as read does.
    const dir = await openResolved(real, vpath);
    try {
      const held = `/proc/self/fd/${dir.fd}`;
      let names: string[];
      try {
        names = await readdir(held);
      } catch (e) {
        throw new FilesError(
          "unknown",
          `Failed to list '${vpath}': ${(e as Error).message.replace(held, real)}`,
        );
      }
      const out: FileEntry[] = [];
      for (const name of names.sort()) {
        try {
          out.push(await this.entry(`${held}/${name}`, join(vpath, name)));
        } catch {
          // Vanished between readdir and stat, or a dangling link: skip it, as Mesos does.
        }
      }
      return out;
    } finally {
      await dir.close();
    }
  }

  /**
   * Reads up to `length` bytes (default: to the end; capped at
   * MAX_READ_BYTES) from `offset`. Past the end, the data is empty; the size
   * is always the file's. `caller` as for `browse`.
   */
  async read(
    virtualPath: string,
    offset: number,
    length?: number,
    caller?: FilesCaller,
  ): Promise<FileChunk> {
    const { real, vpath } = await this.resolve(virtualPath, caller);
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      const st = await stat(real);
      if (st.isDirectory()) throw new FilesError("invalid", "Cannot read a directory.");
      handle = await openResolved(real, vpath);
      const size = (await handle.stat()).size;
      if (offset >= size || length === 0) return { size, data: Buffer.alloc(0) };
      const want = Math.min(length ?? size - offset, size - offset, MAX_READ_BYTES);
      const data = Buffer.alloc(want);
      const { bytesRead } = await handle.read(data, 0, want, offset);
      return { size, data: data.subarray(0, bytesRead) };
    } catch (e) {
      if (e instanceof FilesError) throw e;
      throw new FilesError("unknown", `Failed to read '${vpath}': ${(e as Error).message}`);
    } finally {
      await handle?.close();
    }
  }

  /**
   * The file to send whole (`/files/download`), opened (the caller closes
   * it), and its size now when it is a regular file (the response's
   * Content-Length).
   */
  async openDownload(
    virtualPath: string,
    caller?: FilesCaller,
  ): Promise<{ handle: FileHandle; name: string; size: number | undefined }> {
    const { real, vpath } = await this.resolve(virtualPath, caller);
    const st = await stat(real);
    if (st.isDirectory()) throw new FilesError("invalid", "Cannot download a directory.");
    const handle = await openResolved(real, vpath);
    try {
      const opened = await handle.stat();
      if (opened.isDirectory()) throw new FilesError("invalid", "Cannot download a directory.");
      return { handle, name: basename(real), size: opened.isFile() ? opened.size : undefined };
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  private match(virtualPath: string): { prefix: string; suffix: string } | undefined {
    // Repeated slashes count as one, as Mesos joins the request's path
    // components (`//slave/log` and `/frameworks//f/...` find their files).
    const path = trimTrailing(virtualPath.replace(/\/{2,}/g, "/"));
    let prefix = path;
    for (;;) {
      if (this.attached.has(prefix)) {
        return { prefix, suffix: path.slice(prefix.length).replace(/^\/+/, "") };
      }
      const slash = prefix.lastIndexOf("/");
      if (slash < 0) return undefined;
      prefix = prefix.slice(0, slash);
      if (prefix === "" && !this.attached.has("")) return undefined;
    }
  }

  /** The real path behind a virtual one, checked to stay inside its attachment. */
  private async resolve(
    virtualPath: string,
    caller: FilesCaller | undefined,
  ): Promise<{ real: string; vpath: string }> {
    // Nothing is attached at "" (a v1 LIST_FILES/READ_FILE may send it): 404, as Mesos.
    if (virtualPath === "") throw notFound();
    if (virtualPath.includes("\0")) throw new FilesError("invalid", "Bad path.");
    const m = this.match(virtualPath);
    if (m === undefined) throw notFound();
    const a = this.attached.get(m.prefix) as Attachment;
    if (caller !== undefined && a.authorize !== undefined && !a.authorize.allows(caller)) {
      throw new FilesError("forbidden", caller.refusal(a.authorize.what));
    }
    const vpath = trimTrailing(virtualPath);
    if (!a.isDir) {
      if (m.suffix !== "") throw notFound();
      return { real: a.real, vpath };
    }
    const rootPrefix = a.real.endsWith("/") ? a.real : `${a.real}/`;
    // Not normalised here: realpath walks it as the kernel does, as Mesos
    // does, so `link/..` is the parent of the link's target and `..` after
    // a missing name finds nothing.
    const candidate = m.suffix === "" ? a.real : `${rootPrefix}${m.suffix}`;
    let real: string;
    try {
      real = await realpath(candidate);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Nothing there (a dangling link, a `..` to a missing name, inside
      // or out): a bare 404, as Mesos' realpath gives None for these.
      if (code === "ENOENT" || code === "ENOTDIR") throw notFound();
      // A link loop, a name too long, a directory we may not search: the
      // request names something unusable, so 400 as in Mesos (not 500),
      // naming the host path as Mesos does.
      throw new FilesError(
        "invalid",
        `Failed to determine canonical path of '${candidate}': ${errnoText(e)}.`,
      );
    }
    // Something that exists outside the root: Mesos' 400 with the host path
    // as joined (before `..` and links are resolved). Unlike Mesos, the
    // root is compared as a directory, so a sibling named like the root
    // plus a suffix is outside too.
    if (real !== a.real && !real.startsWith(rootPrefix)) {
      throw new FilesError("invalid", `'${candidate}' is inaccessible.`);
    }
    return { real, vpath };
  }

  private async entry(real: string, vpath: string): Promise<FileEntry> {
    // Links are followed; one that leads nowhere (or loops) fails here and
    // is left out of a listing, as Mesos leaves out what it cannot stat.
    const st = await stat(real);
    this.users ??= idNames("/etc/passwd");
    this.groups ??= idNames("/etc/group");
    const [users, groups] = await Promise.all([this.users, this.groups]);
    return {
      path: vpath,
      nlink: st.nlink,
      size: st.size,
      mtimeSecs: Math.floor(st.mtimeMs / 1000),
      mode: st.mode,
      uid: users.get(st.uid) ?? String(st.uid),
      gid: groups.get(st.gid) ?? String(st.gid),
    };
  }
}
