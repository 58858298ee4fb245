// Admins only (the tab appears when the API lets the caller read the migration status): how many
// users are on Vault tokens vs the shared environment token, and revoking a user's secret.
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, ok, type Schemas } from "../api/client";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { ErrorText, Loading, formatTime } from "../components/ui";
import { announce } from "../state";

export function AdminTab() {
  const [status, setStatus] = useState<Schemas["MigrationStatusRead"] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [userDraft, setUserDraft] = useState("");
  const [user, setUser] = useState<string | null>(null);
  const [secrets, setSecrets] = useState<Schemas["SecretSummary"][] | null>(null);
  const [userError, setUserError] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);

  useEffect(() => {
    ok(api.GET("/api/v1/admin/migration-status"))
      .then(setStatus)
      .catch((failure) => setError(errorMessage(failure)));
  }, []);

  async function loadUser(id: string) {
    try {
      const list = await ok(api.GET("/api/v1/admin/users/{user_id}/secrets", { params: { path: { user_id: id } } }));
      setSecrets(list.secrets);
      setUserError(null);
    } catch (failure) {
      setSecrets(null);
      setUserError(errorMessage(failure));
    }
  }

  const percent = status && status.users > 0 ? Math.round((status.vault / status.users) * 100) : 0;
  return (
    <div>
      <h3>Migration Status</h3>
      <ErrorText error={error} />
      {!status && !error && <Loading what="the migration status" />}
      {status && (
        <div class="card">
          <div class="stats">
            <Stat label="Users" value={status.users} />
            <Stat label="On Vault tokens" value={status.vault} />
            <Stat label="On the shared environment token" value={status.env} />
            <Stat label="No Railway token" value={status.none} />
          </div>
          <label for="migration-progress">Users migrated to Vault: {percent}%</label>
          <progress id="migration-progress" max={100} value={percent}>
            {percent}%
          </progress>
          <p class="muted">
            Per-user tokens in Vault are {status.vault_enabled ? "enabled" : "disabled"}; the shared RAILWAY_API_TOKEN is{" "}
            {status.env_token_configured ? "still configured" : "not configured"}.
          </p>
        </div>
      )}
      <h3>Revoke a user's secret</h3>
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          const id = userDraft.trim();
          if (!id) return;
          setUser(id);
          loadUser(id);
        }}
      >
        <label>
          User id
          <input value={userDraft} autoComplete="off" onInput={(event) => setUserDraft(event.currentTarget.value)} />
        </label>
        <button type="submit">Show secrets</button>
      </form>
      <ErrorText error={userError} />
      {user && secrets && secrets.length === 0 && <p class="muted">{user} has no secrets.</p>}
      {user && secrets && secrets.length > 0 && (
        <table>
          <caption class="visually-hidden">Secrets of {user}</caption>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Type</th>
              <th scope="col">Updated</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {secrets.map((secret) => (
              <tr key={secret.key}>
                <th scope="row">
                  <code>{secret.key}</code>
                </th>
                <td>{secret.type}</td>
                <td>{formatTime(secret.updated_at)}</td>
                <td>
                  <button type="button" class="small danger" onClick={() => setRevoking(secret.key)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {user && revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking}`}
          confirmLabel="Revoke"
          danger
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await ok(api.DELETE("/api/v1/admin/users/{user_id}/secrets/{key}", { params: { path: { user_id: user, key: revoking } } }));
            announce("success", `Revoked ${revoking} of ${user}.`);
            await loadUser(user);
          }}
        >
          <p>
            Revoke {user}'s secret {revoking}? It is soft-deleted (versions kept) and the revocation is recorded in the
            audit trail with your name.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function Stat({ label, value }: { label: string; value: number }) {
  return (
    <div class="stat">
      <span class="stat-value">{value}</span>
      <span class="stat-label">{label}</span>
    </div>
  );
}
