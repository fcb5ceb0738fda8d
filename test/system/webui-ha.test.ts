/**
 * The web UI opened on a standby master (high availability with a real
 * ZooKeeper) takes the browser to the leading master, keeping the page.
 * Skips without Debian's Chromium or ZooKeeper.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type BrowserContext, chromium } from "playwright-core";
import { CHROMIUM, chromiumSkip } from "../harness/chromium.js";
import {
  type DaemonHandle,
  getJson,
  startMaster,
  stopAll,
  tempDir,
  waitFor,
} from "../harness/processes.js";
import {
  startZooKeeper,
  ZOOKEEPER_MISSING,
  type ZooKeeper,
  zookeeperAvailable,
} from "../harness/zookeeper.js";

const skip = chromiumSkip || (zookeeperAvailable() ? false : ZOOKEEPER_MISSING);

describe("web UI on a standby master", { skip, timeout: 180_000 }, () => {
  let zk: ZooKeeper | undefined;
  let context: BrowserContext | undefined;

  after(async () => {
    await context?.close();
    await stopAll();
    await zk?.stop();
  });

  it("webui: a standby's UI goes to the leading master's UI, same page", async () => {
    zk = await startZooKeeper();
    const flags = { zk: zk.url("/mesos"), quorum: 1, zk_session_timeout: "5secs" };
    const masters: DaemonHandle[] = [];
    for (let i = 0; i < 2; i++) masters.push(await startMaster({ flags }));
    const elected = async (m: DaemonHandle): Promise<boolean> =>
      (await getJson<Record<string, number>>(`${m.url}/metrics/snapshot`).catch(() => undefined))?.[
        "master/elected"
      ] === 1;
    const leader = await waitFor("a leading master", async () => {
      for (const m of masters) if (await elected(m)) return m;
      return undefined;
    });
    const standby = masters.find((m) => m !== leader);
    assert.ok(standby);
    // The standby knows the leader once /master/redirect points at it.
    await waitFor("the standby to know the leader", async () => {
      const r = await fetch(`${standby.url}/master/redirect`, { redirect: "manual" });
      return r.status === 307 ? true : undefined;
    });

    context = await chromium.launchPersistentContext(tempDir("webui-ha-chromium-"), {
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${standby.url}/#/agents`);
    await page.waitForURL((url) => url.port === String(leader.port) && url.hash === "#/agents", {
      timeout: 60_000,
    });
    await page.locator("h1, h2").first().waitFor({ timeout: 30_000 });
  });
});
