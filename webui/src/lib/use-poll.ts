/** Re-runs a read every few seconds while the component is shown; keeps the last answer. */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Fetched } from "../api/http";

export function usePoll<T>(
  read: (() => Promise<Fetched<T>>) | undefined,
  intervalMs: number,
  deps: readonly unknown[],
): Fetched<T> | undefined {
  const [result, setResult] = useState<Fetched<T> | undefined>(undefined);
  const readRef = useRef(read);
  readRef.current = read;
  useEffect(() => {
    setResult(undefined);
    let stopped = false;
    let timer: number | undefined;
    const tick = async (): Promise<void> => {
      const r = readRef.current;
      if (r === undefined) return;
      const value = await r();
      if (stopped) return;
      setResult(value);
      timer = window.setTimeout(() => void tick(), intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, deps);
  return result;
}
