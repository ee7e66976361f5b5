import type { ReactNode } from 'react';

/**
 * A small outlined button for a destructive action on one item (Delete, Revoke). It only opens a
 * confirmation, so `label` must name the item: several sit on one page.
 */
export function DangerButton({ label, onClick, children }: { label: string; onClick: () => void; children: ReactNode }) {
  return (
    <button type="button" className="button-small button-danger-outline" onClick={onClick} aria-label={label}>
      {children}
    </button>
  );
}
