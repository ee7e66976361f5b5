import { useState } from 'react';
import type { ReactNode } from 'react';

import { api } from '../api.ts';
import { CopyField } from '../components/copy.tsx';
import { useConfirm } from '../components/dialog.tsx';
import { CheckboxField, ChoiceOptions, FieldError, IdentifierField, SelectField, TextAreaField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { asSentences, bindField, formErrorsFrom, useSubmission } from '../components/forms.ts';
import { ListingTable } from '../components/listing.tsx';
import { Alert, Card, Loading, PageHeading, SectionHeading } from '../components/page.tsx';
import { DangerCell, TimeCell } from '../components/table.tsx';
import { useSession } from '../session.tsx';
import type { OrganizationPolicy, OrganizationSso, PolicySaved, SsoBindingKind } from '../types.ts';
import { useApi } from '../use-api.ts';
import type { Loaded } from '../use-api.ts';

const KIND_LABEL: Record<SsoBindingKind, string> = { 'entra-tenant': 'Microsoft Entra tenant', 'email-domain': 'Email domain' };

/** The organization's sign-in and project policy, its single sign-on bindings and role mapping (admins). */
export function OrganizationSettingsPage() {
  const { me } = useSession();
  const policy = useApi<OrganizationPolicy>('/organization/settings');
  const sso = useApi<OrganizationSso>('/organization/sso');

  return (
    <>
      <PageHeading title="Organization settings" />
      <p className="lead">How people sign in to {me.organization.name} and join it, and what members may do.</p>
      {policy.error && <Alert>{policy.error.message}</Alert>}
      {policy.loading && !policy.data && <Loading />}
      {policy.data && (
        <>
          <SignInPolicy policy={policy.data} ssoReady={Boolean(sso.data && sso.data.bindings.length > 0)} onSaved={policy.reload} />
          <ProjectPolicy policy={policy.data} onSaved={policy.reload} />
        </>
      )}
      <SingleSignOn sso={sso} />
      {policy.data && <RoleMapping policy={policy.data} onSaved={policy.reload} />}
    </>
  );
}

/** PUT /organization/settings with part of the policy; the server's refusals land next to the field. */
function usePolicyForm(fieldMap: Record<string, string>) {
  const { errors, formRef, busy, attempt } = useSubmission();
  const [saved, setSaved] = useState<string>();
  async function save(change: Partial<OrganizationPolicy>, message: (saved: PolicySaved) => string, onSaved: () => void) {
    setSaved(undefined);
    await attempt(
      async () => {
        const result = await api.put<PolicySaved>('/organization/settings', change);
        setSaved(message(result));
        onSaved();
      },
      (err) => asSentences(formErrorsFrom(err, fieldMap)),
    );
  }
  return { errors, formRef, busy, saved, save };
}

/**
 * One setting of the policy saved on its own: its value as edited, and what its PolicyCard takes
 * (the form, the submit handler, whether the value is unchanged).
 */
function usePolicySetting<K extends keyof OrganizationPolicy>(
  policy: OrganizationPolicy,
  key: K,
  message: (saved: PolicySaved) => string,
  onSaved: () => void,
) {
  const [value, setValue] = useState(policy[key]);
  const form = usePolicyForm({ [key]: key });
  const onSubmit = () => form.save({ [key]: value } as Pick<OrganizationPolicy, K>, message, onSaved);
  return { value, setValue, card: { form, onSubmit, unchanged: value === policy[key] } };
}

interface PolicyCardProps {
  id: string;
  title: string;
  form: ReturnType<typeof usePolicyForm>;
  onSubmit: () => Promise<void>;
  /** The submit button's text while not saving. */
  submit: string;
  /** Nothing to save: the form still says what the policy is. */
  unchanged?: boolean;
  children: ReactNode;
}

/** A card whose form saves one part of the policy, with what the last save did above its fields. */
function PolicyCard({ id, title, form, onSubmit, submit, unchanged = false, children }: PolicyCardProps) {
  return (
    <Card id={id} title={title}>
      <Form ref={form.formRef} onSubmit={onSubmit} error={form.errors.form}>
        {form.saved && <Alert kind="success">{form.saved}</Alert>}
        {children}
        <FormActions submit={form.busy ? 'Saving…' : submit} disabled={form.busy || unchanged} />
      </Form>
    </Card>
  );
}

function SignInPolicy({ policy, ssoReady, onSaved }: { policy: OrganizationPolicy; ssoReady: boolean; onSaved: () => void }) {
  const setting = usePolicySetting(
    policy,
    'passwordSignIn',
    (saved) =>
      saved.policy.passwordSignIn
        ? 'Members may sign in with a password.'
        : `Members sign in only through single sign-on now. ${saved.endedSessions === 1 ? '1 password session' : `${saved.endedSessions} password sessions`} in this organization ended.`,
    onSaved,
  );

  return (
    <PolicyCard id="sign-in-policy" title="Sign-in" submit="Save sign-in setting" {...setting.card}>
      <CheckboxField
        label="Members may sign in with a password"
        name="passwordSignIn"
        checked={setting.value}
        onChange={(e) => setting.setValue(e.target.checked)}
        error={setting.card.form.errors.fields.passwordSignIn}
        hint={
          <>
            Switched off, people enter{' '}
            {ssoReady ? 'only through single sign-on' : 'only through single sign-on, which needs a binding below first'}, and the password
            sessions in this organization end. Keyway asks that you signed in with single sign-on yourself first, so you know it works.
            Instance operators keep their sign-in links.
          </>
        }
      />
    </PolicyCard>
  );
}

function ProjectPolicy({ policy, onSaved }: { policy: OrganizationPolicy; onSaved: () => void }) {
  const setting = usePolicySetting(
    policy,
    'projectCreation',
    (saved) =>
      saved.policy.projectCreation === 'members' ? 'Every member may create projects now.' : 'Only admins may create projects now.',
    onSaved,
  );

  return (
    <PolicyCard id="project-policy" title="Projects" submit="Save project setting" {...setting.card}>
      <fieldset className="choice">
        <legend>Who may create projects</legend>
        <ChoiceOptions
          name="projectCreation"
          chosen={setting.value}
          onChoose={setting.setValue}
          options={[
            { value: 'admins', label: 'Admins only', hint: 'Members work in the projects an owner adds them to.' },
            { value: 'members', label: 'Every member', hint: 'Whoever creates a project becomes its owner.' },
          ]}
        />
      </fieldset>
      <FieldError error={setting.card.form.errors.fields.projectCreation} />
    </PolicyCard>
  );
}

function SingleSignOn({ sso }: { sso: Loaded<OrganizationSso> }) {
  const [notice, setNotice] = useState<string>();
  const data = sso.data;

  const removeBinding = useConfirm((binding: OrganizationSso['bindings'][number]) => ({
    title: `Remove the binding ${binding.value}?`,
    confirmLabel: 'Remove binding',
    body: <p>Nobody new joins through it. People who joined through it stay members until you remove them.</p>,
    run: async () => {
      await api.delete(`/organization/sso/bindings/${encodeURIComponent(binding.id)}`);
      setNotice(`${binding.value} is no longer bound to this organization.`);
      sso.reload();
    },
  }));

  return (
    <section aria-labelledby="sso" className="section">
      <SectionHeading id="sso" title="Single sign-on" />
      <p>
        People who sign in through a bound Microsoft Entra tenant (or, with another OpenID Connect provider, with a verified address of a
        bound email domain) join {''}
        this organization as they first sign in, with the role the mapping below gives them.
      </p>
      {sso.error && <Alert>{sso.error.message}</Alert>}
      {sso.loading && !data && <Loading />}
      {data && (
        <>
          <ul>
            <li>
              Sign in with Microsoft:{' '}
              {data.providers.entra
                ? 'set up on this Keyway.'
                : 'not set up on this Keyway (an operator sets KEYWAY_SSO_ENTRA_CLIENT_ID and its secret).'}
            </li>
            <li>
              Another OpenID Connect provider: {data.providers.oidc ? 'set up on this Keyway.' : 'not set up (KEYWAY_SSO_OIDC_ISSUER).'}
            </li>
          </ul>
          <CopyField
            label="Redirect URI to register"
            value={data.redirectUri}
            hint="Add it to the identity provider's app registration as a Web redirect URI (in Entra ID: App registrations → your app → Authentication → Web)."
          />
          <h3>Bound tenants and domains</h3>
          <ListingTable
            notice={notice}
            items={data.bindings}
            loading={false}
            empty="Nothing is bound yet: people join only by invitation."
            label="Bound tenants and domains"
            columns={['Kind', 'Value', 'Added']}
            actions
          >
            {(binding) => (
              <tr key={binding.id}>
                <td>{KIND_LABEL[binding.kind]}</td>
                <td className="mono">{binding.value}</td>
                <TimeCell value={binding.createdAt} />
                <DangerCell label={`Remove the binding ${binding.value}`} onClick={() => removeBinding.ask(binding)}>
                  Remove
                </DangerCell>
              </tr>
            )}
          </ListingTable>
          <AddBinding
            sso={data}
            onAdded={(text) => {
              setNotice(text);
              sso.reload();
            }}
          />
        </>
      )}
      {removeBinding.dialog}
    </section>
  );
}

function AddBinding({ sso, onAdded }: { sso: OrganizationSso; onAdded: (message: string) => void }) {
  const [kind, setKind] = useState<SsoBindingKind>('entra-tenant');
  const [value, setValue] = useState('');
  const { errors, setErrors, formRef, busy, attempt } = useSubmission();
  const tenantBound = sso.yourTenantId !== null && sso.bindings.some((b) => b.value === sso.yourTenantId);

  async function submit() {
    if (!value.trim())
      return setErrors({
        fields: {
          value: kind === 'entra-tenant' ? 'Enter the Directory (tenant) ID to bind.' : 'Enter the email domain to bind, like example.com.',
        },
      });
    await attempt(
      async () => {
        const created = await api.post<{ value: string }>('/organization/sso/bindings', { kind, value: value.trim() });
        setValue('');
        onAdded(`${created.value} is bound to this organization.`);
      },
      (err) => asSentences(formErrorsFrom(err, { value: 'value', kind: 'kind' })),
    );
  }

  return (
    <Card id="add-binding" title="Bind a tenant or domain">
      <p className="hint">
        Binding needs proof that it is yours: sign in with Microsoft through the tenant yourself (or with a verified address of the domain),
        or ask an instance operator.{' '}
        {sso.yourTenantId
          ? `This session signed in through the tenant ${sso.yourTenantId}${tenantBound ? ', which is bound already' : ''}.`
          : sso.yourVerifiedEmail
            ? `This session signed in with the verified address ${sso.yourVerifiedEmail}.`
            : 'This session did not sign in through single sign-on.'}
      </p>
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        <div className="field-row">
          <SelectField label="Kind" {...bindField(errors, 'kind', kind, (value) => setKind(value as SsoBindingKind))}>
            <option value="entra-tenant">Microsoft Entra tenant</option>
            <option value="email-domain">Email domain</option>
          </SelectField>
          <IdentifierField
            label={kind === 'entra-tenant' ? 'Directory (tenant) ID' : 'Email domain'}
            {...bindField(errors, 'value', value, setValue)}
            hint={kind === 'entra-tenant' ? 'A GUID: Entra admin center → Overview → Tenant ID.' : 'Like example.com.'}
          />
        </div>
        <div className="actions">
          <button type="submit" className="button-primary" disabled={busy}>
            {busy ? 'Binding…' : 'Bind'}
          </button>
          {kind === 'entra-tenant' && sso.yourTenantId && !tenantBound && (
            <button type="button" onClick={() => setValue(sso.yourTenantId ?? '')}>
              Use my tenant
            </button>
          )}
        </div>
      </Form>
    </Card>
  );
}

const lines = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);

