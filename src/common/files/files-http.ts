/**
 * The `/files` endpoints over a VirtualFiles: `browse`, `read`, `download`,
 * `debug`, with Mesos' query parameters, statuses and JSON shapes, and the
 * v1 LIST_FILES / READ_FILE calls' results.
 *
 * A host may also hand requests for paths it has not attached to a
 * `FilesForwarder` (the master forwards sandbox paths to the agent that
 * holds the sandbox).
 */
import type { ReadStream } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { forbiddenMessage, requestAuthorized } from "../auth/request-auth.js";
import type { HttpRequest } from "../http/request.js";
import {
  badRequest,
  type HttpResponse,
  type ResponseStream,
  response,
  streaming,
} from "../http/response.js";
import type { LengthAwareStream } from "../http/server.js";
import { jsonResponse } from "../http/v1-api.js";
import { numifyInteger } from "./numify.js";
import {
  type FileEntry,
  type FilesCaller,
  FilesError,
  fileEntryJson,
  fileInfoMessage,
  type VirtualFiles,
} from "./virtual-files.js";

/**
 * The caller of `request` for the files' guards: its principal (none when
 * unauthenticated) against the authorizer the daemon's guard put on the
 * request; a request no guard saw is allowed, as without `--acls`.
 */
export function requestCaller(request: HttpRequest): FilesCaller {
  return {
    may: (action, object) => requestAuthorized(request, action, object),
    refusal: (what) => forbiddenMessage(request, what),
  };
}

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

/**
 * Extension -> Content-Type for `/files/download`: the table libprocess
 * answers with (matched case-sensitively on the text from the last dot);
 * anything else, `.log` and `.json` included, is application/octet-stream.
 */
const MIME_TABLE =
  "application/octet-stream .obj .dll .so .exe .bin .o .a|audio/x-pn-realaudio .ra|" +
  "application/xml .wsdl .xpdl .rdf .xsl|image/x-cmu-raster .ras|application/x-pn-realaudio .ram|" +
  "application/x-bcpio .bcpio|application/x-sh .sh|video/mpeg .m1v .mpeg .mpa .mpg .mpe|" +
  "image/x-xwindowdump .xwd|application/msword .doc .dot .wiz|image/x-ms-bmp .bmp|" +
  "application/x-shar .shar|application/x-javascript .js|application/x-wais-source .src|" +
  "application/x-dvi .dvi|audio/x-aiff .aif .aiff .aifc|text/plain .ksh .pl .bat .h .c .txt|" +
  "message/rfc822 .mht .nws .eml .mhtml|application/x-pkcs12 .p12 .pfx|text/css .css|" +
  "application/x-csh .csh|application/vnd.ms-powerpoint .pwz .ppt .pps .ppa .pot|" +
  "application/pdf .pdf|application/x-netcdf .cdf .nc|application/postscript .ai .ps .eps|" +
  "image/jpeg .jpe .jpg .jpeg|text/x-python .py|text/xml .xml|application/x-gtar .gtar|" +
  "image/x-xpixmap .xpm|application/x-hdf .hdf|text/tab-separated-values .tsv|" +
  "application/pkcs7-mime .p7c|image/ief .ief|application/vnd.ms-excel .xlb .xls|" +
  "image/x-portable-bitmap .pbm|application/x-texinfo .texinfo .texi|application/x-tex .tex|" +
  "text/richtext .rtx|text/html .html .htm|text/x-sgml .sgm .sgml|image/tiff .tif .tiff|" +
  "application/x-ustar .ustar|image/gif .gif|image/x-portable-pixmap .ppm|" +
  "application/x-latex .latex|video/quicktime .mov .qt|application/x-troff .tr .t .roff|" +
  "application/x-sv4cpio .sv4cpio|application/x-tcl .tcl|audio/x-wav .wav|text/x-vcard .vcf|" +
  "image/x-xbitmap .xbm|audio/basic .au .snd|application/oda .oda|application/x-troff-ms .ms|" +
  "image/x-rgb .rgb|application/x-troff-me .me|application/x-sv4crc .sv4crc|" +
  "video/x-msvideo .avi|image/x-portable-graymap .pgm|application/x-mif .mif|" +
  "application/x-troff-man .man|text/x-setext .etx|application/zip .zip|" +
  "video/x-sgi-movie .movie|application/x-python-code .pyc .pyo|image/png .png|" +
  "application/x-tar .tar|image/x-portable-anymap .pnm|application/x-cpio .cpio|" +
  "application/x-shockwave-flash .swf|audio/mpeg .mp3 .mp2|video/mp4 .mp4";

const MIME = new Map<string, string>(
  MIME_TABLE.split("|").flatMap((row) => {
    const [type, ...extensions] = row.split(" ");
    return extensions.map((ext): [string, string] => [ext, type as string]);
  }),
);

/** The download Content-Type of a file name (its text from the last dot, case kept). */
export function downloadContentType(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot < 0 || name === "." || name === "..") return "application/octet-stream";
  return MIME.get(name.slice(dot)) ?? "application/octet-stream";
}

function errorResponse(e: unknown): HttpResponse {
  // A bare 404 stays bare; other lines end with a newline, as Mesos' do.
  if (e instanceof FilesError) return response(e.status, e.message === "" ? "" : `${e.message}\n`);
  return response(500, `${(e as Error).message}\n`);
}

const NO_PATH = "Expecting 'path=value' in query.\n";

/**
 * Parses `offset` and `length` as Mesos does (64-bit integers in stout's
 * syntax, so `0x10` is 16); `offset=-1` asks for the size only and
 * `length=-1` means "to the end".
 */
