import { useEffect, useId, useRef, useState } from 'react';

/** Copies `value`; falls back to selecting the text of `targetId` when the clipboard is refused. */
export function CopyButton({ value, what, targetId }: { value: string; what: string; targetId?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'selected'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = window.setTimeout(() => setState('idle'), 2500);
    return () => window.clearTimeout(timer);
  }, [state]);

  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setState('copied');
    } catch {
      const target = targetId ? document.getElementById(targetId) : null;
      if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) {
        target.focus();
        target.select();
      }
      setState('selected');
    }
  }

  return (
    <>
      <button type="button" className="button-small" onClick={() => void copy()} aria-label={`Copy ${what}`}>
        {state === 'copied' ? 'Copied' : 'Copy'}
      </button>
      <span className="visually-hidden" role="status">
        {state === 'copied'
          ? `${what} copied to the clipboard`
          : state === 'selected'
            ? `The clipboard is not available; ${what} is selected, press Control+C to copy it`
            : ''}
      </span>
    </>
  );
}

/**
 * A read-only value with a copy button: a token shown once, a command, a callback URL.
 * `secret` values are never re-rendered after the parent forgets them.
 */
export function CopyField({ label, value, multiline, hint }: { label: string; value: string; multiline?: boolean; hint?: string }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const select = () => ref.current?.select();
  const what = label.charAt(0).toLowerCase() + label.slice(1);
  return (
    <div className="field copy-field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        {multiline ? (
          <textarea
            id={id}
            ref={ref}
            className="mono"
            readOnly
            value={value}
            rows={Math.min(6, Math.max(2, Math.ceil(value.length / 60)))}
            onFocus={select}
            aria-describedby={hintId}
            spellCheck={false}
          />
        ) : (
          <input
            id={id}
            ref={ref}
            className="mono"
            readOnly
            value={value}
            onFocus={select}
            aria-describedby={hintId}
            spellCheck={false}
            autoComplete="off"
          />
        )}
        <CopyButton value={value} what={what} targetId={id} />
      </div>
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
    </div>
  );
}
