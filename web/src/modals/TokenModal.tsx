// Add, update or rotate a provider token: instructions, a help link, a masked input checked as
// you type (format only: the provider check is "Save & Validate", done by the API).
import { useId, useState } from "preact/hooks";
import { Modal } from "../components/Modal";
import { errorMessage } from "../api/client";

export type TokenKind = "railway" | "github";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GITHUB = /^(ghp_|gho_|ghu_|ghs_|ghr_)[A-Za-z0-9]{30,255}$|^github_pat_[A-Za-z0-9_]{40,255}$/;

/** What is wrong with the token's shape, or null when it looks right. */
export function formatProblem(kind: TokenKind, token: string): string | null {
  if (token === "") return "Paste your token.";
  if (/\s/.test(token)) return "A token has no spaces or line breaks.";
  if (kind === "railway" && !UUID.test(token)) {
    return "A Railway token looks like 8-4-4-4-12 hexadecimal digits (a UUID).";
  }
  if (kind === "github" && !GITHUB.test(token)) {
    return "A GitHub token starts with ghp_, gho_, ghu_, ghs_, ghr_ or github_pat_ followed by letters and digits.";
  }
  return null;
}

const TEXT: Record<TokenKind, { name: string; help: string; helpLabel: string; steps: string[] }> = {
  railway: {
    name: "Railway",
    help: "https://railway.com/account/tokens",
    helpLabel: "How to get Railway token (Railway account settings)",
    steps: [
      "Open your Railway account settings, Tokens.",
      "Create a token (an account or workspace token can create environments; a project token only syncs one).",
      "Copy it and paste it below. Mirage checks it with Railway before storing it in Vault.",
    ],
  },
  github: {
    name: "GitHub",
    help: "https://github.com/settings/tokens",
    helpLabel: "How to get a GitHub token (GitHub developer settings)",
    steps: [
      "Open GitHub, Settings, Developer settings, Personal access tokens.",
      "Create a token with the repo scope (fine-grained: the repositories Mirage should reach).",
      "Copy it and paste it below. Mirage checks it with GitHub before storing it in Vault.",
    ],
  },
};

type Props = {
  kind: TokenKind;
  title: string;
  onSave: (token: string) => Promise<string>;
  onClose: () => void;
};

export function TokenModal({ kind, title, onSave, onClose }: Props) {
  const [token, setToken] = useState("");
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inputId = useId();
  const formatId = useId();
  const text = TEXT[kind];
  const problem = formatProblem(kind, token);

  async function submit(event: Event) {
    event.preventDefault();
    setTouched(true);
    if (problem) return;
    setBusy(true);
    setError(null);
    try {
      await onSave(token);
      setToken("");
      onClose();
    } catch (failure) {
      setError(errorMessage(failure));
      setBusy(false);
    }
  }

  return (
    <Modal title={title} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <ol class="steps">
          {text.steps.map((step) => (
            <li key={step}>{step}</li>
          ))}
        </ol>
        <p>
          <a href={text.help} target="_blank" rel="noopener noreferrer">
            {text.helpLabel}
          </a>
        </p>
        <label for={inputId}>{text.name} token</label>
        <input
          id={inputId}
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={token}
          data-autofocus
          aria-invalid={touched && problem !== null}
          aria-describedby={formatId}
          onInput={(event) => {
            setToken(event.currentTarget.value);
            setTouched(true);
          }}
        />
        <p id={formatId} class={touched && problem ? "hint invalid" : "hint"} aria-live="polite">
          {touched ? (problem ?? "The format looks right.") : "The token is masked; it is never shown again."}
        </p>
        {error && (
          <p class="message error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || (touched && problem !== null)}>
            {busy ? "Validating…" : "Save & Validate"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