export function parseReadRange(
  query: URLSearchParams,
): { ok: true; offset: number; length: number | undefined } | { ok: false; message: string } {
  let offset = -1;
  const o = query.get("offset");
  if (o !== null) {
    const n = numifyInteger(o, 64);
    if (!n.ok) return { ok: false, message: `Failed to parse offset: ${n.error}.` };
    if (n.value < -1) return { ok: false, message: `Negative offset provided: ${n.decimal}.` };
    offset = n.value;
  }
  let length: number | undefined;
  const l = query.get("length");
  if (l !== null) {
    const n = numifyInteger(l, 64);
    if (!n.ok) return { ok: false, message: `Failed to parse length: ${n.error}.` };
    // The web UI's pailer sends length=-1 meaning "to the end", as Mesos allows.
    if (n.value < -1) return { ok: false, message: `Negative length provided: ${n.decimal}.` };
    if (n.value >= 0) length = n.value;
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
  caller?: FilesCaller,
): Promise<{ offset: number; data: string }> {
  if (offset === -1) {
    const { size } = await files.read(path, 0, 0, caller);
    return { offset: size, data: "" };
  }
  const { data } = await files.read(path, offset, length, caller);
  return { offset, data: data.toString("utf8") };
}

/**
 * The `/files/read` body. An offset beyond 2^53 (always past the end) is
 * echoed with every digit the client sent, as Mesos prints its 64-bit
 * offset, rather than as a rounded double.
 */
function readReplyJson(out: { offset: number; data: string }, offsetText: string | null): string {
  if (Number.isSafeInteger(out.offset) || offsetText === null) return JSON.stringify(out);
  const n = numifyInteger(offsetText, 64);
  const offset = n.ok ? n.decimal : String(out.offset);
  return `{"offset":${offset},"data":${JSON.stringify(out.data)}}`;
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
    const path = request.query.get("path");
    if (path === null || path === "") return badRequest(NO_PATH);
    const f = this.forwarded("browse", path, request);
    if (f !== undefined) return f;
    try {
      const entries = await this.files.browse(path, requestCaller(request));
      return jsonResponse(request, JSON.stringify(entries.map(fileEntryJson)));
    } catch (e) {
      return errorResponse(e);
    }
  };

  read = async (request: HttpRequest): Promise<HttpResponse> => {
    const path = request.query.get("path");
    if (path === null || path === "") return badRequest(NO_PATH);
    const range = parseReadRange(request.query);
    if (!range.ok) return badRequest(`${range.message}\n`);
    const f = this.forwarded("read", path, request);
    if (f !== undefined) return f;
    try {
      const out = await readJson(
        this.files,
        path,
        range.offset,
        range.length,
        requestCaller(request),
      );
      return jsonResponse(request, readReplyJson(out, request.query.get("offset")));
    } catch (e) {
      return errorResponse(e);
    }
  };

  download = async (request: HttpRequest): Promise<HttpResponse> => {
    const path = request.query.get("path");
    if (path === null || path === "") return badRequest(NO_PATH);
    const f = this.forwarded("download", path, request);
    if (f !== undefined) return f;
    try {
      const { handle, name, size } = await this.files.openDownload(path, requestCaller(request));
      const type = downloadContentType(name);
      return streaming(
        200,
        {
          "Content-Type": type,
          "Content-Disposition": `attachment; filename=${name}`,
        },
        (stream) => pipeFile(handle, size, stream),
      );
    } catch (e) {
      return errorResponse(e);
    }
  };

  debug = (request: HttpRequest): HttpResponse =>
    jsonResponse(request, JSON.stringify(this.files.debug()));
}

/**
 * Streams a file into a response, pausing while the client is slow. A
 * regular file goes out with a Content-Length of its size at the request
 * (as libprocess sends a file), and only that many bytes even when it grows
 * meanwhile; one that shrinks cuts the connection rather than send a short
 * body.
 */
function pipeFile(handle: FileHandle, size: number | undefined, stream: ResponseStream): void {
  if (size !== undefined && "declareLength" in stream) {
    (stream as LengthAwareStream).declareLength(size);
    if (size === 0) {
      void handle.close();
      stream.end();
      return;
    }
  }
  const sendFrom = (input: ReadStream): void => {
    let sent = 0;
    input.on("data", (chunk) => {
      sent += chunk.length;
      if (!stream.write(chunk as Buffer)) input.pause();
    });
    stream.onDrain(() => input.resume());
    stream.onClose(() => input.destroy());
    const finish = (): void => {
      if (size !== undefined && sent < size && stream.abort !== undefined) stream.abort();
      else stream.end();
    };
    input.on("end", finish);
    input.on("error", finish);
  };
  // Opened (non-blocking) and checked by VirtualFiles.openDownload.
  if (stream.closed) {
    void handle.close();
    return;
  }
  sendFrom(handle.createReadStream(size === undefined ? {} : { start: 0, end: size - 1 }));
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
  caller?: FilesCaller,
): Promise<{ file_infos: ReturnType<typeof fileInfoMessage>[] }> {
  const entries: FileEntry[] = await files.browse(path, caller);
  return { file_infos: entries.map(fileInfoMessage) };
}

/** v1 READ_FILE result: `{size, data}` (bytes), or a FilesError. */
export async function readFileResult(
  files: VirtualFiles,
  path: string,
  offset: number,
  length: number | undefined,
  caller?: FilesCaller,
): Promise<{ size: number; data: Uint8Array }> {
  const { size, data } = await files.read(path, offset, length, caller);
  return { size, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
