/** A time shown as "3 minutes ago", the exact time on hover. */
import { formatRelative, formatTimestamp } from "../lib/format";

export function Ago(props: { seconds: number }) {
  if (!(props.seconds > 0)) return <span class="muted">–</span>;
  return (
    <time
      dateTime={new Date(props.seconds * 1000).toISOString()}
      title={formatTimestamp(props.seconds)}
    >
      {formatRelative(props.seconds)}
    </time>
  );
}
