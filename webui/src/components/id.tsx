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
        {copied ? "✓" : "⧉"}
      </button>
    </span>
  );
}
