import { useId, useState } from "preact/hooks";
import { Modal } from "../components/Modal";
import { api, errorMessage, ok } from "../api/client";
import { announce } from "../state";

type Props = { envId: string; existingKey?: string; onClose: () => void; onSaved: () => void };
const POSIX = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function EnvSecretModal({ envId, existingKey, onClose, onSaved }: Props) {
  const [key, setKey] = useState(existingKey ?? "");
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ids = { key: useId(), value: useId(), keyHelp: useId() };
  const keyProblem = key && !POSIX.test(key) ? "A variable name is letters, digits and “_”, not starting with a digit." : null;

  async function submit(event: Event) {
    event.preventDefault();
    if (!key || keyProblem) return setError(keyProblem ?? "Enter a variable name.");
    setBusy(true);
    setError(null);
    try {
      await ok(api.POST("/api/v1/environments/{env_id}/secrets", { params: { path: { env_id: envId } }, body: { key, value } }));
      announce("success", `${key} saved in ${envId}.`);
      onSaved();
      onClose();
    } catch (failure) {
      setError(errorMessage(failure));
      setBusy(false);
    }
  }
  return (
    <Modal title={existingKey ? `Edit ${existingKey}` : "Add Secret"} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <label for={ids.key}>Variable name</label>
        <input
          id={ids.key}
          value={key}
          readOnly={existingKey !== undefined}
          autoComplete="off"
          spellcheck={false}
          aria-invalid={keyProblem !== null}
          aria-describedby={ids.keyHelp}
          data-autofocus={existingKey ? undefined : true}
          onInput={(event) => setKey(event.currentTarget.value)}
        />
        <p id={ids.keyHelp} class={keyProblem ? "hint invalid" : "hint"}>
          {keyProblem ?? "For example DATABASE_URL."}
        </p>
        <label for={ids.value}>Value</label>
        <input
          id={ids.value}
          type="password"
          autoComplete="off"
          value={value}
          data-autofocus={existingKey ? true : undefined}
          onInput={(event) => setValue(event.currentTarget.value)}
        />
        {error && (
          <p class="message error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}
