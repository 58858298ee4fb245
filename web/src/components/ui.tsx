// Small shared pieces: dates, a button that says why it is disabled, the status line.
import type { ComponentChildren } from "preact";
import { useId } from "preact/hooks";
import { creationBlockedReason } from "../state";

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "never";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A button that creates something: disabled in degraded mode, with the reason next to it. */
export function CreateButton(props: { onClick: () => void; children: ComponentChildren; primary?: boolean }) {
  const reason = creationBlockedReason();
  const reasonId = useId();
  return (
    <span class="create-button">
      <button
        type="button"
        class={props.primary === false ? "" : "primary"}
        onClick={props.onClick}
        disabled={reason !== null}
        aria-describedby={reason ? reasonId : undefined}
      >
        {props.children}
      </button>
      {reason && (
        <span id={reasonId} class="hint">
          {reason}
        </span>
      )}
    </span>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorText({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p class="message error" role="alert">
      {error}
    </p>
  );
}
