// "Are you sure?" for anything destructive: names what happens, and the confirm button says it.
import type { ComponentChildren } from "preact";
import { useId, useState } from "preact/hooks";
import { Modal } from "./Modal";
import { errorMessage } from "../api/client";

type Props = {
  title: string;
  confirmLabel: string;
  danger?: boolean;
  children: ComponentChildren;
  onConfirm: () => Promise<void>;
  onClose: () => void;
};

export function ConfirmDialog({ title, confirmLabel, danger, children, onConfirm, onClose }: Props) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const bodyId = useId();
  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (failure) {
      setError(errorMessage(failure));
      setBusy(false);
    }
  }
  return (
    <Modal title={title} onClose={onClose} describedBy={bodyId}>
      <div id={bodyId}>{children}</div>
      {error && (
        <p class="message error" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="button" onClick={onClose} data-autofocus>
          Cancel
        </button>
        <button type="button" class={danger ? "danger" : "primary"} onClick={confirm} disabled={busy}>
          {busy ? "Working…" : confirmLabel}
        </button>
      </div>
    </Modal>
  );
}
