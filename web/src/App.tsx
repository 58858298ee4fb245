import { useEffect, useRef, useState } from "preact/hooks";
import { createPortal } from "preact/compat";
import { session } from "./session";
import { degraded, notice, railwayConfigured, railwayModalRequested } from "./state";
import { api, ok } from "./api/client";
import { SignInPage } from "./SignInPage";
import { ExpiryWarnings } from "./components/ExpiryWarnings";
import { RailwayTokenTab } from "./tabs/RailwayTokenTab";
import { GitHubTokenTab } from "./tabs/GitHubTokenTab";
import { DockerRegistriesTab } from "./tabs/DockerRegistriesTab";
import { CustomSecretsTab } from "./tabs/CustomSecretsTab";
import { EnvironmentSecretsTab } from "./tabs/EnvironmentSecretsTab";
import { ActivityTab } from "./tabs/ActivityTab";
import { AdminTab } from "./tabs/AdminTab";

type TabId = "railway" | "github" | "docker" | "custom" | "environment" | "activity" | "admin";
const TABS: { id: TabId; label: string; adminOnly?: boolean }[] = [
  { id: "railway", label: "Railway Token" },
  { id: "github", label: "GitHub Token" },
  { id: "docker", label: "Docker Registries" },
  { id: "custom", label: "Custom Secrets" },
  { id: "environment", label: "Environment Secrets" },
  { id: "activity", label: "Activity" },
  { id: "admin", label: "Migration Status", adminOnly: true },
];

export function App() {
  if (!session.token.value) return <SignInPage />;
  return <SettingsPage />;
}

function SettingsPage() {
  const [active, setActive] = useState<TabId>("railway");
  const [isAdmin, setIsAdmin] = useState(false);
  const tabRefs = useRef<Partial<Record<TabId, HTMLButtonElement | null>>>({});

  useEffect(() => {
    // Whether to show the first-time banner, and the admin tab (the API decides who is an admin).
    ok(api.GET("/api/v1/secrets/railway/status"))
      .then((status) => (railwayConfigured.value = status.configured))
      .catch(() => undefined);
    api
      .GET("/api/v1/admin/migration-status")
      .then(({ response }) => setIsAdmin(response.ok))
      .catch(() => setIsAdmin(false));
    // Liveness of Vault behind the API: a degraded banner before the first failing action.
    api
      .GET("/api/v1/secrets/health")
      .then(({ data }) => {
        if (data && (!data.vault_reachable || data.sealed)) {
          degraded.value = { reason: "Vault is unreachable: new secrets cannot be stored until it is back." };
        }
      })
      .catch(() => undefined);
  }, []);

  const visible = TABS.filter((tab) => !tab.adminOnly || isAdmin);

  function onTabKey(event: KeyboardEvent, index: number) {
    const last = visible.length - 1;
    let next: number | null = null;
    if (event.key === "ArrowRight") next = index === last ? 0 : index + 1;
    else if (event.key === "ArrowLeft") next = index === 0 ? last : index - 1;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = last;
    if (next === null) return;
    event.preventDefault();
    const tab = visible[next]!;
    setActive(tab.id);
    tabRefs.current[tab.id]?.focus();
  }

  function configureRailway() {
    setActive("railway");
    railwayModalRequested.value = true;
  }

  return (
    <div class="page">
      <header class="topbar">
        <h1>Mirage Secrets</h1>
        <span class="muted">
          Signed in as <strong>{session.subject.value ?? "unknown user"}</strong>
        </span>
        <button type="button" onClick={() => session.signOut()}>
          Sign out
        </button>
      </header>
      <main>
        <h2 class="page-title">Credentials</h2>
        {degraded.value && (
          <div class="banner warning" role="alert">
            <strong>Degraded mode.</strong> {degraded.value.reason} Creating and changing secrets is disabled until the
            service recovers.
          </div>
        )}
        {railwayConfigured.value === false && (
          <div class="banner info" role="region" aria-label="Configure Railway Token">
            <span>
              <strong>Configure Railway Token.</strong> Environments need your Railway token before they can be
              created.
            </span>
            <button type="button" class="primary" onClick={configureRailway}>
              Add Railway Token
            </button>
          </div>
        )}
        <ExpiryWarnings />
        <div role="tablist" aria-label="Credential types" class="tabs">
          {visible.map((tab, index) => (
            <button
              key={tab.id}
              ref={(element) => {
                tabRefs.current[tab.id] = element;
              }}
              role="tab"
              type="button"
              id={`tab-${tab.id}`}
              aria-selected={active === tab.id}
              aria-controls={`panel-${tab.id}`}
              tabIndex={active === tab.id ? 0 : -1}
              onClick={() => setActive(tab.id)}
              onKeyDown={(event) => onTabKey(event, index)}
            >
              {tab.label}
            </button>
          ))}
        </div>
        <section role="tabpanel" id={`panel-${active}`} aria-labelledby={`tab-${active}`} class="panel">
          {active === "railway" && <RailwayTokenTab />}
          {active === "github" && <GitHubTokenTab />}
          {active === "docker" && <DockerRegistriesTab />}
          {active === "custom" && <CustomSecretsTab />}
          {active === "environment" && <EnvironmentSecretsTab />}
          {active === "activity" && <ActivityTab />}
          {active === "admin" && isAdmin && <AdminTab />}
        </section>
      </main>
      <NoticeRegion />
    </div>
  );
}

// Outside #app, so that an open modal (which makes #app inert) does not silence it.
function NoticeRegion() {
  const current = notice.value;
  return createPortal(
    <div class="notices" role="status" aria-live="polite" aria-label="Messages">
      {current && (
        <p key={current.id} class={`message ${current.kind}`}>
          {current.text}
          <button type="button" class="small" aria-label="Dismiss message" onClick={() => (notice.value = null)}>
            ×
          </button>
        </p>
      )}
    </div>,
    document.body,
  );
}
