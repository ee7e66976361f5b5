import { useState } from 'react';
import { api, messageOf } from '../api.ts';
import { DangerButton } from '../components/danger-button.tsx';
import { useConfirm } from '../components/dialog.tsx';
import { ListingTable } from '../components/listing.tsx';
import { PageHeading } from '../components/page.tsx';
import { TimeCell } from '../components/table.tsx';
import { Link } from '../router.tsx';
import { useSession } from '../session.tsx';
import { sentence } from '../text.ts';
import type { Member, MemberSource, Offboarded, Role } from '../types.ts';
import { useApi } from '../use-api.ts';
import { Invitations } from './Invitations.tsx';

const SOURCE_LABEL: Record<MemberSource, string> = {
  invitation: 'Invitation',
  sso: 'Single sign-on',
  direct: 'Added directly',
  bootstrap: 'Set up Keyway',
  operator: 'Added by an operator',
};

/** What removing or leaving asked of the organization's runners, in a sentence or two. */
export function purgeSummary(result: Offboarded): string {
  const runners =
    result.runners === 0
      ? 'No runner of the organization was active to delete stored credentials.'
      : `${result.runners === 1 ? '1 runner was' : `${result.runners} runners were`} asked to delete the stored credentials.`;
  const environments =
    result.environments === 0
      ? ''
      : ` ${result.environments === 1 ? '1 environment was' : `${result.environments} environments were`} deleted.`;
  return runners + environments;
}

export function MembersPage() {
  const { me } = useSession();
  const members = useApi<{ members: Member[] }>('/members');
  const [notice, setNotice] = useState<{ kind: 'success' | 'error'; text: string }>();
  const organization = me.organization.name;

  const removeMember = useConfirm((member: Member) => ({
    title: `Remove ${member.displayName || member.email} from ${organization}?`,
    confirmLabel: 'Remove from organization',
    body: (
      <>
        <p>What happens at once:</p>
        <ul>
          <li>Their sessions and API tokens in {organization} end.</li>
          <li>
            Every runner of {organization} deletes the Azure DevOps credentials they stored (OAuth grants and personal access tokens), and
            their environments there.
          </li>
          <li>They lose their roles in {organization}&rsquo;s projects.</li>
        </ul>
        <p>Their Keyway account stays, with any other organizations it belongs to. To come back they need a new invitation.</p>
      </>
    ),
    run: async () => {
      const result = await api.delete<Offboarded>(`/members/${encodeURIComponent(member.id)}`);
      setNotice({
        kind: 'success',
        text: `${member.displayName || member.email} was removed from ${organization}. ${purgeSummary(result)}`,
      });
      members.reload();
    },
  }));

  async function changeRole(member: Member, role: Role) {
    setNotice(undefined);
    try {
      await api.put(`/members/${encodeURIComponent(member.id)}/role`, { role });
      setNotice({ kind: 'success', text: `${member.email} is now ${role === 'admin' ? 'an admin' : 'a member'}.` });
    } catch (err) {
      setNotice({
        kind: 'error',
        text: `${member.email} is still ${member.role === 'admin' ? 'an admin' : 'a member'}: ${sentence(messageOf(err))}`,
      });
    }
    members.reload();
  }

  return (
    <>
      <PageHeading title="Members" />
      <p className="lead">
        People in {organization}. Admins manage runners, repository access, members, the organization&rsquo;s settings and the audit log.
        People join by invitation (or by single sign-on, when the <Link to="/organization">organization settings</Link> bind a Microsoft
        tenant or an email domain).
      </p>
      <Invitations />
      <h2 id="current-members">Current members</h2>
      <ListingTable
        notice={notice}
        items={members.data?.members}
        loaded={members}
        label="Members"
        columns={['Name', 'Email', 'Role', 'Joined', 'How they joined', 'Status']}
        actions
      >
        {(member) => {
          const name = member.displayName || member.email;
          return (
            <tr key={member.id}>
              <td>{member.displayName}</td>
              <td>{member.email}</td>
              <td>
                {member.id === me.user.id ? (
                  <span>{member.role} (you)</span>
                ) : (
                  <select
                    aria-label={`Role of ${member.email}`}
                    value={member.role}
                    onChange={(e) => void changeRole(member, e.target.value as Role)}
                  >
                    <option value="member">member</option>
                    <option value="admin">admin</option>
                  </select>
                )}
              </td>
              <TimeCell value={member.joinedAt} />
              <td>{SOURCE_LABEL[member.source] ?? member.source}</td>
              <td>
                {member.disabled ? (
                  <span className="badge badge-revoked">Disabled</span>
                ) : (
                  <span className="badge badge-online">Active</span>
                )}
              </td>
              <td className="row-actions">
                {member.id === me.user.id ? (
                  <Link to="/account#organizations">Leave…</Link>
                ) : (
                  <DangerButton label={`Remove ${name} from ${organization}`} onClick={() => removeMember.ask(member)}>
                    Remove
                  </DangerButton>
                )}
              </td>
            </tr>
          );
        }}
      </ListingTable>
      {removeMember.dialog}
    </>
  );
}
