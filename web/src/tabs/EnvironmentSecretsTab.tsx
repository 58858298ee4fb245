// One environment's variables. The API has no list of environments: the user names one (the id
// Mirage uses for it), and the page remembers it for this tab only, in memory.
import { useState } from "preact/hooks";
import { api, errorMessage, ok } from "../api/client";
import { EnvSecretModal } from "../modals/EnvSecretModal";
import { BulkImportModal } from "../modals/BulkImportModal";
import { ExportModal } from "../modals/ExportModal";
import { SyncModal } from "../modals/SyncModal";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { SecretValue } from "../components/SecretValue";
import { CreateButton, ErrorText, formatTime } from "../components/ui";
import { announce, lastEnvironment } from "../state";

type Dialog = { kind: "add" } | { kind: "edit"; key: string } | { kind: "bulk" } | { kind: "export" } | { kind: "sync" } | { kind: "delete"; key: string };

export function EnvironmentSecretsTab() {
  const [draft, setDraft] = useState(lastEnvironment.value);
  const [envId, setEnvId] = useState<string | null>(null);
  const [keys, setKeys] = useState<string[] | null>(null);
  const [expiry, setExpiry] = useState<{ expired: string[]; at: Record<string, string> }>({ expired: [], at: {} });
  const [error, setError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<Dialog | null>(null);

  async function load(id: string) {
    try {
      const list = await ok(api.GET("/api/v1/environments/{env_id}/secrets", { params: { path: { env_id: id } } }));
      setKeys([...list.secrets].sort());
      setExpiry({ expired: list.expired ?? [], at: list.expires_at ?? {} });
      setError(null);
    } catch (failure) {
      setKeys(null);
      setError(errorMessage(failure));
    }
  }

  function open(event: Event) {
    event.preventDefault();
    const id = draft.trim();
    if (!id) return setError("Enter an environment id.");
    lastEnvironment.value = id;
    setEnvId(id);
    load(id);
  }

  const close = () => setDialog(null);
  const reload = () => envId && load(envId);

  return (
    <div>
      <h3>Environment Secrets</h3>
      <form class="toolbar" onSubmit={open}>
        <label>
          Environment id
          <input value={draft} autoComplete="off" spellcheck={false} onInput={(event) => setDraft(event.currentTarget.value)} />
        </label>
        <button type="submit">Open environment</button>
      </form>
      <ErrorText error={error} />
      {envId && keys && (
        <>
          <p class="message warning" role="note">
            These variables are synced to Railway when you push them: anyone with access to the Railway environment can
            read them there. Use “Sync to Railway” to see the changes before they are pushed.
          </p>
          <div class="toolbar">
            <CreateButton onClick={() => setDialog({ kind: "add" })}>Add Secret</CreateButton>
            <CreateButton primary={false} onClick={() => setDialog({ kind: "bulk" })}>
              Bulk Import
            </CreateButton>
            <button type="button" onClick={() => setDialog({ kind: "export" })}>
              Export
            </button>
            <button type="button" onClick={() => setDialog({ kind: "sync" })} disabled={keys.length === 0}>
              Sync to Railway
            </button>
          </div>
          {keys.length === 0 ? (
            <p class="muted">No variables in {envId} yet.</p>
          ) : (
            <table>
              <caption class="visually-hidden">Variables of {envId}</caption>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Value</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {keys.map((key) => (
                  <tr key={key}>
                    <th scope="row">
                      <code>{key}</code>
                      {expiry.expired.includes(key) && <span class="badge bad">Expired</span>}
                      {!expiry.expired.includes(key) && expiry.at[key] && (
                        <div class="muted small-text">Expires {formatTime(expiry.at[key])}</div>
                      )}
                    </th>
                    <td>
                      <SecretValue
                        label={key}
                        load={async () =>
                          (await ok(api.GET("/api/v1/environments/{env_id}/secrets/{key}", { params: { path: { env_id: envId, key } } })))
                            .value
                        }
                      />
                    </td>
                    <td class="row-actions">
                      <button type="button" class="small" onClick={() => setDialog({ kind: "edit", key })}>
                        Edit
                      </button>
                      <button type="button" class="small danger" onClick={() => setDialog({ kind: "delete", key })}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      {envId && dialog?.kind === "add" && <EnvSecretModal envId={envId} onClose={close} onSaved={reload} />}
      {envId && dialog?.kind === "edit" && <EnvSecretModal envId={envId} existingKey={dialog.key} onClose={close} onSaved={reload} />}
      {envId && dialog?.kind === "bulk" && <BulkImportModal envId={envId} existing={keys ?? []} onClose={close} onImported={reload} />}
      {envId && dialog?.kind === "export" && <ExportModal envId={envId} keys={keys ?? []} onClose={close} />}
      {envId && dialog?.kind === "sync" && <SyncModal envId={envId} onClose={close} />}
      {envId && dialog?.kind === "delete" && (
        <ConfirmDialog
          title={`Delete ${dialog.key}`}
          confirmLabel="Delete"
          danger
          onClose={close}
          onConfirm={async () => {
            await ok(api.DELETE("/api/v1/environments/{env_id}/secrets/{key}", { params: { path: { env_id: envId, key: dialog.key } } }));
            announce("success", `${dialog.key} removed from ${envId}.`);
            await load(envId);
          }}
        >
          <p>
            Remove {dialog.key} from {envId}? The next sync to Railway with “remove” checked deletes it there too.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
