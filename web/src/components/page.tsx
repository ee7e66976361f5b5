import { useEffect, useRef } from 'react';
import type { ReactNode } from 'react';
import type { ApiError } from '../api.ts';
import { hasNavigated } from '../router.tsx';
import type { Loaded } from '../use-api.ts';

/** The page's h1. After in-app navigation it takes focus, so screen readers announce the new page. */
export function PageHeading({ title, children }: { title: string; children?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Keyway`;
    if (hasNavigated()) ref.current?.focus({ preventScroll: false });
  }, [title]);
  return (
    <div className="page-heading">
      <h1 ref={ref} tabIndex={-1}>
        {title}
      </h1>
      {children}
    </div>
  );
}

export type AlertKind = 'error' | 'success' | 'info' | 'warning';

/** What a page says about what just happened (shown in an Alert of its kind). */
export type Notice = { kind: AlertKind; text: string };

export function Alert({ kind = 'error', children, id }: { kind?: AlertKind; children: ReactNode; id?: string }) {
  // Errors interrupt (role=alert); the rest are polite status messages.
  return (
    <div id={id} className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="muted" role="status">
      {label}
    </p>
  );
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">—</span>;
  return <time dateTime={value}>{formatTime(value)}</time>;
}

/** A table that scrolls sideways on narrow screens; focusable so keyboards can scroll it too. */
export function TableWrap({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/** Text only screen readers get, read out politely when it changes (e.g. what a busy form is doing). */
export function StatusText({ children }: { children?: ReactNode }) {
  return (
    <p className="visually-hidden" role="status">
      {children}
    </p>
  );
}

/** A card headed by an h2; `id` names the section after its heading. */
export function Card({ id, title, children }: { id: string; title: ReactNode; children: ReactNode }) {
  return (
    <section aria-labelledby={id} className="card">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** The h2 of a section on a page, with the section's main action (if any) beside it. */
export function SectionHeading({ id, title, children }: { id: string; title: string; children?: ReactNode }) {
  return (
    <div className="section-heading">
      <h2 id={id}>{title}</h2>
      {children}
    </div>
  );
}

/**
 * The page of one item (a project, a runner) when loading it failed: "… not found" with `notFound`
 * (which says where to go instead) for a 404, otherwise the error under the page's usual title.
 */
export function LoadFailed({ title, error, notFound }: { title: string; error: ApiError; notFound: ReactNode }) {
  if (error.status === 404) {
    return (
      <>
        <PageHeading title={`${title} not found`} />
        <p>{notFound}</p>
      </>
    );
  }
  return (
    <>
      <PageHeading title={title} />
      <Alert>{error.message}</Alert>
    </>
  );
}

/**
 * The page of one item (a project, a runner) fetched by `loaded`: LoadFailed (with `title` and
 * `notFound`) if the fetch failed, Loading until it answers, then `children` with the item.
 */
export function ItemPage<T>({
  loaded,
  title,
  notFound,
  children,
}: {
  loaded: Pick<Loaded<T>, 'data' | 'error'>;
  title: string;
  notFound: ReactNode;
  children: (item: T) => ReactNode;
}) {
  if (loaded.error) return <LoadFailed title={title} error={loaded.error} notFound={notFound} />;
  if (!loaded.data) return <Loading />;
  return <>{children(loaded.data)}</>;
}

/**
 * What a create form made, shown once in the form's place (a token, a link): a highlighted card
 * whose heading takes focus, so it is read out, and a button (`dismiss`) that brings the form back.
 */
export function ShownOnceCard({
  id,
  title,
  dismiss,
  onDismiss,
  children,
}: {
  id: string;
  title: ReactNode;
  dismiss: string;
  onDismiss: () => void;
  children: ReactNode;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section aria-labelledby={id} className="card card-highlight">
      <h2 id={id} ref={heading} tabIndex={-1}>
        {title}
      </h2>
      {children}
      <div className="actions">
        <button type="button" className="button-primary" onClick={onDismiss}>
          {dismiss}
        </button>
      </div>
    </section>
  );
}
