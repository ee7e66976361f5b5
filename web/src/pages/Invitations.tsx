import { useState } from 'react';

import { api } from '../api.ts';
import { CopyField } from '../components/copy.tsx';
import { useConfirm } from '../components/dialog.tsx';
import { SelectField, TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { asSentences, bindField, formErrorsFrom, useShownOnce, useSubmission } from '../components/forms.ts';
import { ListingTable } from '../components/listing.tsx';
import { Alert, Card, ShownOnceCard, Time } from '../components/page.tsx';
import { DangerCell, TimeCell } from '../components/table.tsx';
import { useSession } from '../session.tsx';
import type { CreatedInvitation, Invitation, InvitationStatus, Role } from '../types.ts';
import { useApi } from '../use-api.ts';

const STATUS: Record<InvitationStatus, { label: string; badge: string }> = {
  pending: { label: 'Waiting', badge: 'badge-pending' },
  accepted: { label: 'Accepted', badge: 'badge-online' },
  expired: { label: 'Expired', badge: 'badge-offline' },
  revoked: { label: 'Revoked', badge: 'badge-revoked' },
};

/**
 * Invitations on the Members page: invite by email and role (the link is shown once, to be sent by
 * the admin: Keyway sends no email), and the list of invitations with their state and Revoke.
 */
export function Invitations() {
  const { me } = useSession();
  const invitations = useApi<{ invitations: Invitation[] }>('/invitations');
  const [notice, setNotice] = useState<string>();
  const created = useShownOnce<CreatedInvitation>(() => {
    setNotice(undefined);
    invitations.reload();
  });
  const revoke = useConfirm((invitation: Invitation) => ({
    title: `Revoke the invitation for ${invitation.email}?`,
    confirmLabel: 'Revoke invitation',
    body: <p>Its link stops working at once. You can invite {invitation.email} again later.</p>,
    run: async () => {
      await api.delete(`/invitations/${encodeURIComponent(invitation.id)}`);
      setNotice(`The invitation for ${invitation.email} was revoked; its link no longer works.`);
      invitations.reload();
    },
  }));
  const list = invitations.data?.invitations;

  return (
    <>
      {created.shown ? (
        <NewInvitation invitation={created.shown} organization={me.organization.name} onDismiss={created.dismiss} />
      ) : (
        <InviteForm focusFirst={created.refocus} onCreated={created.show} />
      )}
      <h2 id="invitations">Invitations</h2>
      <ListingTable
        notice={notice}
        items={list}
        loaded={invitations}
        empty="No invitations yet."
        label="Invitations"
        columns={['Email', 'Role', 'Status', 'Sent', 'Valid until']}
        actions
      >
        {(invitation) => (
          <tr key={invitation.id}>
            <td>{invitation.email}</td>
            <td>{invitation.role}</td>
            <td>
              <span className={`badge ${STATUS[invitation.status].badge}`}>{STATUS[invitation.status].label}</span>
              {invitation.acceptedAt && (
                <span className="hint">
                  {' '}
                  <Time value={invitation.acceptedAt} />
                </span>
              )}
            </td>
            <TimeCell value={invitation.createdAt} />
            <td>{invitation.status === 'pending' ? <Time value={invitation.expiresAt} /> : <span className="muted">—</span>}</td>
            <DangerCell
              shown={invitation.status === 'pending'}
              label={`Revoke the invitation for ${invitation.email}`}
              onClick={() => revoke.ask(invitation)}
            >
              Revoke
            </DangerCell>
          </tr>
        )}
      </ListingTable>
      {revoke.dialog}
    </>
  );
}

/** The link, shown once: Keyway keeps only a digest of its token. */
function NewInvitation({
  invitation,
  organization,
  onDismiss,
}: {
  invitation: CreatedInvitation;
  organization: string;
  onDismiss: () => void;
}) {
  return (
    <ShownOnceCard
      id="new-invitation"
      title={`Invitation for ${invitation.email} created`}
      dismiss="Done, I have sent it"
      onDismiss={onDismiss}
    >
      <Alert kind="warning">
        Send this link to {invitation.email} yourself (Keyway sends no email), through a channel you trust. It is shown only now, works
        once, and only for that address.
      </Alert>
      <CopyField
        label="Invitation link"
        value={invitation.url}
        hint={`They join ${organization} as ${invitation.role === 'admin' ? 'an admin' : 'a member'} when they open it, if they do before it expires.`}
      />
      <p>
        Valid until <Time value={invitation.expiresAt} />.
      </p>
    </ShownOnceCard>
  );
}

function InviteForm({ onCreated, focusFirst }: { onCreated: (invitation: CreatedInvitation) => void; focusFirst: boolean }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();

  async function submit() {
    if (!email.trim()) return setErrors({ fields: { email: 'Enter the email address of the person to invite.' } });
    await attempt(
      async () => {
        const created = await api.post<CreatedInvitation>('/invitations', { email: email.trim(), role });
        setEmail('');
        setRole('member');
        onCreated(created);
      },
      (err) => asSentences(formErrorsFrom(err, { email: 'email', role: 'role' })),
    );
  }

  return (
    <Card id="invite" title="Invite someone">
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        <div className="field-row">
          <TextField
            label="Email"
            {...bindField(errors, 'email', email, setEmail)}
            type="email"
            autoComplete="off"
            autoFocus={focusFirst}
            hint="They accept signed in with this address, or by creating an account for it."
            required
          />
          <SelectField label="Role" {...bindField(errors, 'role', role, (value) => setRole(value as Role))}>
            <option value="member">Member</option>
            <option value="admin">Admin</option>
          </SelectField>
        </div>
        <FormActions submit={busy ? 'Creating the link…' : 'Invite'} disabled={busy} />
      </Form>
    </Card>
  );
}
