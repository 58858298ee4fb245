// Sign-in: a bearer token pasted by the user (kept in memory only), or, under `make run`, a
// development user's token from the development-only endpoint.
import { useEffect, useState } from "preact/hooks";
import { session } from "./session";
import { errorMessage } from "./api/client";

const DEV_SESSION = "/ui/dev-session";

export function SignInPage() {
  const [token, setToken] = useState("");
  const [devOffered, setDevOffered] = useState(false);
  const [devAdmin, setDevAdmin] = useState(true);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    fetch(DEV_SESSION, { cache: "no-store" })
      .then((response) => setDevOffered(response.ok))
      .catch(() => setDevOffered(false));
  }, []);

  function submit(event: Event) {
    event.preventDefault();
    const trimmed = token.trim();
    if (trimmed.split(".").length !== 3) {
      setError("That does not look like a bearer token (a JWT has three dot-separated parts).");
      return;
    }
    setToken("");
    session.signIn(trimmed);
  }

  async function signInAsDeveloper() {
    setError(null);
    try {
      const response = await fetch(`${DEV_SESSION}?admin=${devAdmin}`, { method: "POST", cache: "no-store" });
      if (!response.ok) throw new Error(`The development sign-in failed (HTTP ${response.status}).`);
      const body = (await response.json()) as { token: string };
      session.signIn(body.token);
    } catch (failure) {
      setError(errorMessage(failure));
    }
  }

  return (
    <main class="signin">
      <h1>Mirage Secrets</h1>
      <p class="muted">Your Railway, GitHub, Docker registry and custom secrets, kept in Vault.</p>
      {session.expiredNotice.value && (
        <p class="message error" role="alert">
          {session.expiredNotice.value}
        </p>
      )}
      <form onSubmit={submit} class="card">
        <h2>Sign in</h2>
        <label for="bearer-token">Bearer token</label>
        <input
          id="bearer-token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={token}
          onInput={(event) => setToken(event.currentTarget.value)}
          aria-describedby="bearer-help"
        />
        <p id="bearer-help" class="hint">
          The token your identity provider issued. It stays in this tab's memory and is forgotten when you sign out or
          reload.
        </p>
        {error && (
          <p class="message error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
      {devOffered && (
        <section class="card" aria-labelledby="dev-signin-title">
          <h2 id="dev-signin-title">Development</h2>
          <p class="hint">This server runs in development mode (make run). Production servers do not offer this.</p>
          <label class="checkbox">
            <input type="checkbox" checked={devAdmin} onChange={(event) => setDevAdmin(event.currentTarget.checked)} />
            with the admin role
          </label>
          <button type="button" onClick={signInAsDeveloper}>
            Sign in as a development user
          </button>
        </section>
      )}
    </main>
  );
}
