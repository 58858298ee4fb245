// Page-wide state that more than one tab reads.
import { signal } from "@preact/signals";

/** Non-null while the API answers from stale cache or Vault is unreachable. */
export const degraded = signal<{ reason: string } | null>(null);

export type Notice = { kind: "success" | "error"; text: string; id: number };
export const notice = signal<Notice | null>(null);
let counter = 0;

export function announce(kind: Notice["kind"], text: string): void {
  counter += 1;
  notice.value = { kind, text, id: counter };
}

export function creationBlockedReason(): string | null {
  return degraded.value ? `Unavailable while the service is degraded: ${degraded.value.reason}` : null;
}

/** What the Railway tab last learned; the first-time banner shows while it is not configured. */
export const railwayConfigured = signal<boolean | null>(null);
/** Set by the first-time banner: the Railway tab opens its modal when it sees this. */
export const railwayModalRequested = signal(false);

/** The environment the Environment Secrets tab last opened (an id, not a secret). */
export const lastEnvironment = signal("");

/** Nothing of one user's session survives sign-out into the next one. */
export function resetPageState(): void {
  degraded.value = null;
  notice.value = null;
  railwayConfigured.value = null;
  railwayModalRequested.value = false;
  lastEnvironment.value = "";
}
