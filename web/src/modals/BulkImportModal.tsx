// Paste KEY=value lines, see what would be added, changed and left alone, then import: nothing is
// written before "Import". Values stay masked in the preview.
import { useId, useState } from "preact/hooks";
import { Modal } from "../components/Modal";
import { api, errorMessage, ok } from "../api/client";
import { DotenvError, parseDotenv } from "../dotenv";
import { announce } from "../state";

type Props = { envId: string; existing: string[]; onClose: () => void; onImported: () => void };
type Preview = { variables: Map<string, string>; added: string[]; changed: string[]; unchanged: string[] };

export function BulkImportModal({ envId, existing, onClose, onImported }: Props) {
  const [text, setText] = useState("");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const textId = useId();
  const helpId = useId();

  async function makePreview() {
    setError(null);
    setPreview(null);
    let variables: Map<string, string>;
    try {
      variables = parseDotenv(text);
    } catch (failure) {
      setError(failure instanceof DotenvError ? failure.message : errorMessage(failure));
      return;
    }
    if (variables.size === 0) {
      setError("Paste at least one KEY=value line.");
      return;
    }
    setBusy(true);
    try {
      // The current values, in one audited read, only when some pasted name already exists.
      const current: Record<string, string> = existing.some((key) => variables.has(key))
        ? (await ok(api.GET("/api/v1/environments/{env_id}/values", { params: { path: { env_id: envId } } }))).secrets
        : {};
      const added: string[] = [];
      const changed: string[] = [];
      const unchanged: string[] = [];
      for (const [key, value] of variables) {
        if (!(key in current)) added.push(key);
        else (current[key] === value ? unchanged : changed).push(key);
      }
      setPreview({ variables, added, changed, unchanged });
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  }

  async function importAll() {
    if (!preview) return;
    setBusy(true);
    setError(null);
    try {
      const stored = await ok(
        api.POST("/api/v1/environments/{env_id}/secrets/bulk", {
          params: { path: { env_id: envId } },
          body: { secrets: Object.fromEntries(preview.variables) },
        }),
      );
      announce("success", `Imported ${stored.stored} variables into ${envId}.`);
      setText("");
      onImported();
      onClose();
    } catch (failure) {
      setError(errorMessage(failure));
      setBusy(false);
    }
  }

  return (
    <Modal title="Bulk Import" onClose={onClose} wide>
      <label for={textId}>Variables for {envId} (KEY=value, one a line)</label>
      <textarea
        id={textId}
        rows={8}
        spellcheck={false}
        autoComplete="off"
        class="secret-text"
        value={text}
        aria-describedby={helpId}
        data-autofocus
        onInput={(event) => {
          setText(event.currentTarget.value);
          setPreview(null);
        }}
      />
      <p id={helpId} class="hint">
        .env syntax: # comments, export KEY=value, 'single' and "double" quotes. Nothing is written until you import.
      </p>
      {error && (
        <p class="message error" role="alert">
          {error}
        </p>
      )}
      {preview && (
        <section aria-label="Import preview" class="preview">
          <PreviewList title="Will be added" keys={preview.added} />
          <PreviewList title="Will be changed" keys={preview.changed} />
          <PreviewList title="Left alone (same value)" keys={preview.unchanged} />
        </section>
      )}
      <div class="actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" onClick={makePreview} disabled={busy || !text.trim()}>
          Preview
        </button>
        <button type="button" class="primary" onClick={importAll} disabled={busy || !preview || preview.added.length + preview.changed.length === 0}>
          {preview ? `Import ${preview.added.length + preview.changed.length} variables` : "Import"}
        </button>
      </div>
    </Modal>
  );
}

function PreviewList({ title, keys }: { title: string; keys: string[] }) {
  return (
    <div role="group" aria-label={`${title}: ${keys.length}`}>
      <h3>
        {title}: {keys.length}
      </h3>
      {keys.length > 0 && (
        <ul class="key-list">
          {keys.map((key) => (
            <li key={key}>
              <code>{key}</code>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
