import { useState } from 'react';

import { api } from '../api.ts';
import { useConfirm } from '../components/dialog.tsx';
import { TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { asSentences, bindField, formErrorsFrom, useSubmission } from '../components/forms.ts';
import { ListingTable } from '../components/listing.tsx';
import { SectionHeading } from '../components/page.tsx';
import { DangerCell, TimeCell } from '../components/table.tsx';
import { SsoActionButton } from '../components/sso-buttons.tsx';
import { beginSso, emailOrTenant, identityProviderName } from '../sso.ts';
import type { LinkedIdentity, SsoProvider } from '../types.ts';
import type { Loaded } from '../use-api.ts';

const LINKED = '/account?done=linked';

/** Sign-ins at identity providers linked to the account: list, link Microsoft (or the OIDC provider), unlink. */
export function LinkedSignIns({
  identities,
  providers,
}: {
  identities: Loaded<{ identities: LinkedIdentity[] }>;
  providers: SsoProvider[] | undefined;
}) {
  const [notice, setNotice] = useState<string>();
  const entra = providers?.some((p) => p.id === 'entra');
  const oidc = providers?.find((p) => p.id === 'oidc');

  const unlink = useConfirm((identity: LinkedIdentity) => ({
    title: `Unlink ${identityProviderName(identity, providers)} account${identity.email ? ` ${identity.email}` : ''}?`,
    confirmLabel: 'Unlink',
    body: (
      <p>
        You can no longer sign in to Keyway with it. Organizations that require single sign-on stay closed to you until you link one again.
      </p>
    ),
    run: async () => {
      await api.delete(`/me/identities/${encodeURIComponent(identity.id)}`);
      setNotice(`${identityProviderName(identity, providers)} account${identity.email ? ` ${identity.email}` : ''} was unlinked.`);
      identities.reload();
    },
  }));

  return (
    <section aria-labelledby="sign-ins" className="section">
      <SectionHeading id="sign-ins" title="Linked sign-ins" />
      <p className="hint">Accounts at identity providers you can sign in to Keyway with, besides your password.</p>
      <ListingTable
        notice={notice}
        items={identities.data?.identities}
        loaded={identities}
        empty="No sign-in is linked to your account."
        label="Linked accounts"
        columns={['Provider', 'Account', 'Directory (tenant) ID', 'Linked', 'Last used']}
        actions
      >
        {(identity) => {
          const name = identityProviderName(identity, providers);
          return (
            <tr key={identity.id}>
              <td>{name}</td>
              <td>{identity.email ?? <span className="muted">—</span>}</td>
              <td className="mono">{identity.tenantId ?? '—'}</td>
              <TimeCell value={identity.createdAt} />
              <TimeCell value={identity.lastSignInAt} />
              <DangerCell label={`Unlink ${name} account ${identity.email ?? ''}`.trim()} onClick={() => unlink.ask(identity)}>
                Unlink
              </DangerCell>
            </tr>
          );
        }}
      </ListingTable>
      {entra && <LinkMicrosoft />}
      {oidc && <LinkOidc provider={oidc} />}
      {unlink.dialog}
    </section>
  );
}

function LinkMicrosoft() {
  const [value, setValue] = useState('');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();

  async function submit() {
    if (!value.trim()) return setErrors({ fields: { account: 'Enter your work email or your Directory (tenant) ID.' } });
    await attempt(
      async () => {
        await beginSso('entra', { intent: 'link', ...emailOrTenant(value), returnTo: LINKED });
      },
      (err) => asSentences(formErrorsFrom(err, { email: 'account', tenant: 'account' })),
      { untilGone: true },
    );
  }

  return (
    <Form ref={formRef} onSubmit={submit} error={errors.form} aria-labelledby="link-microsoft" className="card">
      <h3 id="link-microsoft">Link a Microsoft account</h3>
      <TextField
        label="Work email or Directory (tenant) ID"
        {...bindField(errors, 'account', value, setValue)}
        autoComplete="email"
        hint="Keyway sends you to your organization's Microsoft sign-in page; sign in there with the account to link."
      />
      <FormActions submit={busy ? 'Going to Microsoft…' : 'Link Microsoft account'} disabled={busy} />
    </Form>
  );
}

function LinkOidc({ provider }: { provider: SsoProvider }) {
  return (
    <div className="actions">
      <SsoActionButton
        start={() => beginSso('oidc', { intent: 'link', returnTo: LINKED })}
      >{`Link ${provider.name} account`}</SsoActionButton>
    </div>
  );
}
