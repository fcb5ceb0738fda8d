/**
 * `/help`, `/help/<process>` and `/help/<process>/<endpoint>`: pages
 * generated from the help text every route declares (ProcessBase.routes()),
 * as libprocess' help process serves them. Browsers (an `Accept` that names
 * `text/html`) get an HTML page; other clients get the Markdown text
 * (`text/x-markdown`), and `/help?format=json` the whole map as JSON.
 *
 * A route's help text: its first line is the summary (TL;DR), the rest the
 * description.
 */
import { ProcessBase } from "../process/process-base.js";
import type { HttpRequest } from "./request.js";
import { badRequest, type HttpResponse, ok, response } from "./response.js";
import type { RouteInfo, RouteMatch } from "./route-table.js";

/** One process' endpoints, for the help pages. */
export interface HelpSource {
  readonly id: string;
  routes(): RouteInfo[];
}

/** Processes libprocess keeps out of its help pages. */
const UNLISTED: ReadonlySet<string> = new Set(["__processes__"]);

/** The sources the help pages show: those with routes, minus the unlisted ones. */
function listed(sources: readonly HelpSource[]): HelpSource[] {
  return sources.filter((s) => !UNLISTED.has(s.id) && s.routes().length > 0);
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function splitHelp(help: string): { tldr: string; description: string } {
  const nl = help.indexOf("\n");
  if (nl < 0) return { tldr: help.trim(), description: "" };
  return { tldr: help.slice(0, nl).trim(), description: help.slice(nl + 1).trim() };
}

function byPath(a: RouteInfo, b: RouteInfo): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** The page for a help request, in Markdown and HTML, or the reason there is none. */
export type HelpPage =
  | { ok: true; title: string; markdown: string; html: string }
  | { ok: false; message: string };

/**
 * Builds the help page for `/help` (no id), `/help/<id>` or
 * `/help/<id>/<endpoint>` (`endpoint` without a leading slash, may contain
 * slashes). `base` is the URL prefix of the help process (`/help`).
 */
export function helpPage(
  sources: readonly HelpSource[],
  id: string | undefined,
  endpoint: string | undefined,
  base = "/help",
): HelpPage {
  const sorted = listed(sources).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (id === undefined) {
    const md = ["## HELP", ...sorted.map((s) => `> [/${s.id}](${base}/${s.id})`)];
    const html = sorted
      .map((s) => `<li><a href="${base}/${encodeURI(s.id)}">/${escapeHtml(s.id)}</a></li>`)
      .join("\n");
    return {
      ok: true,
      title: "Help",
      markdown: `${md.join("\n")}\n`,
      html: `<h2>HELP</h2>\n<ul>\n${html}\n</ul>`,
    };
  }
  const source = sorted.find((s) => s.id === id);
  if (source === undefined) return { ok: false, message: `No help available for '/${id}'.` };
  const routes = uniqueRoutes(source.routes()).sort(byPath);
  if (endpoint === undefined) {
    const md = [`## \`/${id}\` ##`];
    const items: string[] = [];
    for (const r of routes) {
      const path = `/${id}${r.path === "/" ? "" : r.path}`;
      md.push(`> [${path}](${base}${path}) ${splitHelp(r.help).tldr}`);
      items.push(
        `<li><a href="${base}${encodeURI(path)}">${escapeHtml(path)}</a> — ${escapeHtml(splitHelp(r.help).tldr)}</li>`,
      );
    }
    return {
      ok: true,
      title: `/${id}`,
      markdown: `${md.join("\n")}\n`,
      html: `<h2><code>/${escapeHtml(id)}</code></h2>\n<ul>\n${items.join("\n")}\n</ul>`,
    };
  }
  const wanted = `/${endpoint.replace(/^\/+|\/+$/g, "")}`;
  const route = routes.find((r) => r.path === wanted);
  if (route === undefined) {
    return { ok: false, message: `No help available for '/${id}${wanted}'.` };
  }
  const { tldr, description } = splitHelp(route.help);
  const usage = `/${id}${wanted}`;
  const methods = route.methods === undefined ? "any" : route.methods.join(", ");
  const md = [
    "### USAGE ###",
    `>        ${usage}`,
    "",
    "### TL;DR; ###",
    tldr,
    "",
    "### DESCRIPTION ###",
    description === "" ? tldr : description,
    "",
    "### METHODS ###",
    methods,
    "",
  ];
  const html = [
    "<h3>USAGE</h3>",
    `<blockquote><code>${escapeHtml(usage)}</code></blockquote>`,
    "<h3>TL;DR;</h3>",
    `<p>${escapeHtml(tldr)}</p>`,
    "<h3>DESCRIPTION</h3>",
    `<pre>${escapeHtml(description === "" ? tldr : description)}</pre>`,
    "<h3>METHODS</h3>",
    `<p>${escapeHtml(methods)}</p>`,
  ].join("\n");
  return { ok: true, title: usage, markdown: md.join("\n"), html };
}

/** One entry per path (a path declared for several methods shows once). */
function uniqueRoutes(routes: readonly RouteInfo[]): RouteInfo[] {
  const out = new Map<string, RouteInfo>();
  for (const r of routes) {
    const seen = out.get(r.path);
    if (seen === undefined) out.set(r.path, r);
    else if (seen.methods !== undefined && r.methods !== undefined) {
      out.set(r.path, { ...seen, methods: [...seen.methods, ...r.methods] });
    }
  }
  return [...out.values()];
}

/** The whole help map as JSON (`/help?format=json`). */
export function helpJson(sources: readonly HelpSource[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const s of listed(sources).sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const routes = uniqueRoutes(s.routes()).sort(byPath);
    if (routes.length === 0) continue;
    const m: Record<string, string> = {};
    for (const r of routes) m[r.path] = r.help;
    out[s.id] = m;
  }
  return out;
}

/** True when the client asks for HTML (a browser). */
export function wantsHtml(request: HttpRequest): boolean {
  const accept = request.header("accept");
  return accept !== undefined && /(^|,)\s*text\/html\b/i.test(accept);
}

function htmlDocument(title: string, body: string): string {
  return (
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    "<style>body{font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:1.6;padding:30px}" +
    "blockquote{border-left:5px solid #ddd;padding:0 10px;color:#777;margin:0 0 20px}" +
    "a{color:#0088cc;text-decoration:none}pre{white-space:pre-wrap}</style></head>" +
    `<body>\n${body}\n</body></html>\n`
  );
}

/**
 * Answers a help request. `rest` is the path below the help process
 * (`master/state`, `master`, or "").
 */
export function serveHelp(
  request: HttpRequest,
  sources: readonly HelpSource[],
  rest: string,
  base = "/help",
): HttpResponse {
  const trimmed = rest.replace(/^\/+|\/+$/g, "");
  if (trimmed === "" && request.query.get("format") === "json") {
    return response(200, JSON.stringify(helpJson(sources)), { "Content-Type": "application/json" });
  }
  const slash = trimmed.indexOf("/");
  const id = trimmed === "" ? undefined : slash < 0 ? trimmed : trimmed.slice(0, slash);
  const endpoint = slash < 0 ? undefined : trimmed.slice(slash + 1);
  const page = helpPage(
    sources,
    id === undefined ? undefined : decodeURIComponentSafe(id),
    endpoint,
    base,
  );
  if (!page.ok) return badRequest(`${page.message}\n`);
  if (wantsHtml(request)) {
    return response(200, htmlDocument(page.title, page.html), {
      "Content-Type": "text/html; charset=utf-8",
    });
  }
  return ok(page.markdown, "text/x-markdown; charset=utf-8");
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Help text of the help process' own route. */
export const HELP_HELP =
  "Lists the endpoints of every process, and each endpoint's usage.\n" +
  "/help lists processes, /help/<process> their endpoints, /help/<process>/<endpoint> one endpoint. " +
  "Browsers get HTML; other clients Markdown; /help?format=json gives everything as JSON.";

/**
 * The `help` process: serves every path below `/help` from the routes of
 * the host's processes (`list` is called per request, so processes spawned
 * later appear).
 */
export class HelpProcess extends ProcessBase {
  constructor(private readonly list: () => readonly HelpSource[]) {
    super("help");
    // Any method, as libprocess' help route does not look at it.
    this.route("/", { help: HELP_HELP }, (r) => this.serve(r));
  }

  /** Every path below /help is a help page, so the lookup accepts them all. */
  override lookupRoute(name: string, method: string): RouteMatch {
    const root = super.lookupRoute("", method);
    if (root.kind !== "found") return root;
    return { ...root, routePath: "/", remainder: name === "" ? "" : `/${name}` };
  }

  private serve(request: HttpRequest): HttpResponse {
    return serveHelp(request, this.list(), request.remainder, `/${this.id}`);
  }
}
