import { useState } from 'react';
import { api, messageOf } from '../api.ts';
import { useConfirm } from '../components/dialog.tsx';
import { ListingTable } from '../components/listing.tsx';
import { SectionHeading } from '../components/page.tsx';
import { TimeCell } from '../components/table.tsx';
import { useSession } from '../session.tsx';
import { sentence } from '../text.ts';
import type { AuthMethod, SessionSummary } from '../types.ts';
import type { Loaded } from '../use-api.ts';

const HOW: Record<AuthMethod, string> = {
  password: 'Password',
  sso: 'Single sign-on',
  link: 'Sign-in link',
  invitation: 'Invitation (new account)',
};

/** "Firefox on Windows": enough to recognise a session, not a fingerprint. */
export function describeUserAgent(userAgent: string | null): string {
  if (!userAgent) return 'Unknown browser';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /OPR\//.test(userAgent)
      ? 'Opera'
      : /Firefox\//.test(userAgent)
        ? 'Firefox'
        : /Chrom(e|ium)\//.test(userAgent)
          ? 'Chrome'
          : /Safari\//.test(userAgent)
            ? 'Safari'
            : /^curl\//.test(userAgent)
              ? 'curl'
              : 'A browser';
  const system = /Windows/.test(userAgent)
    ? 'Windows'
    : /iPhone|iPad/.test(userAgent)
      ? 'iOS'
      : /Mac OS X|Macintosh/.test(userAgent)
        ? 'macOS'
        : /Android/.test(userAgent)
          ? 'Android'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : '';
  return system ? `${browser} on ${system}` : browser;
}

/** The person's signed-in sessions, in every organization: this one marked, the others can be signed out. */
export function SessionsSection({ sessions }: { sessions: Loaded<{ sessions: SessionSummary[] }> }) {
  const { me, signOut } = useSession();
  const [notice, setNotice] = useState<{ kind: 'success' | 'error'; text: string }>();
  const [busy, setBusy] = useState<string>();
  const organizationName = (id: string | null) =>
    id === null ? 'None chosen yet' : (me.organizations.find((org) => org.id === id)?.name ?? 'An organization you left');
  // This browser first, then the most recently used.
  const list = sessions.data?.sessions
    .slice()
    .sort((a, b) => Number(b.current) - Number(a.current) || b.lastSeenAt.localeCompare(a.lastSeenAt));
  const others = list?.filter((s) => !s.current).length ?? 0;

  const signOutEverywhere = useConfirm<void>(() => ({
    title: 'Sign out everywhere?',
    confirmLabel: 'Sign out everywhere',
    body: (
      <p>
        Every session of yours ends
        {others > 0 ? ` (this one and ${others === 1 ? '1 other' : `${others} others`})` : ', this one included'}, in every organization.
        Your API tokens keep working: revoke them under API tokens, or change your password, which revokes them all.
      </p>
    ),
    run: async () => {
      const { endedSessions } = await api.post<{ endedSessions: number }>('/me/sessions/sign-out-everywhere');
      await signOut({
        notice: `You signed out everywhere: ${endedSessions === 1 ? '1 session' : `${endedSessions} sessions`} ended, this one included.`,
      });
    },
  }));

  async function end(session: SessionSummary) {
    setBusy(session.id);
    setNotice(undefined);
    try {
      await api.delete(`/me/sessions/${encodeURIComponent(session.id)}`);
      setNotice({
        kind: 'success',
        text: `Signed out ${describeUserAgent(session.userAgent)} (signed in ${new Date(session.createdAt).toLocaleString()}).`,
      });
    } catch (err) {
      setNotice({ kind: 'error', text: sentence(messageOf(err)) });
    } finally {
      setBusy(undefined);
      sessions.reload();
    }
  }

  return (
    <section aria-labelledby="sessions" className="section">
      <SectionHeading id="sessions" title="Where you are signed in">
        <button type="button" className="button-danger-outline" onClick={() => signOutEverywhere.ask()}>
          Sign out everywhere
        </button>
      </SectionHeading>
      <p className="hint">Sign out a session you do not recognise, then change your password.</p>
      <ListingTable
        notice={notice}
        items={list}
        loaded={sessions}
        label="Sessions"
        columns={['Browser', 'Address', 'Signed in', 'How', 'Organization', 'Last active', 'Ends']}
        actions
      >
        {(session) => {
          const browser = describeUserAgent(session.userAgent);
          return (
            <tr key={session.id}>
              <td>
                {browser}
                {session.current && (
                  <>
                    {' '}
                    <span className="badge badge-online">This browser</span>
                  </>
                )}
              </td>
              <td className="mono">{session.ip ?? '—'}</td>
              <TimeCell value={session.createdAt} />
              <td>{HOW[session.authMethod] ?? session.authMethod}</td>
              <td>{organizationName(session.organizationId)}</td>
              <TimeCell value={session.lastSeenAt} />
              <TimeCell value={session.expiresAt} />
              <td className="row-actions">
                {!session.current && (
                  <button
                    type="button"
                    className="button-small"
                    onClick={() => void end(session)}
                    disabled={busy !== undefined}
                    aria-label={`Sign out ${browser}, signed in ${new Date(session.createdAt).toLocaleString()}`}
                  >
                    {busy === session.id ? 'Signing out…' : 'Sign out'}
                  </button>
                )}
              </td>
            </tr>
          );
        }}
      </ListingTable>
      {signOutEverywhere.dialog}
    </section>
  );
}
