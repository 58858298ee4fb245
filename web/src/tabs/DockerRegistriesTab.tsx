import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, ok, type Schemas } from "../api/client";
import { RegistryModal } from "../modals/RegistryModal";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { CreateButton, ErrorText, Loading, formatTime } from "../components/ui";
import { announce } from "../state";

// "Last used": when a consumer last fetched the credentials; before that, the last login test.
type Registry = Schemas["DockerCredentialsRead"];

export function DockerRegistriesTab() {
  const [rows, setRows] = useState<Registry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Registry | "new" | null>(null);
  const [removing, setRemoving] = useState<Registry | null>(null);

  async function load() {
    try {
      const { registries } = await ok(api.GET("/api/v1/secrets/docker"));
      const details = await Promise.all(
        registries.map((registry) => ok(api.GET("/api/v1/secrets/docker/{registry}", { params: { path: { registry } } }))),
      );
      setRows(details as Registry[]);
      setError(null);
    } catch (failure) {
      setError(errorMessage(failure));
    }
  }
  useEffect(() => {
    load();
  }, []);

  async function test(registry: string) {
    try {
      const result = await ok(api.POST("/api/v1/secrets/docker/{registry}/test", { params: { path: { registry } } }));
      announce(result.valid ? "success" : "error", `${registry}: ${result.valid ? "login succeeded" : "login failed"} (${result.detail}).`);
      await load();
    } catch (failure) {
      announce("error", errorMessage(failure));
    }
  }

  return (
    <div>
      <h3>Docker Registries</h3>
      <div class="toolbar">
        <CreateButton onClick={() => setEditing("new")}>Add Registry</CreateButton>
      </div>
      <ErrorText error={error} />
      {rows === null && !error && <Loading what="your registries" />}
      {rows !== null && rows.length === 0 && <p class="muted">No registry credentials yet. Use “Add Registry”.</p>}
      {rows !== null && rows.length > 0 && (
        <table>
          <caption class="visually-hidden">Docker registry credentials</caption>
          <thead>
            <tr>
              <th scope="col">Registry URL</th>
              <th scope="col">Username</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.registry}>
                <th scope="row">{row.registry}</th>
                <td>{row.username}</td>
                <td>{formatTime(row.last_used_at ?? row.last_validated)}</td>
                <td class="row-actions">
                  <button type="button" class="small" onClick={() => test(row.registry)}>
                    Test Login
                  </button>
                  <button type="button" class="small" onClick={() => setEditing(row)}>
                    Edit
                  </button>
                  <button type="button" class="small danger" onClick={() => setRemoving(row)}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <RegistryModal
          existing={editing === "new" ? undefined : editing}
          onClose={() => setEditing(null)}
          onSaved={() => load()}
        />
      )}
      {removing && (
        <ConfirmDialog
          title={`Remove ${removing.registry}`}
          confirmLabel="Remove"
          danger
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await ok(api.DELETE("/api/v1/secrets/docker/{registry}", { params: { path: { registry: removing.registry } } }));
            announce("success", `Credentials for ${removing.registry} removed.`);
            await load();
          }}
        >
          <p>Remove the credentials for {removing.registry}? Deployments that pull from it with these credentials will fail.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
