/**
 * Serves the web UI from `--webui_dir`, in the layout Mesos uses: `index.html`
 * at the master's root (`/` and `/master/`), static files under `/assets/...`
 * and `/app/...` (so a Mesos web UI directory works too).
 *
 * A source checkout keeps the UI's sources in `webui/` and the built files in
 * `webui/dist/` (`npm run build:webui`): when the directory given holds a
 * built `dist/index.html`, that is what is served.
 *
 * Files are read on request (the UI is a handful of small files), with
 * validators (ETag, Last-Modified -> 304), long-lived caching for the
 * content-hashed files under `assets/` and revalidation for the rest. Paths
 * are decoded segment by segment; `..`, hidden names and anything resolving
 * (through symlinks too) outside the directory answer 404.
 */
import { readFile, realpath, stat } from "node:fs/promises";
import { extname, join, sep } from "node:path";
import { decodeSegment, segments } from "../../common/http/path.js";
import type { HttpRequest } from "../../common/http/request.js";
import { type HttpResponse, notFound, response } from "../../common/http/response.js";
import type { RouteHandler, RouteOptions } from "../../common/http/route-table.js";
import type { Logger } from "../../common/observability/logger.js";

/** Where routes go: a process' `route` method. */
export interface RouteSink {
  route(path: string, options: RouteOptions, handler: RouteHandler): void;
}

export interface WebuiOptions {
  /** `--webui_dir`. */
  readonly dir: string;
  readonly logger?: Logger;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".eot": "application/vnd.ms-fontobject",
};

/** The content type for a file name (`application/octet-stream` when unknown). */
export function contentTypeFor(name: string): string {
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? "application/octet-stream";
}

/** Built files carry a content hash in their name (`index-BKwGuADI.js`): cache them for good. */
const HASHED_NAME = /[.-][A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

const NOT_BUILT =
  "The web UI is not built here: run 'npm run build:webui', or point --webui_dir at a built web UI.";

/**
 * The directory actually served for `--webui_dir=dir`: `dir/dist` when it
 * holds a built UI (a source checkout), else `dir` itself.
 */
export async function resolveWebuiDir(dir: string): Promise<string> {
  const built = join(dir, "dist");
  try {
    if ((await stat(join(built, "index.html"))).isFile()) return built;
  } catch {
    // No build output inside: serve the directory as given.
  }
  return dir;
}

/**
 * Checks the path segments under a static folder: each must decode, must not
 * be empty, `.`/`..`, hidden, or hold a separator or NUL. Undefined when refused.
 */
export function safeSegments(remainder: string): string[] | undefined {
  const out: string[] = [];
  for (const raw of segments(remainder)) {
    const s = decodeSegment(raw);
    if (s === undefined || s === "" || s.startsWith(".")) return undefined;
    if (s.includes("/") || s.includes("\\") || s.includes("\0")) return undefined;
    out.push(s);
  }
  return out.length === 0 ? undefined : out;
}

function etagOf(size: number, mtimeMs: number): string {
  return `W/"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

/** Serves one file that lies inside `root`; 404 for anything else. */
async function serveFile(
  request: HttpRequest,
  root: string,
  parts: readonly string[],
  cacheControl: string,
): Promise<HttpResponse> {
  let realRoot: string;
  let file: string;
  try {
    realRoot = await realpath(root);
    file = await realpath(join(root, ...parts));
  } catch {
    return notFound();
  }
  // Symlinks may point anywhere: what is served must resolve inside the root.
  if (!file.startsWith(realRoot + sep)) return notFound();
  const info = await stat(file).catch(() => undefined);
  if (info === undefined || !info.isFile()) return notFound();
  const etag = etagOf(info.size, info.mtimeMs);
  const lastModified = new Date(Math.floor(info.mtimeMs / 1000) * 1000).toUTCString();
  const headers: Record<string, string> = {
    "Content-Type": contentTypeFor(file),
    "Cache-Control": cacheControl,
    ETag: etag,
    "Last-Modified": lastModified,
    "X-Content-Type-Options": "nosniff",
  };
  const ifNoneMatch = request.header("if-none-match");
  const ifModifiedSince = request.header("if-modified-since");
  const fresh =
    ifNoneMatch !== undefined
      ? ifNoneMatch.split(",").some((t) => t.trim() === etag || t.trim() === "*")
      : ifModifiedSince !== undefined &&
        Date.parse(ifModifiedSince) >= Math.floor(info.mtimeMs / 1000) * 1000;
  if (fresh) return response(304, "", headers);
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return notFound();
  }
  return response(200, body, headers);
}

const METHODS = ["GET", "HEAD"] as const;

/**
 * Declares the web UI routes on `sink` (the master process): `/` for
 * `index.html`, `/assets` and `/app` for static files under the directory.
 */
export function installWebui(sink: RouteSink, options: WebuiOptions): void {
  let resolved: Promise<string> | undefined;
  // Resolved on first use, so a UI built after the master started is found.
  const root = (): Promise<string> => {
    resolved ??= resolveWebuiDir(options.dir).then((dir) => {
      void stat(join(dir, "index.html")).catch(() =>
        options.logger?.warn(`No web UI in '${dir}' (--webui_dir): ${NOT_BUILT}`),
      );
      return dir;
    });
    return resolved;
  };

  sink.route(
    "/",
    { methods: METHODS, help: "The web UI (index.html of --webui_dir)." },
    async (request) => {
      const dir = await root();
      const served = await serveFile(request, dir, ["index.html"], "no-cache");
      if (served.status === 404) {
        // Forget the resolution so a later build is picked up.
        resolved = undefined;
        return notFound(NOT_BUILT);
      }
      return served;
    },
  );
  for (const folder of ["assets", "app"]) {
    sink.route(
      `/${folder}`,
      { methods: METHODS, help: `Static files of the web UI (${folder}/ under --webui_dir).` },
      async (request) => {
        const parts = safeSegments(request.remainder);
        if (parts === undefined) return notFound();
        const dir = await root();
        const name = parts[parts.length - 1] ?? "";
        const cache =
          folder === "assets" && HASHED_NAME.test(name)
            ? "public, max-age=31536000, immutable"
            : "no-cache";
        return serveFile(request, join(dir, folder), parts, cache);
      },
    );
  }
}
