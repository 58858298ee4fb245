import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, ok, type Schemas } from "../api/client";
import { TokenModal } from "../modals/TokenModal";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { CreateButton, ErrorText, Loading, formatTime } from "../components/ui";
import { announce, railwayConfigured, railwayModalRequested } from "../state";

type Status = Schemas["RailwayStatusRead"];
type Check = { valid: boolean; detail?: string | null; permissions: string[] };
type Dialog = "configure" | "confirm-rotate" | "rotate" | "remove" | null;

export function RailwayTokenTab() {
  const [status, setStatus] = useState<Status | null>(null);
  const [check, setCheck] = useState<Check | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [testing, setTesting] = useState(false);

  async function load() {
    try {
      const next = (await ok(api.GET("/api/v1/secrets/railway/status"))) as Status;
      setStatus(next);
      railwayConfigured.value = next.configured;
      setError(null);
    } catch (failure) {
      setError(errorMessage(failure));
    }
  }
  useEffect(() => {
    load();
  }, []);
  useEffect(() => {
    if (railwayModalRequested.value) {
      railwayModalRequested.value = false;
      setDialog("configure");
    }
  }, [railwayModalRequested.value]);

  async function test() {
    setTesting(true);
    try {
      const result = await ok(api.POST("/api/v1/secrets/railway/validate"));
      setCheck(result);
      announce(result.valid ? "success" : "error", result.valid ? "Railway accepted the token." : `Railway refused the token${result.detail ? `: ${result.detail}` : "."}`);
      await load();
    } catch (failure) {
      announce("error", errorMessage(failure));
    } finally {
      setTesting(false);
    }
  }

  const configured = status?.configured ?? false;
  const invalid = check !== null && !check.valid;
  const state = !status ? "" : invalid ? "Invalid" : configured ? "Connected" : "Not configured";

  return (
    <div>
      <h3>Railway Token</h3>
      <ErrorText error={error} />
      {!status && !error && <Loading what="the Railway token status" />}
      {status && (
        <div class="card status-card" aria-label="Railway token status" role="group">
          <dl>
            <dt>Connection status</dt>
            <dd>
              <span class={`badge ${invalid ? "bad" : configured ? "good" : "neutral"}`}>{state}</span>
            </dd>
            <dt>Last validated</dt>
            <dd>{formatTime(status.last_validated)}</dd>
            {status.token_kind && (
              <>
                <dt>Token kind</dt>
                <dd>{status.token_kind}</dd>
              </>
            )}
            {status.source && (
              <>
                <dt>Source</dt>
                <dd>{status.source === "env" ? "the server's shared token (RAILWAY_API_TOKEN)" : "your token in Vault"}</dd>
              </>
            )}
            {status.version != null && (
              <>
                <dt>Version</dt>
                <dd>{status.version}</dd>
              </>
            )}
            {status.expires_at && (
              <>
                <dt>Expires</dt>
                <dd>
                  {formatTime(status.expires_at)}
                  {status.expires_in_days != null && ` (in ${status.expires_in_days} days)`}
                </dd>
              </>
            )}
          </dl>
          {status.needs_rotation && (
            <p class="message warning">This token is old enough that it should be rotated. Use “Rotate Token”.</p>
          )}
          {status.warning && <p class="message warning">{status.warning}</p>}
          {status.source === "env" && (
            <p class="message warning">
              You are using the server's shared Railway token. Configure your own so that your environments keep
              working when the shared token is retired.
            </p>
          )}
          {check && !check.valid && check.detail && <p class="message error">{check.detail}</p>}
          {check && check.valid && check.permissions.length > 0 && (
            <p class="muted">Permissions: {check.permissions.join(", ")}</p>
          )}
        </div>
      )}
      <div class="toolbar">
        <CreateButton onClick={() => setDialog("configure")}>
          {configured && status?.source === "vault" ? "Update Token" : "Configure Token"}
        </CreateButton>
        <button type="button" onClick={test} disabled={!configured || testing}>
          {testing ? "Testing…" : "Test Connection"}
        </button>
        <button type="button" onClick={() => setDialog("confirm-rotate")} disabled={!configured || status?.source !== "vault"}>
          Rotate Token
        </button>
        <button type="button" class="danger" onClick={() => setDialog("remove")} disabled={!configured || status?.source !== "vault"}>
          Remove Token
        </button>
      </div>
      {dialog === "configure" && (
        <TokenModal
          kind="railway"
          title={configured ? "Update Railway Token" : "Configure Railway Token"}
          onClose={() => setDialog(null)}
          onSave={async (token) => {
            const stored = await ok(api.POST("/api/v1/secrets/railway", { body: { token } }));
            announce("success", `Railway token configured successfully (${stored.token_kind} token, version ${stored.version}).`);
            setCheck(null);
            await load();
            return "";
          }}
        />
      )}
      {dialog === "confirm-rotate" && (
        <ConfirmDialog
          title="Rotate Token"
          confirmLabel="Continue"
          onClose={() => setDialog((current) => (current === "confirm-rotate" ? null : current))}
          onConfirm={async () => setDialog("rotate")}
        >
          <p>
            Rotating stores a new Railway token as a new version (the current one is version {status?.version ?? "?"}).
            Mirage validates the new token with Railway first; if Railway refuses it, nothing changes. Revoke the old token
            in Railway afterwards.
          </p>
        </ConfirmDialog>
      )}
      {dialog === "rotate" && (
        <TokenModal
          kind="railway"
          title="Rotate Railway Token"
          onClose={() => setDialog(null)}
          onSave={async (newToken) => {
            const rotated = await ok(api.POST("/api/v1/secrets/railway/rotate", { body: { new_token: newToken } }));
            announce("success", `Railway token rotated: version ${rotated.previous_version} → ${rotated.version}.`);
            setCheck(null);
            await load();
            return "";
          }}
        />
      )}
      {dialog === "remove" && (
        <ConfirmDialog
          title="Remove Token"
          confirmLabel="Remove Token"
          danger
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            const removed = await ok(api.DELETE("/api/v1/secrets/railway"));
            const count = removed.affected_environments;
            announce(
              "success",
              `Railway token removed. ${count} environment${count === 1 ? "" : "s"} used it and can no longer sync until a token is configured.`,
            );
            setCheck(null);
            await load();
          }}
        >
          <p>
            Remove your Railway token? Environments that sync with it stop syncing until you configure a token again. Its
            versions are kept in Vault.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
