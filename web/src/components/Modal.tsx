// A modal dialog: focus moves in on open, Tab and Shift+Tab stay inside, Escape closes, and
// focus returns to what opened it. Everything behind it is `inert` (nested modals stack).
import type { ComponentChildren } from "preact";
import { createPortal } from "preact/compat";
import { useEffect, useId, useRef } from "preact/hooks";

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

const stack: HTMLElement[] = [];

function setInertBehind(top: HTMLElement | undefined): void {
  const app = document.getElementById("app");
  if (app) app.inert = top !== undefined;
  for (const dialog of stack) dialog.inert = dialog !== top;
}

type Props = {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  wide?: boolean;
  describedBy?: string;
};

export function Modal({ title, onClose, children, wide, describedBy }: Props) {
  const root = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const closeRef = useRef(onClose);
  closeRef.current = onClose;

  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const element = root.current!;
    stack.push(element);
    setInertBehind(element);
    const first = element.querySelector<HTMLElement>("[data-autofocus]") ?? element.querySelector<HTMLElement>(FOCUSABLE);
    (first ?? element).focus();
    return () => {
      stack.splice(stack.indexOf(element), 1);
      setInertBehind(stack[stack.length - 1]);
      if (opener && opener.isConnected) opener.focus();
    };
  }, []);

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === "Escape") {
      event.stopPropagation();
      closeRef.current();
      return;
    }
    if (event.key !== "Tab") return;
    const focusable = Array.from(root.current!.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
      (el) => el.offsetParent !== null || el === document.activeElement,
    );
    if (focusable.length === 0) {
      event.preventDefault();
      return;
    }
    const first = focusable[0]!;
    const last = focusable[focusable.length - 1]!;
    if (event.shiftKey && (document.activeElement === first || document.activeElement === root.current)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  return createPortal(
    <div class="backdrop">
      <div
        ref={root}
        class={wide ? "modal modal-wide" : "modal"}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={describedBy}
        tabIndex={-1}
        onKeyDown={onKeyDown}
      >
        <header class="modal-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" class="icon-button" aria-label="Close" onClick={() => closeRef.current()}>
            ×
          </button>
        </header>
        <div class="modal-body">{children}</div>
      </div>
    </div>,
    document.body,
  );
}
