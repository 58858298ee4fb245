// Export an environment as .env text: values masked until "Reveal values" (each reveal is an
// audited read of that variable). The download holds what is on screen, masked or not.
import { useState } from "preact/hooks";
import { Modal } from "../components/Modal";
import { MASK } from "../components/SecretValue";
import { api, errorMessage, ok, saveBlob } from "../api/client";
import { announce } from "../state";

type Props = { envId: string; keys: string[]; onClose: () => void };

function quoted(value: string): string {
  return /^[A-Za-z0-9_./:@-]*$/.test(value)
    ? value
    : `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\$/g, "\\$")}"`;
}

export function ExportModal({ envId, keys, onClose }: Props) {
  const [values, setValues] = useState<Map<string, string> | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const text = keys.map((key) => `${key}=${values ? quoted(values.get(key) ?? "") : MASK}`).join("\n");

  async function reveal() {
    if (values) {
      setValues(null);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // One audited read of the whole environment, not one per variable.
      const all = await ok(api.GET("/api/v1/environments/{env_id}/values", { params: { path: { env_id: envId } } }));
      const read = new Map<string, string>(Object.entries(all.secrets));
      setValues(read);
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  }

  async function copy() {
    try {
      await navigator.clipboard.writeText(text + "\n");
      announce("success", values ? "Copied the .env text with values." : "Copied the .env text (values masked).");
    } catch {
      announce("error", "The browser did not allow copying to the clipboard.");
    }
  }

  return (
    <Modal title={`Export ${envId}`} onClose={onClose} wide>
      <p>
        {values
          ? "Values are shown. Close this dialog or hide them when you are done."
          : "Values are masked. “Reveal values” reads them (recorded in your activity)."}
      </p>
      <pre class="secret-text" aria-label={`.env export of ${envId}${values ? "" : ", values masked"}`} tabIndex={0}>
        {text || "# no variables"}
      </pre>
      {error && (
        <p class="message error" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="button" onClick={reveal} disabled={busy || keys.length === 0} aria-pressed={values !== null} data-autofocus>
          {values ? "Hide values" : busy ? "Reading…" : "Reveal values"}
        </button>
        <button type="button" onClick={copy}>
          Copy
        </button>
        <button type="button" onClick={() => saveBlob(new Blob([text + "\n"], { type: "text/plain" }), `${envId}.env`)}>
          Download .env
        </button>
        <button type="button" class="primary" onClick={onClose}>
          Done
        </button>
      </div>
    </Modal>
  );
}
