/**
 * The `/files` endpoints over a VirtualFiles: `browse`, `read`, `download`,
 * `debug`, with Mesos' query parameters, statuses and JSON shapes, and the
 * v1 LIST_FILES / READ_FILE calls' results.
 *
 * A host may also hand requests for paths it has not attached to a
 * `FilesForwarder` (the master forwards sandbox paths to the agent that
 * holds the sandbox).
 */
import { createReadStream } from "node:fs";
import { extname } from "node:path";
import type { HttpRequest } from "../http/request.js";
import {
  badRequest,
  type HttpResponse,
  type ResponseStream,
  response,
  streaming,
} from "../http/response.js";
import { checkMethod, jsonResponse } from "../http/v1-api.js";
import {
  type FileEntry,
  FilesError,
  fileEntryJson,
  fileInfoMessage,
  type VirtualFiles,
} from "./virtual-files.js";

/** Which `/files` endpoint a request is for. */
export type FilesEndpoint = "browse" | "read" | "download" | "debug";

/**
 * Serves a request for a path no attachment covers, or returns undefined to
 * answer 404 locally.
 */
export type FilesForwarder = (
  endpoint: FilesEndpoint,
  path: string,
  request: HttpRequest,
) => Promise<HttpResponse> | undefined;

const MIME: Record<string, string> = {
  ".txt": "text/plain",
  ".log": "text/plain",
  ".json": "application/json",
  ".html": "text/html",
  ".htm": "text/html",
  ".css": "text/css",
  ".js": "application/javascript",
  ".xml": "application/xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".svg": "image/svg+xml",
  ".pdf": "application/pdf",
  ".gz": "application/gzip",
  ".tgz": "application/gzip",
  ".tar": "application/x-tar",
  ".zip": "application/zip",
};

function errorResponse(e: unknown): HttpResponse {
  if (e instanceof FilesError) return response(e.status, `${e.message}\n`);
  return response(500, `${(e as Error).message}\n`);
}

const NO_PATH = "Expecting 'path=value' in query.\n";

/** Parses `offset` and `length` as Mesos does; `offset=-1` asks for the size only. */
export function parseReadRange(
  query: URLSearchParams,
): { ok: true; offset: number; length: number | undefined } | { ok: false; message: string } {
  let offset = -1;
  const o = query.get("offset");
  if (o !== null) {
    if (!/^-?\d+$/.test(o.trim())) return { ok: false, message: `Failed to parse offset: '${o}'.` };
    offset = Number(o);
    if (offset < -1) return { ok: false, message: `Negative offset provided: ${offset}.` };
  }
  let length: number | undefined;
  const l = query.get("length");
  if (l !== null) {
    if (!/^-?\d+$/.test(l.trim())) return { ok: false, message: `Failed to parse length: '${l}'.` };
    const n = Number(l);
    // The web UI's pailer sends length=-1 meaning "to the end", as Mesos allows.
    if (n < -1) return { ok: false, message: `Negative length provided: ${n}.` };
    if (n >= 0) length = n;
  }
  return { ok: true, offset, length };
}

/**
 * A read by the legacy rules: offset -1 (or absent) returns the size as
 * `offset` with empty data.
 */
export async function readJson(
  files: VirtualFiles,
  path: string,
  offset: number,
  length: number | undefined,
): Promise<{ offset: number; data: string }> {
  if (offset === -1) {
    const { size } = await files.read(path, 0, 0);
    return { offset: size, data: "" };
  }
  const { data } = await files.read(path, offset, length);
  return { offset, data: data.toString("utf8") };
}

/** The `/files/*` routes' handlers. */
export class FilesHandlers {
  constructor(
    private readonly files: VirtualFiles,
    private readonly forward?: FilesForwarder,
  ) {}

  /** Returns the forwarder's answer when `path` is not attached here. */
  private forwarded(
    endpoint: FilesEndpoint,
    path: string,
    request: HttpRequest,
  ): Promise<HttpResponse> | undefined {
    if (this.forward === undefined || this.files.covers(path)) return undefined;
    return this.forward(endpoint, path, request);
  }

