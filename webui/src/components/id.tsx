/** An id shown short, with the full id on hover and a copy button. */
import { useState } from "preact/hooks";
import { copyText } from "../lib/clipboard";
import { shortId } from "../lib/format";

export function Id(props: { value: string; href?: string; full?: boolean }) {
  const [copied, setCopied] = useState(false);
  const text = props.full === true ? props.value : shortId(props.value);
  const copy = (event: Event): void => {
    event.preventDefault();
    event.stopPropagation();
    void copyText(props.value).then((ok) => {
      setCopied(ok);
      if (ok) window.setTimeout(() => setCopied(false), 1200);
    });
  };
  return (
    <span class="id" title={props.value}>
      {props.href !== undefined ? <a href={props.href}>{text}</a> : <code>{text}</code>}
      <button
        type="button"
        class="copy"
        onClick={copy}
        aria-label={`Copy ${props.value}`}
        title={copied ? "Copied" : "Copy full id"}
      >
        {copied ? (
          "✓"
        ) : (
          <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
            <rect
              x="5"
              y="5"
              width="9"
              height="9"
              rx="1.5"
              fill="none"
              stroke="currentColor"
              stroke-width="1.5"
            />
            <path
              d="M11 3.5V3a1 1 0 0 0-1-1H3a1 1 0 0 0-1 1v7a1 1 0 0 0 1 1h.5"
              fill="none"
              stroke="currentColor"
              stroke-width="1.5"
            />
          </svg>
        )}
      </button>
    </span>
  );
}
