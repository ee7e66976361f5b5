import type { ReactNode } from 'react';
import { Alert, Loading } from './page.tsx';
import type { Notice } from './page.tsx';
import { DataTable } from './table.tsx';
import type { TableProps } from './table.tsx';
import type { Loaded } from '../use-api.ts';

interface ListingProps<T> {
  /** Undefined until the first answer. */
  items: T[] | undefined;
  error?: string | undefined;
  loading: boolean;
  /** What an empty list says (in a paragraph); without it an empty list is rendered as any other. */
  empty?: ReactNode;
  /** What the last change to the list did (a string: a success), said above it. */
  notice?: Notice | string | undefined;
  children: (items: T[]) => ReactNode;
}

/**
 * A fetched list in its states, under the notice of its last change: the error, Loading until the
 * first answer, the empty message, the items.
 */
export function Listing<T>({ items, error, loading, empty, notice, children }: ListingProps<T>) {
  const said = typeof notice === 'string' ? { kind: 'success' as const, text: notice } : notice;
  return (
    <>
      {said && <Alert kind={said.kind}>{said.text}</Alert>}
      {error && <Alert>{error}</Alert>}
      {loading && !items && <Loading />}
      {items && (items.length === 0 && empty !== undefined ? <p className="empty">{empty}</p> : children(items))}
    </>
  );
}

type ListingTableProps<T> = Omit<ListingProps<T>, 'children' | 'loading'> &
  Omit<TableProps, 'children'> & {
    /** The fetch (a useApi result) whose error and loading the listing shows, unless `error` and `loading` say otherwise. */
    loaded?: Pick<Loaded<unknown>, 'error' | 'loading'>;
    loading?: boolean;
    /** One item's row (a keyed <tr>). */
    children: (item: T) => ReactNode;
  };

/** A fetched list shown as a table, a row an item, in the list's states (see Listing). */
export function ListingTable<T>({ items, loaded, error, loading, empty, notice, children, ...table }: ListingTableProps<T>) {
  return (
    <Listing
      items={items}
      error={error ?? loaded?.error?.message}
      loading={loading ?? loaded?.loading ?? false}
      empty={empty}
      notice={notice}
    >
      {(list) => <DataTable {...table}>{list.map(children)}</DataTable>}
    </Listing>
  );
}
