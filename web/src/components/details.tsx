import type { ReactNode } from 'react';

interface DetailProps {
  term: ReactNode;
  /** Spans the whole row of the list (long values: scopes, variables, a test's problems). */
  wide?: boolean;
  /** Sets the value in monospace (ids, fingerprints, URLs). */
  mono?: boolean;
  children: ReactNode;
}

/** One term and its value in a <dl className="details">. */
export function Detail({ term, wide, mono, children }: DetailProps) {
  return (
    <div className={wide ? 'details-wide' : undefined}>
      <dt>{term}</dt>
      <dd className={mono ? 'mono' : undefined}>{children}</dd>
    </div>
  );
}
