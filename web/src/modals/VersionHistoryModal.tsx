// A secret's versions as a timeline, newest first, the current one highlighted. "View" reveals
// one version's value (an audited read); "Rollback to this version" writes it as a new version.
import { useEffect, useState } from "preact/hooks";
import { Modal } from "../components/Modal";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { SecretValue } from "../components/SecretValue";
import { api, errorMessage, ok, type Schemas } from "../api/client";
import { ErrorText, Loading, formatTime } from "../components/ui";
import { announce, creationBlockedReason } from "../state";

type Props = { secretKey: string; onClose: () => void; onChanged: () => void };
// Per-version authorship arrives with the lifecycle work where the API records it.
type Version = Schemas["VersionSummary"] & { created_by?: string | null };

export function VersionHistoryModal({ secretKey, onClose, onChanged }: Props) {
  const [history, setHistory] = useState<{ current: number; versions: Version[] } | null>(null);
  const [createdBy, setCreatedBy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [rollback, setRollback] = useState<number | null>(null);

  async function load() {
    try {
      const list = await ok(api.GET("/api/v1/secrets/{key}/versions", { params: { path: { key: secretKey } } }));
      setHistory({ current: list.current_version, versions: list.versions as Version[] });
      const metadata = await ok(api.GET("/api/v1/secrets/{key}/metadata", { params: { path: { key: secretKey } } }));
      setCreatedBy(metadata.created_by);
    } catch (failure) {
      setError(errorMessage(failure));
    }
  }
  useEffect(() => {
    load();
  }, [secretKey]);

  const blocked = creationBlockedReason();
  return (
    <Modal title={`Version History: ${secretKey}`} onClose={onClose} wide>
      <ErrorText error={error} />
      {!history && !error && <Loading what="the versions" />}
      {history && (
        <ol class="timeline" aria-label={`Versions of ${secretKey}, newest first`}>
          {history.versions.map((version) => {
            const current = version.version === history.current;
            const gone = version.deleted || version.destroyed;
            return (
              <li key={version.version} class={current ? "current" : ""} aria-current={current ? "true" : undefined}>
                <div class="timeline-head">
                  <strong>Version {version.version}</strong>
                  {current && <span class="badge good">Current</span>}
                  {gone && <span class="badge bad">{version.destroyed ? "Destroyed" : "Deleted"}</span>}
                </div>
                <p class="muted">
                  Created {formatTime(version.created_at)}
                  {(version.created_by ?? (version.version === 1 ? createdBy : null)) && (
                    <> by {version.created_by ?? createdBy}</>
                  )}
                </p>
                {!gone && (
                  <div class="timeline-actions">
                    <SecretValue
                      label={`${secretKey} version ${version.version}`}
                      load={async () =>
                        (
                          await ok(
                            api.GET("/api/v1/secrets/{key}/versions/{version}", {
                              params: { path: { key: secretKey, version: version.version } },
                            }),
                          )
                        ).value
                      }
                    />
                    {!current && (
                      <button
                        type="button"
                        class="small"
                        disabled={blocked !== null}
                        title={blocked ?? undefined}
                        aria-label={`Rollback to this version (${version.version})`}
                        onClick={() => setRollback(version.version)}
                      >
                        Rollback to this version
                      </button>
                    )}
                  </div>
                )}
              </li>
            );
          })}
        </ol>
      )}
      {rollback !== null && (
        <ConfirmDialog
          title="Rollback to this version"
          confirmLabel={`Roll back to version ${rollback}`}
          onClose={() => setRollback(null)}
          onConfirm={async () => {
            const done = await ok(
              api.POST("/api/v1/secrets/{key}/rollback", { params: { path: { key: secretKey } }, body: { to_version: rollback } }),
            );
            announce("success", `${secretKey}: version ${done.restored_from}'s value is now version ${done.new_version}.`);
            await load();
            onChanged();
          }}
        >
          <p>
            Write version {rollback}'s value of {secretKey} as a new version? The current version stays in the history.
          </p>
        </ConfirmDialog>
      )}
    </Modal>
  );
}
