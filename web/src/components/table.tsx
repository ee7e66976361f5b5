import type { ReactNode } from 'react';
import { DangerButton } from './danger-button.tsx';
import { TableWrap, Time } from './page.tsx';

export interface TableProps {
  /** The accessible name of the table's scrolling region. */
  label: string;
  columns: string[];
  /** Adds a last column for row buttons, named only for screen readers. */
  actions?: boolean;
  className?: string;
  /** The rows (<tr>s). */
  children: ReactNode;
}

/** A table with a header row of column names, in a region that scrolls sideways on narrow screens. */
export function DataTable({ label, columns, actions, className, children }: TableProps) {
  return (
    <TableWrap label={label}>
      <table className={className}>
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" key={column}>
                {column}
              </th>
            ))}
            {actions && (
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </TableWrap>
  );
}

/** A cell with a moment in time (created, last seen), or a dash for none. */
export function TimeCell({ value }: { value: string | null | undefined }) {
  return (
    <td>
      <Time value={value} />
    </td>
  );
}

/**
 * The actions cell of a row (see DataTable's `actions`) with a DangerButton (it asks to delete,
 * revoke, remove the row's item), or empty when the item is not `shown` one.
 */
export function DangerCell({
  shown = true,
  label,
  onClick,
  children,
}: {
  shown?: boolean;
  label: string;
  onClick: () => void;
  children: ReactNode;
}) {
  return (
    <td className="row-actions">
      {shown && (
        <DangerButton label={label} onClick={onClick}>
          {children}
        </DangerButton>
      )}
    </td>
  );
}
