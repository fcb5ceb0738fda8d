/**
 * Which proxy the fetcher's downloads use (curl's environment variables),
 * and that an https URI goes through a CONNECT tunnel.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { downloadToFile, proxyFor } from "../../src/agent/containerizer/download.js";

const proxyOf = (url: string, env: Record<string, string>) => proxyFor(new URL(url), env)?.href;

describe("fetcher proxy settings", () => {
  it("http uses http_proxy (lower case only), https uses https_proxy or HTTPS_PROXY, then all_proxy", () => {
    assert.equal(proxyOf("http://a.example/x", { http_proxy: "p:3128" }), "http://p:3128/");
    assert.equal(proxyOf("http://a.example/x", { HTTP_PROXY: "p:3128" }), undefined);
    assert.equal(proxyOf("https://a.example/x", { http_proxy: "p:3128" }), undefined);
    assert.equal(
      proxyOf("https://a.example/x", { HTTPS_PROXY: "http://q:8080" }),
      "http://q:8080/",
    );
    assert.equal(proxyOf("https://a.example/x", { https_proxy: "http://r:1" }), "http://r:1/");
    assert.equal(proxyOf("http://a.example/x", { all_proxy: "http://s:2" }), "http://s:2/");
  });

  it("no_proxy exempts a host, its subdomains, or everything with *", () => {
    const env = { http_proxy: "http://p:3128", no_proxy: "internal.example, .corp" };
    assert.equal(proxyOf("http://internal.example/x", env), undefined);
    assert.equal(proxyOf("http://files.internal.example/x", env), undefined);
    assert.equal(proxyOf("http://a.corp/x", env), undefined);
    assert.equal(proxyOf("http://other.example/x", env), "http://p:3128/");
    assert.equal(proxyOf("http://other.example/x", { ...env, no_proxy: "*" }), undefined);
  });
});

describe("fetcher downloads through a proxy", () => {
  const connects: string[] = [];
  // Refuses every tunnel, so the https request fails at the CONNECT step.
  const proxy = createServer();
  proxy.on("connect", (req, socket) => {
    connects.push(`${req.url} ${req.headers["proxy-authorization"] ?? ""}`);
    socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
  });
  let dir = "";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "fetcher-proxy-"));
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((r) => proxy.close(() => r()));
  });

  it("an https URI is tunnelled with CONNECT (with the proxy's credentials); a refused tunnel fails readably", async () => {
    const port = (proxy.address() as AddressInfo).port;
    const result = await downloadToFile(
      "https://files.example.test/app.tgz",
      join(dir, "app.tgz"),
      {
        env: { https_proxy: `http://user:pa%3Ass@127.0.0.1:${port}` },
      },
    );
    assert.deepEqual(result, {
      ok: false,
      error: "Error downloading resource: the proxy answered CONNECT with 403",
    });
    assert.deepEqual(connects, [
      `files.example.test:443 Basic ${Buffer.from("user:pa:ss").toString("base64")}`,
    ]);
  });

  it("a SOCKS proxy is refused with a clear message", async () => {
    const result = await downloadToFile("http://files.example.test/a", join(dir, "a"), {
      env: { http_proxy: "socks5://127.0.0.1:1080" },
    });
    assert.deepEqual(result, {
      ok: false,
      error: "Error downloading resource: socks5 proxies are not supported (only http and https)",
    });
  });
});
