// Push an environment's variables to Railway: first a dry run listing what would be added,
// changed and removed (values masked by the API), then the push itself.
import { useId, useState } from "preact/hooks";
import { Modal } from "../components/Modal";
import { api, errorMessage, ok, type Schemas } from "../api/client";
import { announce } from "../state";

type Props = { envId: string; onClose: () => void };

export function SyncModal({ envId, onClose }: Props) {
  const [project, setProject] = useState("");
  const [environment, setEnvironment] = useState("");
  const [service, setService] = useState("");
  const [replace, setReplace] = useState(false);
  const [diff, setDiff] = useState<Schemas["SyncRead"] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = { project: useId(), environment: useId(), service: useId(), help: useId() };

  function body(): Schemas["SyncCreate"] {
    return {
      project_id: project.trim() || null,
      environment_id: environment.trim() || null,
      service_id: service.trim() || null,
      replace,
    };
  }

  async function run(dryRun: boolean) {
    setBusy(true);
    setError(null);
    try {
      const result = await ok(
        api.POST("/api/v1/environments/{env_id}/secrets/sync", {
          params: { path: { env_id: envId }, query: { dry_run: dryRun } },
          body: body(),
        }),
      );
      if (dryRun) {
        setDiff(result);
      } else {
        announce(
          "success",
          `Pushed to Railway: ${result.added.length} added, ${result.changed.length} changed, ${result.removed.length} removed, ${result.unchanged} unchanged.`,
        );
        onClose();
      }
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal title={`Sync ${envId} to Railway`} onClose={onClose} wide>
      <p id={ids.help} class="message warning">
        Syncing writes these variables into the Railway environment, where everyone with access to that project can read
        them. Leave the ids empty to reuse the ones from the last sync.
      </p>
      <label for={ids.project}>Railway project id</label>
      <input id={ids.project} value={project} onInput={(event) => setProject(event.currentTarget.value)} data-autofocus />
      <label for={ids.environment}>Railway environment id</label>
      <input id={ids.environment} value={environment} onInput={(event) => setEnvironment(event.currentTarget.value)} />
      <label for={ids.service}>Railway service id (optional)</label>
      <input id={ids.service} value={service} onInput={(event) => setService(event.currentTarget.value)} />
      <label class="checkbox">
        <input type="checkbox" checked={replace} onChange={(event) => setReplace(event.currentTarget.checked)} />
        Remove variables on Railway that are not in Mirage
      </label>
      {error && (
        <p class="message error" role="alert">
          {error}
        </p>
      )}
      {diff && (
        <section aria-label="Dry run" class="preview">
          <h3>Dry run: what the push would do</h3>
          <DiffList title="Added" changes={diff.added} />
          <DiffList title="Changed" changes={diff.changed} />
          <DiffList title="Removed" changes={diff.removed} />
          <p>Unchanged: {diff.unchanged}</p>
        </section>
      )}
      <div class="actions">
        <button type="button" onClick={onClose}>
          Cancel
        </button>
        <button type="button" onClick={() => run(true)} disabled={busy}>
          Preview changes
        </button>
        <button type="button" class="primary" onClick={() => run(false)} disabled={busy || diff === null}>
          Push to Railway
        </button>
      </div>
    </Modal>
  );
}

function DiffList({ title, changes }: { title: string; changes: Schemas["VariableChangeRead"][] }) {
  return (
    <div role="group" aria-label={`${title}: ${changes.length}`}>
      <h4>
        {title}: {changes.length}
      </h4>
      {changes.length > 0 && (
        <ul class="key-list">
          {changes.map((change) => (
            <li key={change.key}>
              <code>{change.key}</code>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