  browse = async (request: HttpRequest): Promise<HttpResponse> => {
    const bad = checkMethod(request, ["GET"]);
    if (bad !== undefined) return bad;
    const path = request.query.get("path");
    if (path === null || path === "") return badRequest(NO_PATH);
    const f = this.forwarded("browse", path, request);
    if (f !== undefined) return f;
    try {
      const entries = await this.files.browse(path);
      return jsonResponse(request, JSON.stringify(entries.map(fileEntryJson)));
    } catch (e) {
      return errorResponse(e);
    }
  };

  read = async (request: HttpRequest): Promise<HttpResponse> => {
    const bad = checkMethod(request, ["GET"]);
    if (bad !== undefined) return bad;
    const path = request.query.get("path");
    if (path === null || path === "") return badRequest(NO_PATH);
    const range = parseReadRange(request.query);
    if (!range.ok) return badRequest(`${range.message}\n`);
    const f = this.forwarded("read", path, request);
    if (f !== undefined) return f;
    try {
      const out = await readJson(this.files, path, range.offset, range.length);
      return jsonResponse(request, JSON.stringify(out));
    } catch (e) {
      return errorResponse(e);
    }
  };

  download = async (request: HttpRequest): Promise<HttpResponse> => {
    const bad = checkMethod(request, ["GET"]);
    if (bad !== undefined) return bad;
    const path = request.query.get("path");
    if (path === null || path === "") return badRequest(NO_PATH);
    const f = this.forwarded("download", path, request);
    if (f !== undefined) return f;
    try {
      const { real, name } = await this.files.downloadPath(path);
      const type = MIME[extname(name).toLowerCase()] ?? "application/octet-stream";
      return streaming(
        200,
        {
          "Content-Type": type,
          "Content-Disposition": `attachment; filename=${name}`,
        },
        (stream) => pipeFile(real, stream),
      );
    } catch (e) {
      return errorResponse(e);
    }
  };

  debug = (request: HttpRequest): HttpResponse =>
    checkMethod(request, ["GET"]) ?? jsonResponse(request, JSON.stringify(this.files.debug()));
}

/** Streams a file into a response, pausing while the client is slow. */
function pipeFile(real: string, stream: ResponseStream): void {
  const input = createReadStream(real);
  input.on("data", (chunk) => {
    if (!stream.write(chunk as Buffer)) input.pause();
  });
  stream.onDrain(() => input.resume());
  stream.onClose(() => input.destroy());
  input.on("end", () => stream.end());
  input.on("error", () => stream.end());
}

/** Route declarations for a `files` process (path, help). */
export const FILES_ROUTE_HELP: Record<FilesEndpoint, string> = {
  browse:
    "Lists a directory of the virtual filesystem.\n" +
    "Query: path=VALUE (required). Answers a JSON array of {path, nlink, size, mtime, mode, uid, gid}.",
  read:
    "Reads part of a file of the virtual filesystem.\n" +
    "Query: path=VALUE (required), offset=N (-1: answer the size only), length=N (at most 64 KiB are returned). " +
    "Answers {offset, data}.",
  download:
    "Sends a whole file of the virtual filesystem as an attachment.\nQuery: path=VALUE (required).",
  debug: "Shows the attached virtual paths and the real paths behind them (JSON object).",
};

/** v1 LIST_FILES result: `{file_infos: [FileInfo]}`, or a FilesError. */
export async function listFilesResult(
  files: VirtualFiles,
  path: string,
): Promise<{ file_infos: ReturnType<typeof fileInfoMessage>[] }> {
  const entries: FileEntry[] = await files.browse(path);
  return { file_infos: entries.map(fileInfoMessage) };
}

/** v1 READ_FILE result: `{size, data}` (bytes), or a FilesError. */
export async function readFileResult(
  files: VirtualFiles,
  path: string,
  offset: number,
  length: number | undefined,
): Promise<{ size: number; data: Uint8Array }> {
  const { size, data } = await files.read(path, offset, length);
  return { size, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
