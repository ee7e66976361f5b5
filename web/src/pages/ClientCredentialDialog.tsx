import { useEffect, useState } from 'react';
import { Dialog } from '../components/dialog.tsx';
import { ClientCredentialPanel } from '../components/client-credential.tsx';
import { Alert, Loading } from '../components/page.tsx';
import type { AppConnection, ClientCredentialState } from '../types.ts';
import { useApi } from '../use-api.ts';
import { connectionMethodLabel } from './AppConnectionDialog.tsx';

/**
 * A service-principal app connection without secret: what to register in Entra ID (or Azure DevOps)
 * for it to work, asked of the runner when the dialog opens.
 */
export function ClientCredentialDialog({
  projectId,
  connection,
  canManage,
  onClose,
}: {
  projectId: string;
  connection: AppConnection;
  canManage: boolean;
  onClose: () => void;
}) {
  const path = `/projects/${encodeURIComponent(projectId)}/app-connections/${encodeURIComponent(connection.id)}/client-credential`;
  const asked = useApi<ClientCredentialState>(path);
  const [state, setState] = useState<ClientCredentialState | undefined>(connection.credentialState);
  useEffect(() => {
    if (asked.data) setState(asked.data);
  }, [asked.data]);
  return (
    <Dialog title={`${connection.name} · ${connectionMethodLabel(connection.method)}`} onClose={onClose} wide>
      {asked.loading && !state && <Loading label="Asking the runner…" />}
      {asked.error && <Alert kind="warning">{asked.error.message}</Alert>}
      {state && (
        <ClientCredentialPanel
          state={state}
          path={path}
          canPrepare={canManage && connection.method === 'certificate'}
          onChange={setState}
        />
      )}
      <p className="actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
      </p>
    </Dialog>
  );
}
