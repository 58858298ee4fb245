// Expiry and rotation warnings from `GET /api/v1/secrets/expiring`. Servers older than that
// endpoint answer 404: the page then shows nothing here (the Railway and GitHub tabs still warn
// from their own status).
import { useEffect, useState } from "preact/hooks";
import { getJson } from "../api/client";
import { formatTime } from "./ui";

type Expiring = { key: string; expires_at?: string | null; rotate_at?: string | null; warning?: string | null };

function parse(body: unknown): Expiring[] {
  const list = Array.isArray(body)
    ? body
    : ((body as Record<string, unknown> | undefined)?.["secrets"] ??
      (body as Record<string, unknown> | undefined)?.["expiring"] ??
      (body as Record<string, unknown> | undefined)?.["items"]);
  if (!Array.isArray(list)) return [];
  return list.filter(
    (item): item is Expiring => typeof item === "object" && item !== null && typeof (item as Expiring).key === "string",
  );
}

export function ExpiryWarnings() {
  const [items, setItems] = useState<Expiring[]>([]);
  useEffect(() => {
    getJson("/api/v1/secrets/expiring")
      .then(({ status, body }) => setItems(status === 200 ? parse(body) : []))
      .catch(() => setItems([]));
  }, []);
  if (items.length === 0) return null;
  return (
    <section class="banner warning" aria-label="Expiry and rotation warnings">
      <strong>
        {items.length} secret{items.length === 1 ? "" : "s"} expiring or due for rotation
      </strong>
      <ul>
        {items.map((item) => (
          <li key={item.key}>
            <code>{item.key}</code>
            {item.expires_at && <> expires {formatTime(item.expires_at)}</>}
            {item.rotate_at && <> should be rotated by {formatTime(item.rotate_at)}</>}
            {item.warning && <> ({item.warning})</>}
          </li>
        ))}
      </ul>
    </section>
  );
}
