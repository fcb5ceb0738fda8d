/** The one ClusterStore of the page, and a hook that re-renders on its changes. */
import { createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import type { ClusterStore } from "../api/cluster-store";

export const StoreContext = createContext<ClusterStore | undefined>(undefined);

export function useStore(): ClusterStore {
  const store = useContext(StoreContext);
  if (store === undefined) throw new Error("no ClusterStore in context");
  // Subscribing here makes every user re-render when the store changes.
  const [, setVersion] = useState(store.version);
  useEffect(() => store.subscribe(() => setVersion(store.version)), [store]);
  return store;
}
