// The caller's audit trail: filters, keyset paging ("Older"), CSV export of a date range.
import { useEffect, useState } from "preact/hooks";
import { api, download, errorMessage, ok, type Schemas } from "../api/client";
import type { paths } from "../api/schema";
import { ErrorText, Loading, formatTime } from "../components/ui";
import { announce } from "../state";

type Filters = { secret_key: string; action: string; outcome: string; start_date: string; end_date: string };
const EMPTY: Filters = { secret_key: "", action: "", outcome: "", start_date: "", end_date: "" };
const PAGE = 25;
type AuditQuery = NonNullable<paths["/api/v1/secrets/audit"]["get"]["parameters"]["query"]>;
type Action = NonNullable<AuditQuery["action"]>;
type Outcome = NonNullable<AuditQuery["outcome"]>;
// The API's audit actions and outcomes (typed from the schema, so a renamed one fails the build).
const ACTIONS: Action[] = [
  "create", "read", "read_version", "list", "update", "rotate", "rollback", "delete", "validate", "test_login",
  "sync", "bulk_import", "export", "metadata_read", "metadata_update", "denied", "audit_read", "audit_export",
  "expire", "destroy", "expiry_warning",
];
const OUTCOMES: Outcome[] = ["success", "denied", "not_found", "invalid", "conflict", "unavailable", "error"];

function toIso(date: string, endOfDay: boolean): string | undefined {
  if (!date) return undefined;
  return `${date}T${endOfDay ? "23:59:59" : "00:00:00"}Z`;
}

export function ActivityTab() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Schemas["AuditLogPage"] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const cursor = pages[pages.length - 1] ?? null;

  useEffect(() => {
    let current = true; // a newer filter or page supersedes this request's answer
    setPage(null);
    ok(
      api.GET("/api/v1/secrets/audit", {
        params: {
          query: {
            secret_key: filters.secret_key || undefined,
            action: (filters.action || undefined) as Action | undefined,
            outcome: (filters.outcome || undefined) as Outcome | undefined,
            start_date: toIso(filters.start_date, false),
            end_date: toIso(filters.end_date, true),
            limit: PAGE,
            cursor: cursor ?? undefined,
          },
        },
      }),
    )
      .then((next) => {
        if (!current) return;
        setPage(next);
        setError(null);
      })
      .catch((failure) => current && setError(errorMessage(failure)));
    return () => {
      current = false;
    };
  }, [filters, cursor]);

  function apply(event: Event) {
    event.preventDefault();
    setFilters(draft);
    setPages([null]);
  }

  async function exportCsv() {
    const query = new URLSearchParams({ format: "csv" });
    const start = toIso(filters.start_date, false);
    const end = toIso(filters.end_date, true);
    if (start) query.set("start_date", start);
    if (end) query.set("end_date", end);
    try {
      await download(`/api/v1/secrets/audit/export?${query}`, "mirage-activity.csv");
      announce("success", "Activity exported as CSV.");
    } catch (failure) {
      announce("error", errorMessage(failure));
    }
  }

  const field = (name: keyof Filters) => ({
    value: draft[name],
    onInput: (event: Event) => setDraft({ ...draft, [name]: (event.currentTarget as HTMLInputElement).value }),
  });

  return (
    <div>
      <h3>Activity</h3>
      <form class="toolbar filters" onSubmit={apply} aria-label="Activity filters">
        <label>
          Secret
          <input {...field("secret_key")} />
        </label>
        <label>
          Action
          <select value={draft.action} onChange={(event) => setDraft({ ...draft, action: event.currentTarget.value })}>
            <option value="">All actions</option>
            {ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          Outcome
          <select value={draft.outcome} onChange={(event) => setDraft({ ...draft, outcome: event.currentTarget.value })}>
            <option value="">All outcomes</option>
            {OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="date" {...field("start_date")} />
        </label>
        <label>
          To
          <input type="date" {...field("end_date")} />
        </label>
        <button type="submit">Apply filters</button>
        <button type="button" onClick={exportCsv}>
          Export CSV
        </button>
      </form>
      <ErrorText error={error} />
      {!page && !error && <Loading what="your activity" />}
      {page && page.logs.length === 0 && <p class="muted">No activity matches.</p>}
      {page && page.logs.length > 0 && (
        <table>
          <caption class="visually-hidden">Activity, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Secret</th>
              <th scope="col">Outcome</th>
              <th scope="col">By</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {page.logs.map((log) => (
              <tr key={log.id}>
                <td>{formatTime(log.timestamp)}</td>
                <td>{log.action}</td>
                <td>
                  <code>{log.secret ?? "—"}</code>
                  {log.version != null && <> v{log.version}</>}
                </td>
                <td>
                  <span class={`badge ${log.outcome === "success" ? "good" : "bad"}`}>{log.outcome}</span>
                  {log.reason && <span class="muted"> {log.reason}</span>}
                </td>
                <td>
                  {log.actor}
                  {log.actor_is_admin && " (admin)"}
                </td>
                <td>{log.ip ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="toolbar" aria-label="Activity pages">
        <button type="button" disabled={pages.length <= 1} onClick={() => setPages(pages.slice(0, -1))}>
          Newer
        </button>
        <span class="muted">Page {pages.length}</span>
        <button type="button" disabled={!page?.next_cursor} onClick={() => page?.next_cursor && setPages([...pages, page.next_cursor])}>
          Older
        </button>
      </nav>
    </div>
  );
}
