import { useState } from 'react';

import { api } from '../api.ts';
import { CopyField } from '../components/copy.tsx';
import { useConfirm } from '../components/dialog.tsx';
import { TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { bindField, formErrorsFrom, useShownOnce, useSubmission } from '../components/forms.ts';
import { ListingTable } from '../components/listing.tsx';
import { Alert, Card, PageHeading, ShownOnceCard, Time } from '../components/page.tsx';
import { DangerCell, TimeCell } from '../components/table.tsx';
import type { ApiToken, CreatedApiToken } from '../types.ts';
import { useApi } from '../use-api.ts';

function tokenState(token: ApiToken): 'Active' | 'Revoked' | 'Expired' {
  if (token.revokedAt) return 'Revoked';
  if (token.expiresAt && new Date(token.expiresAt).getTime() <= Date.now()) return 'Expired';
  return 'Active';
}

export function ApiTokensPage() {
  const tokens = useApi<{ tokens: ApiToken[] }>('/api-tokens');
  const [notice, setNotice] = useState<string>();
  const created = useShownOnce<CreatedApiToken>(() => {
    setNotice(undefined);
    tokens.reload();
  });
  const revoke = useConfirm((token: ApiToken) => ({
    title: `Revoke token ${token.name}?`,
    confirmLabel: 'Revoke token',
    body: <p>Anything using this token stops working immediately. This cannot be undone.</p>,
    run: async () => {
      await api.delete(`/api-tokens/${encodeURIComponent(token.id)}`);
      setNotice(`Token ${token.name} was revoked.`);
      tokens.reload();
    },
  }));

  return (
    <>
      <PageHeading title="API tokens" />
      <p className="lead">
        Personal tokens for scripts and tools: send <code>Authorization: Bearer kw_…</code>. A token acts as you in the organization it was
        created in.
      </p>
      {created.shown ? (
        <NewToken token={created.shown} onDismiss={created.dismiss} />
      ) : (
        <CreateTokenForm focusFirst={created.refocus} onCreated={created.show} />
      )}
      <h2>Your tokens</h2>
      <ListingTable
        notice={notice}
        items={tokens.data?.tokens}
        loaded={tokens}
        empty="You have no API tokens."
        label="API tokens"
        columns={['Name', 'Prefix', 'Created', 'Expires', 'Last used', 'Status']}
        actions
      >
        {(token) => {
          const state = tokenState(token);
          return (
            <tr key={token.id}>
              <td>{token.name}</td>
              <td className="mono">{token.prefix}…</td>
              <TimeCell value={token.createdAt} />
              <td>{token.expiresAt ? <Time value={token.expiresAt} /> : 'Never'}</td>
              <td>{token.lastUsedAt ? <Time value={token.lastUsedAt} /> : 'Never'}</td>
              <td>
                <span className={`badge ${state === 'Active' ? 'badge-online' : 'badge-revoked'}`}>{state}</span>
              </td>
              <DangerCell shown={state === 'Active'} label={`Revoke token ${token.name}`} onClick={() => revoke.ask(token)}>
                Revoke
              </DangerCell>
            </tr>
          );
        }}
      </ListingTable>
      {revoke.dialog}
    </>
  );
}

/** The token value, shown once: it lives only in this component's props until dismissed. */
function NewToken({ token, onDismiss }: { token: CreatedApiToken; onDismiss: () => void }) {
  return (
    <ShownOnceCard id="new-token" title={`Token ${token.name} created`} dismiss="I have stored it" onDismiss={onDismiss}>
      <Alert kind="warning">Copy the token now. Keyway stores only a digest and will not show it again.</Alert>
      <CopyField label="Token value" value={token.token} />
    </ShownOnceCard>
  );
}

function CreateTokenForm({ onCreated, focusFirst }: { onCreated: (token: CreatedApiToken) => void; focusFirst: boolean }) {
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();

  async function submit() {
    const fields: Record<string, string> = {};
    if (!name.trim()) fields.name = 'Name the token after what will use it, for example ci-pipeline.';
    const expiresInDays = days.trim() === '' ? undefined : Number(days);
    if (expiresInDays !== undefined && (!Number.isInteger(expiresInDays) || expiresInDays < 1 || expiresInDays > 366))
      fields.expiresInDays = 'Enter a whole number of days from 1 to 366, or leave it empty for no expiry.';
    if (Object.keys(fields).length) return setErrors({ fields });
    await attempt(
      async () => {
        const created = await api.post<CreatedApiToken>('/api-tokens', { name: name.trim(), ...(expiresInDays ? { expiresInDays } : {}) });
        setName('');
        onCreated(created);
      },
      (err) => formErrorsFrom(err, { name: 'name', expiresInDays: 'expiresInDays' }),
    );
  }

  return (
    <Card id="create-token" title="Create a token">
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        <div className="field-row">
          <TextField
            label="Name"
            {...bindField(errors, 'name', name, setName)}
            autoFocus={focusFirst}
            maxLength={100}
            autoComplete="off"
            required
          />
          <TextField
            label="Expires in (days)"
            {...bindField(errors, 'expiresInDays', days, setDays)}
            type="number"
            inputMode="numeric"
            min={1}
            max={366}
            hint="1 to 366; empty for no expiry."
          />
        </div>
        <FormActions submit={busy ? 'Creating…' : 'Create token'} disabled={busy} />
      </Form>
    </Card>
  );
}
