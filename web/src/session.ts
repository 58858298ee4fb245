// The bearer token lives in memory only: never localStorage, a cookie or the URL. Reloading the
// page signs you out; signing out forgets it.
import { signal } from "@preact/signals";
import { resetPageState } from "./state";

const token = signal<string | null>(null);
const subject = signal<string | null>(null);
const expiredNotice = signal<string | null>(null);

function readSubject(bearer: string): string | null {
  // Only to greet the user: the service verifies the token, the page never trusts this.
  try {
    const part = bearer.split(".")[1];
    if (!part) return null;
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as { sub?: unknown };
    return typeof claims.sub === "string" ? claims.sub : null;
  } catch {
    return null;
  }
}

export const session = {
  token,
  subject,
  expiredNotice,
  signIn(bearer: string): void {
    expiredNotice.value = null;
    subject.value = readSubject(bearer);
    token.value = bearer;
  },
  signOut(): void {
    token.value = null;
    subject.value = null;
    resetPageState();
  },
  expired(): void {
    expiredNotice.value = "Your session ended or the token was refused. Sign in again.";
    token.value = null;
    subject.value = null;
    resetPageState();
  },
};
