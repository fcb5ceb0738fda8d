/** Entry point: one ClusterStore, hash routes to pages. */
import { render } from "preact";
import { ClusterStore } from "./api/cluster-store";
import { Layout } from "./components/layout";
import { Failed, Loading } from "./components/notice";
import { StoreContext, useStore } from "./components/store-context";
import { type Route, redirect, useRoute } from "./lib/router";
import { Agent } from "./pages/agent";
import { AgentExecutor, AgentFramework } from "./pages/agent-executor";
import { Agents } from "./pages/agents";
import { Dashboard } from "./pages/dashboard";
import { Framework } from "./pages/framework";
import { Frameworks } from "./pages/frameworks";
import { Maintenance } from "./pages/maintenance";
import { Offers } from "./pages/offers";
import { Roles } from "./pages/roles";
import { AgentLog, Browse, MasterLog, SandboxRerouter, ViewFile } from "./pages/sandbox";
import "./styles.css";

function page(route: Route) {
  const s = route.segments;
  const [a, b, c, d, e, f, g, h, i] = s;
  switch (a) {
    case undefined:
      return <Dashboard />;
    case "frameworks":
      return b === undefined ? <Frameworks /> : <Framework id={b} />;
    case "agents":
      if (b === undefined) return <Agents />;
      if (c === undefined) return <Agent id={b} />;
      if (c === "browse") return <Browse agentId={b} path={route.query.get("path") ?? "/"} />;
      if (c === "view") return <ViewFile agentId={b} path={route.query.get("path") ?? ""} />;
      if (c === "log") return <AgentLog agentId={b} />;
      if (c === "frameworks" && d !== undefined && e === "executors" && f !== undefined) {
        if (g === "browse") return <SandboxRerouter agentId={b} frameworkId={d} executorId={f} />;
        if (g === "tasks" && h !== undefined && i === "browse") {
          return <SandboxRerouter agentId={b} frameworkId={d} executorId={f} taskId={h} />;
        }
      }
      if (c === "frameworks" && d !== undefined && e === undefined) {
        return <AgentFramework agentId={b} frameworkId={d} />;
      }
      if (c === "frameworks" && d !== undefined && e === "executors" && f !== undefined) {
        if (g === undefined) return <AgentExecutor agentId={b} frameworkId={d} executorId={f} />;
      }
      break;
    case "roles":
      return <Roles />;
    case "offers":
      return <Offers />;
    case "maintenance":
      return <Maintenance />;
    case "log":
      return <MasterLog />;
    case "slaves":
      // Routes from before Mesos 1.0 named agents "slaves".
      redirect(`#/agents${route.hash.slice("/slaves".length)}`);
      return null;
  }
  return <Failed what="Opening the page" detail={`there is no page '#${route.hash}'.`} />;
}

/** Pages that list tasks, offers or executors wait for the full state (the quick summary has none). */
function needsFullState(route: Route): boolean {
  const [a, b, c] = route.segments;
  if (a === "offers" || a === "roles") return true;
  if (a === "frameworks" && b !== undefined) return true;
  return a === "agents" && b !== undefined && (c === undefined || c === "frameworks");
}

function App() {
  const route = useRoute();
  const store = useStore();
  if (store.cluster?.partial === true && needsFullState(route)) {
    return (
      <Layout section={route.segments[0] ?? ""}>
        <Loading what="the cluster state" />
      </Layout>
    );
  }
  const section = route.segments[0] === "log" ? "" : (route.segments[0] ?? "");
  return (
    <Layout section={section}>
      <div key={route.hash}>{page(route)}</div>
    </Layout>
  );
}

const store = new ClusterStore();
// Hooks for the browser tests and the render benchmark.
(window as unknown as { __mesosUi: unknown }).__mesosUi = {
  store,
  timings: store.timings,
  refresh: () => store.refresh(),
};
store.start();

const root = document.getElementById("app");
if (root !== null) {
  render(
    <StoreContext.Provider value={store}>
      <App />
    </StoreContext.Provider>,
    root,
  );
}
