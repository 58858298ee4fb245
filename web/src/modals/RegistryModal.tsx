// Add or edit a registry's credentials: common registries or a custom URL, username, masked
// password, email; "Test Login" stores them and logs in the way `docker login` does.
import { useId, useState } from "preact/hooks";
import { Modal } from "../components/Modal";
import { api, errorMessage, ok } from "../api/client";
import { announce } from "../state";

export const COMMON_REGISTRIES = [
  { host: "docker.io", label: "Docker Hub (docker.io)" },
  { host: "ghcr.io", label: "GitHub Container Registry (ghcr.io)" },
  { host: "registry.gitlab.com", label: "GitLab (registry.gitlab.com)" },
  { host: "quay.io", label: "Quay (quay.io)" },
  { host: "public.ecr.aws", label: "Amazon ECR Public (public.ecr.aws)" },
];
const CUSTOM = "custom";

type Props = {
  existing?: { registry: string; username: string; email: string | null };
  onClose: () => void;
  onSaved: () => void;
};

export function RegistryModal({ existing, onClose, onSaved }: Props) {
  const known = existing ? COMMON_REGISTRIES.some((r) => r.host === existing.registry) : true;
  const [choice, setChoice] = useState(existing ? (known ? existing.registry : CUSTOM) : COMMON_REGISTRIES[0]!.host);
  const [custom, setCustom] = useState(existing && !known ? existing.registry : "");
  const [username, setUsername] = useState(existing?.username ?? "");
  const [password, setPassword] = useState("");
  const [email, setEmail] = useState(existing?.email ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<{ valid: boolean; detail: string } | null>(null);
  const ids = { registry: useId(), custom: useId(), username: useId(), password: useId(), email: useId() };
  const registry = choice === CUSTOM ? custom.trim() : choice;

  function problem(): string | null {
    if (!registry) return "Enter the registry URL.";
    if (!username.trim()) return "Enter the username.";
    if (!password) return "Enter the password or access token.";
    return null;
  }

  async function store(): Promise<boolean> {
    const missing = problem();
    if (missing) {
      setError(missing);
      return false;
    }
    setBusy(true);
    setError(null);
    try {
      await ok(
        api.POST("/api/v1/secrets/docker", {
          body: { registry, username: username.trim(), password, email: email.trim() || null },
        }),
      );
      onSaved();
      return true;
    } catch (failure) {
      setError(errorMessage(failure));
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function save(event: Event) {
    event.preventDefault();
    if (await store()) {
      announce("success", `Credentials for ${registry} saved.`);
      onClose();
    }
  }

  async function testLogin() {
    setResult(null);
    if (!(await store())) return;
    setBusy(true);
    try {
      const test = await ok(api.POST("/api/v1/secrets/docker/{registry}/test", { params: { path: { registry } } }));
      setResult({ valid: test.valid, detail: test.detail });
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal title={existing ? `Edit Registry ${existing.registry}` : "Add Registry"} onClose={onClose}>
      <form onSubmit={save} noValidate>
        <label for={ids.registry}>Registry URL</label>
        <select id={ids.registry} value={choice} onChange={(event) => setChoice(event.currentTarget.value)} data-autofocus>
          {COMMON_REGISTRIES.map((r) => (
            <option key={r.host} value={r.host}>
              {r.label}
            </option>
          ))}
          <option value={CUSTOM}>Custom registry URL…</option>
        </select>
        {choice === CUSTOM && (
          <>
            <label for={ids.custom}>Custom registry URL</label>
            <input
              id={ids.custom}
              value={custom}
              placeholder="registry.example.com:5000"
              onInput={(event) => setCustom(event.currentTarget.value)}
            />
          </>
        )}
        <label for={ids.username}>Username</label>
        <input id={ids.username} autoComplete="off" value={username} onInput={(event) => setUsername(event.currentTarget.value)} />
        <label for={ids.password}>Password</label>
        <input
          id={ids.password}
          type="password"
          autoComplete="off"
          value={password}
          placeholder={existing ? "enter the password again to change it" : ""}
          onInput={(event) => setPassword(event.currentTarget.value)}
        />
        <label for={ids.email}>Email (optional)</label>
        <input id={ids.email} type="email" autoComplete="off" value={email} onInput={(event) => setEmail(event.currentTarget.value)} />
        {error && (
          <p class="message error" role="alert">
            {error}
          </p>
        )}
        {result && (
          <p class={`message ${result.valid ? "success" : "error"}`} role="status">
            {result.valid ? "Login succeeded" : "Login failed"}: {result.detail}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="button" onClick={testLogin} disabled={busy}>
            Test Login
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}
