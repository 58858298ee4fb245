import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, ok, type Schemas } from "../api/client";
import { TokenModal } from "../modals/TokenModal";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { CreateButton, ErrorText, Loading, formatTime } from "../components/ui";
import { announce } from "../state";

type Status = Schemas["GitHubStatusRead"];

export function GitHubTokenTab() {
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dialog, setDialog] = useState<"configure" | "remove" | null>(null);
  const [testing, setTesting] = useState(false);

  async function load() {
    try {
      setStatus((await ok(api.GET("/api/v1/secrets/github/status"))) as Status);
      setError(null);
    } catch (failure) {
      setError(errorMessage(failure));
    }
  }
  useEffect(() => {
    load();
  }, []);

  async function test() {
    // The API has no call that re-asks GitHub about a stored token (the check runs when it is
    // saved), so this reloads what that check recorded and says so.
    setTesting(true);
    try {
      const next = (await ok(api.GET("/api/v1/secrets/github/status"))) as Status;
      setStatus(next);
      announce(
        next.configured ? "success" : "error",
        next.configured
          ? `GitHub validated this token for ${next.username ?? "its user"} on ${formatTime(next.last_validated)}; to check it again, use “Update Token”.`
          : "No GitHub token is configured.",
      );
    } catch (failure) {
      announce("error", errorMessage(failure));
    } finally {
      setTesting(false);
    }
  }

  const configured = status?.configured ?? false;
  return (
    <div>
      <h3>GitHub Token</h3>
      <ErrorText error={error} />
      {!status && !error && <Loading what="the GitHub token status" />}
      {status && (
        <div class="card status-card" role="group" aria-label="GitHub token status">
          <dl>
            <dt>Connection status</dt>
            <dd>
              <span class={`badge ${configured ? "good" : "neutral"}`}>{configured ? "Connected" : "Not configured"}</span>
            </dd>
            {configured && (
              <>
                <dt>Username</dt>
                <dd>{status.username ?? "unknown"}</dd>
                <dt>Scopes</dt>
                <dd>{status.scopes && status.scopes.length > 0 ? status.scopes.join(", ") : "none reported (fine-grained token)"}</dd>
                {status.repository_count != null && (
                  <>
                    <dt>Repositories accessible</dt>
                    <dd>{status.repository_count}</dd>
                  </>
                )}
                <dt>Token type</dt>
                <dd>{status.token_type ?? "unknown"}</dd>
                <dt>Expires</dt>
                <dd>{status.expires_at ? formatTime(status.expires_at) : "no expiry"}</dd>
                <dt>Last validated</dt>
                <dd>{formatTime(status.last_validated)}</dd>
              </>
            )}
          </dl>
          {status.warning ? (
            <p class="message warning">{status.warning}</p>
          ) : (
            status.expires_soon && (
              <p class="message warning">This token expires soon. Create a new one and use “Update Token”.</p>
            )
          )}
        </div>
      )}
      <div class="toolbar">
        <CreateButton onClick={() => setDialog("configure")}>{configured ? "Update Token" : "Configure Token"}</CreateButton>
        <button type="button" onClick={test} disabled={!configured || testing}>
          {testing ? "Testing…" : "Test Connection"}
        </button>
        <button type="button" class="danger" onClick={() => setDialog("remove")} disabled={!configured}>
          Remove Token
        </button>
      </div>
      {dialog === "configure" && (
        <TokenModal
          kind="github"
          title={configured ? "Update GitHub Token" : "Configure GitHub Token"}
          onClose={() => setDialog(null)}
          onSave={async (token) => {
            const stored = await ok(api.POST("/api/v1/secrets/github", { body: { token } }));
            announce("success", `GitHub token configured successfully for ${stored.username}.`);
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
            await ok(api.DELETE("/api/v1/secrets/github"));
            announce("success", "GitHub token removed.");
            await load();
          }}
        >
          <p>Remove your GitHub token? Mirage can no longer reach your repositories until you configure one again.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
