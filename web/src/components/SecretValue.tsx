// A value stays masked until the user asks to see it; reading it is the caller's (audited) API
// call, made only on "Reveal". Copy fetches it too, without showing it.
import { useState } from "preact/hooks";
import { errorMessage } from "../api/client";
import { announce } from "../state";

const MASK = "••••••••••••";

type Props = { label: string; load: () => Promise<string> };

export function SecretValue({ label, load }: Props) {
  const [value, setValue] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function fetchValue(): Promise<string | null> {
    setError(null);
    try {
      return await load();
    } catch (failure) {
      setError(errorMessage(failure));
      return null;
    }
  }
  async function toggle() {
    if (value !== null) {
      setValue(null);
      return;
    }
    setValue(await fetchValue());
  }
  async function copy() {
    const text = value ?? (await fetchValue());
    if (text === null) return;
    try {
      await navigator.clipboard.writeText(text);
      announce("success", `Copied the value of ${label} to the clipboard.`);
    } catch {
      announce("error", "The browser did not allow copying to the clipboard.");
    }
  }
  return (
    <span class="secret-value">
      <code aria-label={value === null ? `Value of ${label}, hidden` : `Value of ${label}`}>{value ?? MASK}</code>
      <button type="button" class="small" onClick={toggle} aria-label={`${value === null ? "Reveal" : "Hide"} value of ${label}`}>
        {value === null ? "Reveal" : "Hide"}
      </button>
      <button type="button" class="small" onClick={copy} aria-label={`Copy value of ${label}`}>
        Copy
      </button>
      {error && (
        <span class="message error inline" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

export { MASK };