function RoleMapping({ policy, onSaved }: { policy: OrganizationPolicy; onSaved: () => void }) {
  const [claim, setClaim] = useState<OrganizationPolicy['ssoRoleClaim']>(policy.ssoRoleClaim);
  const [adminValues, setAdminValues] = useState(policy.ssoAdminValues.join('\n'));
  const [memberValues, setMemberValues] = useState(policy.ssoMemberValues.join('\n'));
  const form = usePolicyForm({ ssoRoleClaim: 'claim', ssoAdminValues: 'adminValues', ssoMemberValues: 'memberValues' });
  const what = claim === 'roles' ? 'app role values' : 'group object IDs';

  async function submit() {
    await form.save(
      claim === null
        ? { ssoRoleClaim: null, ssoAdminValues: [], ssoMemberValues: [] }
        : { ssoRoleClaim: claim, ssoAdminValues: lines(adminValues), ssoMemberValues: lines(memberValues) },
      () => 'The role mapping is saved: it applies at each single sign-on.',
      onSaved,
    );
  }

  return (
    <PolicyCard id="role-mapping" title="Roles from single sign-on" form={form} onSubmit={submit} submit="Save role mapping">
      <p className="hint">
        Applied each time someone signs in with single sign-on: their role follows the claim, and someone no value admits is removed.
        Invited members keep the role they were invited with.
      </p>
      <SelectField
        label="Claim"
        name="claim"
        value={claim ?? ''}
        onChange={(e) => setClaim(e.target.value === '' ? null : (e.target.value as 'groups' | 'roles'))}
        error={form.errors.fields.claim}
      >
        <option value="">None: everyone who joins is a member</option>
        <option value="groups">groups: Entra group object IDs</option>
        <option value="roles">roles: app role values</option>
      </SelectField>
      {claim !== null && (
        <div className="field-row">
          <TextAreaField
            label="Admin values"
            {...bindField(form.errors, 'adminValues', adminValues, setAdminValues)}
            className="mono"
            rows={4}
            spellCheck={false}
            hint={`One per line: ${what} that make someone an admin.`}
          />
          <TextAreaField
            label="Member values"
            {...bindField(form.errors, 'memberValues', memberValues, setMemberValues)}
            className="mono"
            rows={4}
            spellCheck={false}
            hint={`One per line: ${what} that admit a member. Empty admits everyone the binding lets in.`}
          />
        </div>
      )}
    </PolicyCard>
  );
}
