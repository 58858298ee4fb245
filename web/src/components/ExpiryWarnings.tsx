// Expiry and rotation warnings from `GET /api/v1/secrets/expiring`: secrets whose TTL runs out
// or whose rotation is due soon (or already passed).
import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "../api/client";
import { formatTime } from "./ui";
import { notice } from "../state";

type Expiring = Schemas["ExpiringRead"];

function describe(item: Expiring): string {
  const when = formatTime(item.due_at);
  const rotation = item.source.includes("rotat");
  if (item.expired) return rotation ? `rotation was due ${when}` : `expired ${when}`;
  const days = item.days_left === 0 ? "today" : `in ${item.days_left} day${item.days_left === 1 ? "" : "s"}`;
  return rotation ? `rotation due ${days} (${when})` : `expires ${days} (${when})`;
}

export function ExpiryWarnings() {
  const [items, setItems] = useState<Expiring[]>([]);
  useEffect(() => {
    api
      .GET("/api/v1/secrets/expiring")
      .then(({ data }) => setItems(data?.secrets ?? []))
      .catch(() => setItems([]));
  }, [notice.value?.id]); // after every change the page reports, the list may have changed too
  if (items.length === 0) return null;
  return (
    <section class="banner warning" aria-label="Expiry and rotation warnings">
      <strong>
        {items.length} secret{items.length === 1 ? "" : "s"} expiring or due for rotation
      </strong>
      <ul>
        {items.map((item) => (
          <li key={`${item.key}-${item.source}`}>
            <code>{item.key}</code> ({item.type}): {describe(item)}
          </li>
        ))}
      </ul>
    </section>
  );
}
