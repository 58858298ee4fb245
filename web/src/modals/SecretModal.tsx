// Add a custom secret, or edit one: a new value makes a new version; tags, type and description
// alone change metadata only (no new version).
import { useId, useState } from "preact/hooks";
import { Modal } from "../components/Modal";
import { api, errorMessage, ok, type Schemas } from "../api/client";
import { announce } from "../state";

type Props = { existing?: Schemas["SecretSummary"]; onClose: () => void; onSaved: () => void };

export function parseTags(text: string): string[] {
  return [...new Set(text.split(",").map((tag) => tag.trim()).filter(Boolean))];
}

export function SecretModal({ existing, onClose, onSaved }: Props) {
  const [key, setKey] = useState(existing?.key ?? "");
  const [value, setValue] = useState("");
  const [show, setShow] = useState(false);
  const [type, setType] = useState(existing?.type ?? "custom");
  const [tags, setTags] = useState(existing?.tags.join(", ") ?? "");
  const [description, setDescription] = useState(existing?.description ?? "");
  const [ttl, setTtl] = useState("");
  const [rotateEvery, setRotateEvery] = useState(existing?.rotate_every != null ? String(existing.rotate_every) : "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = {
    key: useId(),
    value: useId(),
    type: useId(),
    tags: useId(),
    description: useId(),
    keyHelp: useId(),
    ttl: useId(),
    ttlHelp: useId(),
    rotate: useId(),
  };

  async function submit(event: Event) {
    event.preventDefault();
    if (!key.trim()) return setError("Enter a key.");
    if (!existing && !value) return setError("Enter a value.");
    setBusy(true);
    setError(null);
    if (rotateEvery.trim() && !/^[1-9][0-9]*$/.test(rotateEvery.trim())) {
      return setError("Rotate every is a whole number of days.");
    }
    const meta = {
      tags: parseTags(tags),
      type: type.trim() || "custom",
      description: description.trim() || null,
      // Only what the user filled in: an empty field leaves the secret's expiry and rotation as they are.
      ...(ttl.trim() ? { ttl: /^[0-9]+$/.test(ttl.trim()) ? Number(ttl.trim()) : ttl.trim() } : {}),
      ...(rotateEvery.trim() ? { rotate_every: Number(rotateEvery.trim()) } : {}),
    };
    try {
      if (value) {
        const stored = await ok(api.POST("/api/v1/secrets", { body: { key: key.trim(), value, ...meta } }));
        announce("success", `${stored.key} saved as version ${stored.version}.`);
      } else {
        await ok(api.PATCH("/api/v1/secrets/{key}/metadata", { params: { path: { key: key.trim() } }, body: meta }));
        announce("success", `${key.trim()}: tags, type and description updated (same version).`);
      }
      setValue("");
      onSaved();
      onClose();
    } catch (failure) {
      setError(errorMessage(failure));
      setBusy(false);
    }
  }

  return (
    <Modal title={existing ? `Edit Secret ${existing.key}` : "Add Secret"} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <label for={ids.key}>Key</label>
        <input
          id={ids.key}
          value={key}
          readOnly={existing !== undefined}
          data-autofocus={existing ? undefined : true}
          aria-describedby={ids.keyHelp}
          autoComplete="off"
          spellcheck={false}
          onInput={(event) => setKey(event.currentTarget.value)}
        />
        <p id={ids.keyHelp} class="hint">
          Letters, digits, “_”, “.” and “-”, up to 128 characters.
        </p>
        <label for={ids.value}>{existing ? "New value (leave empty to keep the current one)" : "Value"}</label>
        <div class="input-with-button">
          <input
            id={ids.value}
            type={show ? "text" : "password"}
            autoComplete="off"
            spellcheck={false}
            value={value}
            data-autofocus={existing ? true : undefined}
            onInput={(event) => setValue(event.currentTarget.value)}
          />
          <button type="button" class="small" aria-pressed={show} onClick={() => setShow(!show)}>
            {show ? "Hide value" : "Show value"}
          </button>
        </div>
        <label for={ids.type}>Type</label>
        <input id={ids.type} value={type} onInput={(event) => setType(event.currentTarget.value)} />
        <label for={ids.tags}>Tags (comma-separated)</label>
        <input id={ids.tags} value={tags} onInput={(event) => setTags(event.currentTarget.value)} />
        <label for={ids.description}>Description</label>
        <input id={ids.description} value={description} onInput={(event) => setDescription(event.currentTarget.value)} />
        <label for={ids.ttl}>Expires after (optional)</label>
        <input
          id={ids.ttl}
          value={ttl}
          placeholder={existing?.expires_at ? `now: ${existing.expires_at}` : "e.g. 30d, 12h"}
          aria-describedby={ids.ttlHelp}
          onInput={(event) => setTtl(event.currentTarget.value)}
        />
        <p id={ids.ttlHelp} class="hint">
          Seconds or a duration (90s, 15m, 12h, 30d). The secret expires that long after this save.
        </p>
        <label for={ids.rotate}>Rotate every (days, optional)</label>
        <input id={ids.rotate} inputMode="numeric" value={rotateEvery} onInput={(event) => setRotateEvery(event.currentTarget.value)} />
        {error && (
          <p class="message error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
