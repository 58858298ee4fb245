import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorMessage, ok, type Schemas } from "../api/client";
import { SecretModal } from "../modals/SecretModal";
import { VersionHistoryModal } from "../modals/VersionHistoryModal";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { SecretValue } from "../components/SecretValue";
import { CreateButton, ErrorText, Loading, formatTime } from "../components/ui";
import { announce } from "../state";

type Summary = Schemas["SecretSummary"];

export function CustomSecretsTab() {
  const [all, setAll] = useState<Summary[] | null>(null);
  const [rows, setRows] = useState<Summary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  const [type, setType] = useState("");
  const [tag, setTag] = useState("");
  const [editing, setEditing] = useState<Summary | "new" | null>(null);
  const [history, setHistory] = useState<Summary | null>(null);
  const [deleting, setDeleting] = useState<Summary | null>(null);
  const [viewing, setViewing] = useState<string | null>(null);

  // Filters change faster than answers arrive: only the newest request's answer is shown.
  const latest = useRef(0);

  async function load() {
    const request = ++latest.current;
    try {
      const everything = await ok(api.GET("/api/v1/secrets"));
      const filtered = await ok(
        api.GET("/api/v1/secrets", {
          params: { query: { q: search.trim() || undefined, type: type || undefined, tag: tag ? [tag] : undefined } },
        }),
      );
      if (request !== latest.current) return;
      setAll(everything.secrets);
      setRows(filtered.secrets);
      setError(null);
    } catch (failure) {
      if (request === latest.current) setError(errorMessage(failure));
    }
  }
  useEffect(() => {
    const timer = setTimeout(load, search ? 250 : 0);
    return () => clearTimeout(timer);
  }, [search, type, tag]);

  const types = useMemo(() => [...new Set((all ?? []).map((s) => s.type))].sort(), [all]);
  const tags = useMemo(() => [...new Set((all ?? []).flatMap((s) => s.tags))].sort(), [all]);

  return (
    <div>
      <h3>Custom Secrets</h3>
      <div class="toolbar">
        <CreateButton onClick={() => setEditing("new")}>Add Secret</CreateButton>
        <span class="filters">
          <label>
            Search by key
            <input type="search" value={search} onInput={(event) => setSearch(event.currentTarget.value)} />
          </label>
          <label>
            Type
            <select value={type} onChange={(event) => setType(event.currentTarget.value)}>
              <option value="">All types</option>
              {types.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
          <label>
            Tag
            <select value={tag} onChange={(event) => setTag(event.currentTarget.value)}>
              <option value="">All tags</option>
              {tags.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
        </span>
      </div>
      <ErrorText error={error} />
      {rows === null && !error && <Loading what="your secrets" />}
      {rows !== null && rows.length === 0 && (
        <p class="muted">{all && all.length > 0 ? "No secret matches these filters." : "No secrets yet. Use “Add Secret”."}</p>
      )}
      {rows !== null && rows.length > 0 && (
        <table>
          <caption class="visually-hidden">Custom secrets</caption>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Type / tags</th>
              <th scope="col">Created</th>
              <th scope="col">Last accessed</th>
              <th scope="col">Versions</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.key}>
                <th scope="row">
                  <code>{row.key}</code>
                  {row.description && <div class="muted small-text">{row.description}</div>}
                  {row.expired && <span class="badge bad">Expired</span>}
                  {!row.expired && row.expires_at && <div class="muted small-text">Expires {formatTime(row.expires_at)}</div>}
                  {row.rotate_every != null && <div class="muted small-text">Rotate every {row.rotate_every} days</div>}
                  {viewing === row.key && (
                    <div>
                      <SecretValue
                        label={row.key}
                        load={async () => (await ok(api.GET("/api/v1/secrets/{key}", { params: { path: { key: row.key } } }))).value}
                      />
                    </div>
                  )}
                </th>
                <td>
                  <span class="badge neutral">{row.type}</span>{" "}
                  {row.tags.map((t) => (
                    <span key={t} class="tag">
                      {t}
                    </span>
                  ))}
                </td>
                <td>{formatTime(row.created_at)}</td>
                <td>{formatTime(row.last_accessed_at)}</td>
                <td>{row.version_count ?? row.version}</td>
                <td class="row-actions">
                  <button type="button" class="small" aria-expanded={viewing === row.key} onClick={() => setViewing(viewing === row.key ? null : row.key)}>
                    View
                  </button>
                  <button type="button" class="small" onClick={() => setEditing(row)}>
                    Edit
                  </button>
                  <button type="button" class="small" onClick={() => setHistory(row)}>
                    History
                  </button>
                  <button type="button" class="small danger" onClick={() => setDeleting(row)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && <SecretModal existing={editing === "new" ? undefined : editing} onClose={() => setEditing(null)} onSaved={load} />}
      {history && <VersionHistoryModal secretKey={history.key} onClose={() => setHistory(null)} onChanged={load} />}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.key}`}
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            const done = await ok(api.DELETE("/api/v1/secrets/{key}", { params: { path: { key: deleting.key } } }));
            announce("success", `${deleting.key} deleted (${done.versions_archived} versions kept in Vault).`);
            await load();
          }}
        >
          <p>Delete {deleting.key}? Anything that reads it will fail. Its versions are kept in Vault for recovery.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
