import { useRef, useState } from 'react';

import { api } from '../api.ts';
import { Dialog } from '../components/dialog.tsx';
import { ChoiceOptions, FieldError, IdentifierField, SecretField, SelectField, TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { NO_ERRORS, asSentences, bindField, formErrorsFrom, useFormErrors } from '../components/forms.ts';
import { Alert, StatusText } from '../components/page.tsx';
import { RunnerOptions } from '../components/runner-options.tsx';
import { appConnectionSecretAad, newConnectionId, sealForRunner } from '../sealing.ts';
import { sentence } from '../text.ts';
import type { ConnectionMethod, ConnectionValidation, OAuthAppConfiguration, Runner, SavedConnection } from '../types.ts';
import { useApi } from '../use-api.ts';

// Creating an app connection: the PAT or client secret is sealed here to the runner's key, with the
// connection's id (chosen here) as associated data, so the server relays it without reading it.
// An oauth connection has no secret to enter: it is created pending, then the browser goes to Entra
// ID for the user's consent and comes back to the project page (?keyway_authorization=…).

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The project page: where an oauth consent comes back to. */
export function projectPath(projectId: string): string {
  return `/projects/${encodeURIComponent(projectId)}`;
}

/** The way back from consent does not say which connection it was for: this tab remembers it. */
const CONNECTING_KEY = 'keyway:app-connection-consent';

/** The connection whose consent this tab went to give, if it went from this project. */
export function startedConsent(projectId: string): string | undefined {
  try {
    const raw = window.sessionStorage.getItem(CONNECTING_KEY);
    const saved = raw ? (JSON.parse(raw) as { projectId?: unknown; connectionId?: unknown }) : undefined;
    return saved?.projectId === projectId && typeof saved.connectionId === 'string' ? saved.connectionId : undefined;
  } catch {
    return undefined;
  }
}

export function forgetConsent(): void {
  try {
    window.sessionStorage.removeItem(CONNECTING_KEY);
  } catch {
    // Storage may be off: nothing was remembered.
  }
}

/**
 * Sends the whole page to the consent of an oauth connection: `authorizeUrl` (what create answered)
 * or the connection's authorize route, with the project page as returnTo.
 */
export function startConsent(projectId: string, connectionId: string, authorizeUrl?: string): void {
  const fallback = `/api/v1/projects/${encodeURIComponent(projectId)}/app-connections/${encodeURIComponent(connectionId)}/oauth/authorize`;
  // Only ever a same-origin path: the answer decides where the whole page goes.
  const path =
    authorizeUrl && authorizeUrl.startsWith('/') && !authorizeUrl.startsWith('//') && !authorizeUrl.startsWith('/\\')
      ? authorizeUrl
      : fallback;
  try {
    window.sessionStorage.setItem(CONNECTING_KEY, JSON.stringify({ projectId, connectionId }));
  } catch {
    // Storage may be off: the message on return then says only how it went.
  }
  window.location.assign(`${path}${path.includes('?') ? '&' : '?'}returnTo=${encodeURIComponent(projectPath(projectId))}`);
}

const METHOD_LABEL: Record<ConnectionMethod, string> = {
  'access-token': 'Personal Access Token',
  'client-secret': 'Service principal (client secret)',
  oauth: 'Microsoft Entra ID OAuth',
  certificate: 'Certificate born on the runner (no secret)',
  'workload-identity': 'Workload identity federation (no secret)',
  'managed-identity': 'Managed identity (no secret)',
};

/** Methods that sign in as a service principal without any secret. */
export const SECRETLESS: readonly ConnectionMethod[] = ['certificate', 'workload-identity', 'managed-identity'];

export function connectionMethodLabel(method: ConnectionMethod): string {
  return METHOD_LABEL[method] ?? method;
}

const FIELDS: Record<string, string> = {
  name: 'name',
  runnerId: 'runnerId',
  method: 'method',
  organization: 'organization',
  tenantId: 'tenantId',
  clientId: 'clientId',
  accessToken: 'secret',
  sealedAccessToken: 'secret',
  clientSecret: 'secret',
  sealedClientSecret: 'secret',
  id: 'form',
};

/** Why a validation failed, in words, with the scopes it lacks. */
export function describeValidation(v: ConnectionValidation): string {
  if (v.valid) {
    const who = v.identity?.displayName ?? v.identity?.id;
    return `It works${who ? ` (as ${who})` : ''}.${v.uncheckedScopes?.length ? ` Not checked without side effects: ${v.uncheckedScopes.join(', ')}.` : ''}`;
  }
  return `${sentence(v.message ?? 'The credential did not work.')}${v.missingScopes?.length ? ` Missing scopes: ${v.missingScopes.join(', ')}.` : ''}`;
}

interface Props {
  projectId: string;
  onClose: (created?: SavedConnection) => void;
}

export function AppConnectionDialog({ projectId, onClose }: Props) {
  const runners = useApi<{ runners: Runner[] }>('/runners');
  const oauth = useApi<OAuthAppConfiguration>('/app-connections/oauth/configuration');
  const usable = runners.data?.runners.filter((r) => r.status !== 'revoked') ?? [];
  const [id] = useState(newConnectionId);
  const [name, setName] = useState('');
  const [runnerId, setRunnerId] = useState('');
  const [method, setMethod] = useState<ConnectionMethod>('access-token');
  const [organization, setOrganization] = useState('');
  const [tenantId, setTenantId] = useState('');
  const [clientId, setClientId] = useState('');
  // The PAT or client secret stays in the input, never in React state.
  const secretRef = useRef<HTMLInputElement>(null);
  const { errors, setErrors, formRef } = useFormErrors();
  const [busy, setBusy] = useState<string>();
  const runner = usable.find((r) => r.id === runnerId) ?? usable[0];
  const secretless = SECRETLESS.includes(method);
  const servicePrincipal = method === 'client-secret' || secretless;
  const hasSecret = method === 'access-token' || method === 'client-secret';

  async function submit() {
    const secret = secretRef.current?.value ?? '';
    const fields: Record<string, string> = {};
    if (!name.trim()) fields.name = 'Enter a name, for example "pipelines".';
    if (!runner) fields.runnerId = 'There is no runner to hold the credential. Ask an admin to register one.';
    if (method === 'oauth') {
      if (!tenantId.trim()) fields.tenantId = 'Enter the Directory (tenant) ID of your Entra ID tenant.';
      else if (!GUID.test(tenantId.trim()))
        fields.tenantId =
          'The Directory (tenant) ID is a GUID, like 00000000-0000-0000-0000-000000000000: copy it from the Overview page of Microsoft Entra ID.';
    }
    if (servicePrincipal) {
      if (!organization.trim()) fields.organization = 'Enter the Azure DevOps organization the service principal was added to.';
      if (method !== 'managed-identity' && !tenantId.trim()) fields.tenantId = 'Enter the Directory (tenant) ID from Entra ID.';
      if (method !== 'managed-identity' && !clientId.trim()) fields.clientId = 'Enter the Application (client) ID from Entra ID.';
    }
    if (hasSecret && !secret)
      fields.secret = method === 'access-token' ? 'Paste the Personal Access Token.' : "Paste the client secret's Value.";
    if (Object.keys(fields).length) {
      setErrors({ fields });
      return;
    }
    setErrors(NO_ERRORS);
    let leaving = false;
    try {
      const body: Record<string, unknown> = { id, name: name.trim(), runnerId: runner!.id, method };
      if (organization.trim()) body.organization = organization.trim();
      if (servicePrincipal) {
        if (tenantId.trim()) body.tenantId = tenantId.trim();
        if (clientId.trim()) body.clientId = clientId.trim();
      }
      if (method === 'oauth') body.tenantId = tenantId.trim();
      if (hasSecret) {
        if (!runner!.publicKey)
          throw new Error('This runner has not registered its key yet, so nothing can be sealed for it. Pick another runner or start it.');
        setBusy('Sealing the credential…');
        const sealed = await sealForRunner(runner!.publicKey, secret, appConnectionSecretAad(id));
        body[method === 'access-token' ? 'sealedAccessToken' : 'sealedClientSecret'] = sealed;
      }
      setBusy(
        method === 'oauth'
          ? 'The runner is checking the app registration with Entra ID…'
          : method === 'certificate'
            ? 'The runner is making its certificate and trying it…'
            : 'The runner is checking the credential with Azure DevOps…',
      );
      const created = await api.post<SavedConnection>(`/projects/${encodeURIComponent(projectId)}/app-connections`, body);
      if (secretRef.current) secretRef.current.value = '';
      if (method === 'oauth') {
        // Pending until the user consents: the whole page goes to Entra ID and comes back here.
        leaving = true;
        setBusy('Opening the Microsoft sign-in…');
        startConsent(projectId, created.connection.id, created.authorizeUrl);
        return;
      }
      onClose(created);
    } catch (err) {
      setErrors(asSentences(formErrorsFrom(err, FIELDS)));
    } finally {
      if (!leaving) setBusy(undefined);
    }
  }

  const oauthProblems = oauth.data && !oauth.data.configured ? oauth.data.problems : [];
  // The Entra ids the methods ask for: one field each, with a hint where the method needs one.
  const entraIdField = (name: 'tenantId' | 'clientId', label: string, hint?: string) => (
    <IdentifierField
      label={label}
      name={name}
      value={name === 'tenantId' ? tenantId : clientId}
      onChange={(e) => (name === 'tenantId' ? setTenantId : setClientId)(e.target.value)}
      error={errors.fields[name]}
      hint={hint}
    />
  );
  return (
    <Dialog title="Add an app connection" onClose={() => onClose()} wide>
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        <div className="field-row">
          <TextField label="Name" {...bindField(errors, 'name', name, setName)} autoComplete="off" hint="How syncs refer to it." />
          <SelectField
            label="Runner"
            {...bindField(errors, 'runnerId', runner?.id ?? '', setRunnerId)}
            hint="Holds the credential and runs the syncs."
          >
            <RunnerOptions runners={usable} />
          </SelectField>
        </div>
        <fieldset className="choice" aria-describedby={errors.fields.method ? 'connection-method-error' : undefined}>
          <legend>Method</legend>
          <ChoiceOptions
            name="method"
            chosen={method}
            onChoose={setMethod}
            options={(['access-token', 'client-secret', 'certificate', 'workload-identity', 'managed-identity', 'oauth'] as const).map(
              (m) => ({
                value: m,
                label: <strong>{connectionMethodLabel(m)}</strong>,
                hint: (
                  <>
                    {m === 'access-token' &&
                      'A PAT of an account with access to the variable groups (Variable Groups: Read, create & manage).'}
                    {m === 'client-secret' &&
                      'An Entra ID app registration added to the Azure DevOps organization; Keyway uses the client-credentials grant.'}
                    {m === 'oauth' &&
                      (oauth.data?.configured ? "This Keyway's Entra app, with your consent." : 'Not set up on this Keyway.')}
                    {m === 'certificate' &&
                      'An app registration added to the organization; the runner makes a key pair and shows the certificate to upload. Nothing secret is entered or kept anywhere but on the runner.'}
                    {m === 'workload-identity' &&
                      "An app registration that trusts the runner's platform (AKS workload identity): the runner presents the token in AZURE_FEDERATED_TOKEN_FILE."}
                    {m === 'managed-identity' &&
                      'The managed identity of the Azure machine the runner runs on, added to the organization. No credential at all.'}
                  </>
                ),
              }),
            )}
          />
          <FieldError id="connection-method-error" error={errors.fields.method} />
        </fieldset>
        {method === 'oauth' && oauthProblems.length > 0 && (
          <Alert kind="warning">
            OAuth app connections are not available here:
            <ul className="problems">
              {oauthProblems.map((p) => (
                <li key={p}>{sentence(p)}</li>
              ))}
            </ul>
          </Alert>
        )}
        {method === 'oauth' && oauth.data?.configured && (
          <p className="hint hint-block">
            After Create and connect you sign in with Microsoft and consent; the connection then acts as that account. Redirect URI
            registered in the app registration: <code>{oauth.data.redirectUri}</code>
          </p>
        )}
        {method === 'oauth' &&
          entraIdField(
            'tenantId',
            'Directory (tenant) ID',
            'A GUID: the Directory (tenant) ID on the Overview page of Microsoft Entra ID, of the tenant your Azure DevOps organization is connected to.',
          )}
        <IdentifierField
          label={servicePrincipal ? 'Organization' : 'Organization (optional)'}
          {...bindField(errors, 'organization', organization, setOrganization)}
          hint={
            method === 'oauth'
              ? 'The name in dev.azure.com/{organization}. Leave empty to pick one of those your account reaches after connecting.'
              : 'The name in dev.azure.com/{organization}.'
          }
        />
        {servicePrincipal && method !== 'managed-identity' && (
          <div className="field-row">
            {entraIdField('tenantId', 'Directory (tenant) ID')}
            {entraIdField('clientId', 'Application (client) ID')}
          </div>
        )}
        {method === 'managed-identity' &&
          entraIdField(
            'clientId',
            'Managed identity client ID (optional)',
            "A user-assigned identity of the runner's machine; leave empty for its system-assigned identity.",
          )}
        {secretless && (
          <p className="hint hint-block">
            After Create, Keyway shows what to register (
            {method === 'certificate'
              ? 'the certificate to upload'
              : method === 'workload-identity'
                ? "the federated credential's issuer, subject and audience"
                : 'the identity to add to Azure DevOps'}
            ); the connection stays pending until its test passes.
          </p>
        )}
        {hasSecret && (
          <SecretField
            key={method}
            ref={secretRef}
            label={method === 'access-token' ? 'Personal Access Token' : 'Client secret'}
            name="secret"
            error={errors.fields.secret}
            hint="Sealed in this browser to the runner's key; only the runner can read it. It is checked before it is kept, and never shown again."
          />
        )}
        <FormActions
          submit={busy ? (method === 'oauth' ? 'Connecting…' : 'Checking…') : method === 'oauth' ? 'Create and connect' : 'Create and test'}
          disabled={busy !== undefined || (method === 'oauth' && oauthProblems.length > 0)}
          onCancel={() => onClose()}
        />
        <StatusText>{busy ?? ''}</StatusText>
      </Form>
    </Dialog>
  );
}
