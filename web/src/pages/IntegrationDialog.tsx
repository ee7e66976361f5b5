import { useId, useState } from 'react';

import { api } from '../api.ts';
import { CopyField } from '../components/copy.tsx';
import { Dialog } from '../components/dialog.tsx';
import { CheckboxField, ChoiceOptions, FieldError, IdentifierField, SecretField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { NO_ERRORS, bindField, formErrorsFrom, useFormErrors } from '../components/forms.ts';
import type { FormErrors } from '../components/forms.ts';
import { Alert, StatusText } from '../components/page.tsx';
import { clientSecretAad, newIntegrationId, sealForRunner } from '../sealing.ts';
import type {
  ClientCredentialState,
  ClientCredentialType,
  Integration,
  IntegrationDraft,
  IntegrationTest,
  Runner,
  CreatedIntegration,
  SavedIntegration,
  UpdatedIntegration,
} from '../types.ts';
import { ClientCredentialPanel } from '../components/client-credential.tsx';
import { EXPECTED_ISSUER, issuerWarning } from '../issuer-hint.ts';

type Provider = 'entra' | 'pat';

const DEFAULT_HOST = 'dev.azure.com';

// The API's `field` (a body path) to this form's fields.
const FIELD_MAP: Record<string, string> = {
  scmId: 'provider',
  host: 'host',
  virtualDirectory: 'virtualDirectory',
  oauth: 'oauth',
  'oauth.clientId': 'clientId',
  'oauth.issuerUrl': 'issuerUrl',
  'oauth.sealedClientSecret': 'clientSecret',
  'oauth.clientSecret': 'clientSecret',
  'oauth.credential': 'credential',
  'oauth.managedIdentityClientId': 'managedIdentityClientId',
  pat: 'pat',
};

/** How the runner signs in as the integration's Entra app: only the first needs a secret. */
const CREDENTIALS: { value: ClientCredentialType; label: string; hint: string }[] = [
  // Not named "Client secret": that is the name of the secret's own field below.
  {
    value: 'client-secret',
    label: 'Secret',
    hint: 'A secret Value from the app registration, sealed in this browser to the runner. It expires within 24 months and must be renewed.',
  },
  {
    value: 'certificate',
    label: 'Certificate (no secret)',
    hint: 'The runner makes a key pair and a certificate; the private key never leaves it. After saving, download the certificate and upload it to the app registration.',
  },
  {
    value: 'workload-identity',
    label: 'Workload identity federation (no secret)',
    hint: "The runner presents the token its platform writes to AZURE_FEDERATED_TOKEN_FILE (AKS workload identity). After saving, Keyway shows the issuer, subject and audience to add as the app's federated credential.",
  },
  {
    value: 'managed-identity',
    label: 'Managed identity (no secret)',
    hint: "The Azure machine's managed identity, trusted by the app as a federated credential. After saving, Keyway shows the values to add.",
  },
];

const PROBLEMS: { key: keyof IntegrationTest; field: string; label: string }[] = [
  { key: 'runnerError', field: 'form', label: 'Runner' },
  { key: 'scmIdError', field: 'provider', label: 'Provider' },
  { key: 'hostError', field: 'host', label: 'Host' },
  { key: 'oauthError', field: 'oauth', label: 'OAuth' },
  { key: 'redirectUriError', field: 'callbackUrl', label: 'Redirect URI' },
  { key: 'patError', field: 'pat', label: 'Personal Access Tokens' },
];

/** The per-field problems of a failed Save & Test, in form order. */
export function testProblems(test: IntegrationTest): { key: string; field: string; label: string; message: string }[] {
  return PROBLEMS.flatMap((p) => {
    const message = test[p.key];
    return typeof message === 'string' && message ? [{ key: p.key, field: p.field, label: p.label, message }] : [];
  });
}

/** A failed Save & Test's problems listed in the notice above the form. */
function ProblemList({ problems }: { problems: ReturnType<typeof testProblems> }) {
  if (problems.length === 0) return null;
  return (
    <ul className="problems">
      {problems.map((p) => (
        <li key={p.key}>
          {p.label}: {p.message}
        </li>
      ))}
    </ul>
  );
}

/** A failed Save & Test's problems as the form shows them: next to their fields, or at the top. */
function testErrors(test: IntegrationTest): FormErrors {
  const fields: Record<string, string> = {};
  let form: string | undefined;
  for (const p of testProblems(test)) {
    if (p.field === 'form') form = p.message;
    else fields[p.field] = p.message;
  }
  return { form, fields };
}

interface Props {
  runner: Runner;
  /** Absent to add a new provider. */
  integration?: Integration | undefined;
  /** The integration was saved (the list should reload), whether or not its test passed. */
  onChanged: () => void;
  onClose: (notice?: { kind: 'success' | 'warning'; text: string }) => void;
}

export function IntegrationDialog({ runner, integration, onChanged, onClose }: Props) {
  const [saved, setSaved] = useState<Integration | undefined>(integration);
  const [id] = useState(() => integration?.id ?? newIntegrationId());
  const [provider, setProvider] = useState<Provider>(integration && !integration.oauth ? 'pat' : 'entra');
  const [host, setHost] = useState(integration?.host ?? DEFAULT_HOST);
  const [virtualDirectory, setVirtualDirectory] = useState(integration?.virtualDirectory ?? '');
  const [oauthEnabled, setOauthEnabled] = useState(integration ? integration.oauth !== null : true);
  const [clientId, setClientId] = useState(integration?.oauth?.clientId ?? '');
  const [clientSecret, setClientSecret] = useState('');
  const [issuerUrl, setIssuerUrl] = useState(integration?.oauth?.issuerUrl ?? '');
  const [issuerHint, setIssuerHint] = useState<string>();
  const [patEnabled, setPatEnabled] = useState(integration ? integration.pat.enabled : false);
  const [credential, setCredential] = useState<ClientCredentialType>(integration?.oauth?.credential ?? 'client-secret');
  const [managedIdentityClientId, setManagedIdentityClientId] = useState(integration?.oauth?.managedIdentityClientId ?? '');
  const [credentialState, setCredentialState] = useState<ClientCredentialState | undefined>(integration?.oauth?.credentialState);
  const { errors, setErrors, formRef } = useFormErrors();
  const [failedTest, setFailedTest] = useState<IntegrationTest>();
  // A change whose test failed: not applied, the stored configuration keeps serving.
  const [draft, setDraft] = useState<IntegrationDraft | undefined>(integration?.draft ?? undefined);
  const [busy, setBusy] = useState<string>();
  const oauthErrorId = useId();
  const providerErrorId = useId();

  const secretSet = Boolean(saved?.oauth?.clientSecretSet);
  const callbackUrl = saved?.oauth?.callbackUrl ?? `${window.location.origin}/api/v1/oauth/callback/${id}`;
  const collectionPath = `/runners/${encodeURIComponent(runner.id)}/scm-integrations`;

  function chooseProvider(next: Provider) {
    setProvider(next);
    setOauthEnabled(next === 'entra');
    setPatEnabled(next === 'pat');
  }

  function validate(): FormErrors {
    const fields: Record<string, string> = {};
    let form: string | undefined;
    if (!host.trim()) fields.host = `Enter the Azure DevOps host, for example ${DEFAULT_HOST}.`;
    const vd = virtualDirectory.trim();
    if (vd && !vd.startsWith('/')) fields.virtualDirectory = 'Start the virtual directory with a slash, for example /tfs.';
    if (!oauthEnabled && !patEnabled) form = 'Enable Entra ID OAuth, Personal Access Tokens, or both.';
    if (oauthEnabled) {
      if (!clientId.trim()) fields.clientId = 'Enter the application (client) ID of the Entra ID app registration.';
      if (credential === 'client-secret' && !clientSecret && !secretSet)
        fields.clientSecret = 'Enter a client secret of the app registration, or choose a credential without secret.';
      if (!issuerUrl.trim()) fields.issuerUrl = `Enter the issuer URL, for example ${EXPECTED_ISSUER}.`;
      if (clientSecret && !runner.publicKey) {
        form = 'This runner has not registered its public key yet, so nothing can be sealed for it. Start the runner, then try again.';
      }
    }
    return { form, fields };
  }

  async function submit() {
    const problems = validate();
    if (problems.form || Object.keys(problems.fields).length) {
      setErrors(problems);
      return;
    }
    setErrors(NO_ERRORS);
    setFailedTest(undefined);
    try {
      let sealedClientSecret: string | undefined;
      if (oauthEnabled && credential === 'client-secret' && clientSecret) {
        setBusy('Sealing the client secret…');
        sealedClientSecret = await sealForRunner(runner.publicKey!, clientSecret, clientSecretAad(id));
      }
      setBusy('Saving and testing…');
      const mi = credential === 'managed-identity' && managedIdentityClientId.trim() ? managedIdentityClientId.trim() : undefined;
      // The credential is said when it is not the default, or when it changes back to a client secret.
      const sayCredential = credential !== 'client-secret' || (saved?.oauth && saved.oauth.credential !== 'client-secret');
      const oauth = oauthEnabled
        ? {
            clientId: clientId.trim(),
            issuerUrl: issuerUrl.trim(),
            ...(sayCredential ? { credential } : {}),
            ...(mi ? { managedIdentityClientId: mi } : {}),
            ...(sealedClientSecret ? { sealedClientSecret } : {}),
          }
        : null;
      const vd = virtualDirectory.trim();
      let result: SavedIntegration;
      if (saved) {
        // Send only what changed: the server purges users' credentials when the host, the Entra app
        // or the tenant changes, or a method is turned off, so an unchanged field must stay unsent.
        const body: Record<string, unknown> = {};
        if (host.trim() !== saved.host || vd !== saved.virtualDirectory) Object.assign(body, { host: host.trim(), virtualDirectory: vd });
        if (!oauthEnabled && saved.oauth) body.oauth = null;
        const credentialChanged =
          saved.oauth && (saved.oauth.credential !== credential || (saved.oauth.managedIdentityClientId ?? '') !== (mi ?? ''));
        if (
          oauth &&
          (!saved.oauth ||
            sealedClientSecret ||
            credentialChanged ||
            oauth.clientId !== saved.oauth.clientId ||
            oauth.issuerUrl !== saved.oauth.issuerUrl)
        )
          body.oauth = oauth;
        if (patEnabled !== saved.pat.enabled) body.pat = { enabled: patEnabled };
        result = await api.patch<UpdatedIntegration>(`${collectionPath}/${encodeURIComponent(saved.id)}`, body);
      } else {
        result = await api.post<CreatedIntegration>(collectionPath, {
          id,
          scmId: 'azure-devops',
          host: host.trim(),
          ...(vd ? { virtualDirectory: vd } : {}),
          oauth,
          pat: { enabled: patEnabled },
        });
      }
      // Saved: the secret now rests (sealed) on the server; forget the plaintext.
      setClientSecret('');
      setCredentialState(result.integration.oauth?.credentialState);
      if (result.applied === false) {
        // Nothing replaced what works: the change waits as a draft until applied anyway or discarded.
        setSaved(result.integration);
        setDraft(result.integration.draft ?? undefined);
        setFailedTest(undefined);
        onChanged();
        setErrors(testErrors(result.test));
        return;
      }
      setDraft(undefined);
      setSaved(result.integration);
      // Show what the server stored (it normalizes the host and the issuer URL), so a later save
      // compares against it and sends only real changes.
      setHost(result.integration.host);
      setVirtualDirectory(result.integration.virtualDirectory);
      if (result.integration.oauth) {
        setClientId(result.integration.oauth.clientId);
        setIssuerUrl(result.integration.oauth.issuerUrl);
        setIssuerHint(undefined);
      }
      onChanged();
      const purged = result.purgedMethods?.length
        ? ` Credentials users had authorized (${result.purgedMethods.join(', ')}) were removed; they authorize again on next use.`
        : '';
      const hostNote = result.test.hostNote ? ` ${result.test.hostNote.charAt(0).toUpperCase()}${result.test.hostNote.slice(1)}.` : '';
      const note = `${hostNote}${result.test.credentialNote ? ` ${result.test.credentialNote.charAt(0).toUpperCase()}${result.test.credentialNote.slice(1)}.` : ''}`;
      if (result.test.valid) {
        onClose({
          kind: 'success',
          text: `${result.integration.host}${result.integration.virtualDirectory} was saved and the test passed.${note}${purged}`,
        });
        return;
      }
      if (result.forced) {
        onClose({ kind: 'warning', text: `${result.integration.host} was changed although its test failed, as you asked.${purged}` });
        return;
      }
      setFailedTest(result.test);
      setErrors(testErrors(result.test));
    } catch (err) {
      setErrors(formErrorsFrom(err, FIELD_MAP));
    } finally {
      setBusy(undefined);
    }
  }

  /** Runs `action` with `busy` said; a failure is shown on the form. */
  async function whileBusy(busy: string, action: () => Promise<void>) {
    setBusy(busy);
    try {
      await action();
    } catch (err) {
      setErrors(formErrorsFrom(err, FIELD_MAP));
    } finally {
      setBusy(undefined);
    }
  }

  async function applyDraft() {
    if (!saved) return;
    await whileBusy('Applying the change anyway…', async () => {
      const result = await api.post<UpdatedIntegration>(`${collectionPath}/${encodeURIComponent(saved.id)}/draft/apply`, {});
      onChanged();
      const purged = result.purgedMethods?.length
        ? ` Credentials users had authorized (${result.purgedMethods.join(', ')}) were removed.`
        : '';
      onClose({ kind: 'warning', text: `${result.integration.host} was changed although its test failed, as you asked.${purged}` });
    });
  }

  async function discardDraft() {
    if (!saved) return;
    await whileBusy('Discarding the change…', async () => {
      await api.delete(`${collectionPath}/${encodeURIComponent(saved.id)}/draft`);
      onChanged();
      onClose({ kind: 'success', text: `The change was discarded; ${saved.host} keeps its configuration.` });
    });
  }

  const title = saved ? `Azure DevOps · ${saved.host}` : 'Add a new provider';
  // What to register for the credential chosen: the stored one's, or a waiting change's.
  const panelState =
    saved?.oauth?.credential === credential
      ? credentialState
      : draft?.oauth?.credential === credential
        ? draft.oauth.credentialState
        : undefined;
  const problems = failedTest ? testProblems(failedTest) : draft ? testProblems(draft.test) : [];
  // Closing after a failed test still tells the page that the provider was saved.
  const close = () =>
    onClose(
      draft
        ? { kind: 'warning', text: `${saved?.host ?? 'The provider'} was not changed: its change failed the test and waits as a draft.` }
        : saved && failedTest
          ? { kind: 'warning', text: `${saved.host} was saved, but its test failed.` }
          : undefined,
    );

  return (
    <Dialog title={title} onClose={close} wide>
      {/* The form's own error and a failed test's warning never show together. */}
      <Form ref={formRef} onSubmit={submit} className="integration-form" error={failedTest || draft ? undefined : errors.form}>
        {draft && (
          <Alert kind="warning">
            <strong>Not applied: the change failed its test, so the configuration that works keeps serving.</strong> Fix what is marked
            below and choose Save &amp; Test again, or decide yourself.
            <ProblemList problems={problems} />
            {draft.wouldPurge.length > 0 && <p>Applying it removes the credentials users authorized ({draft.wouldPurge.join(', ')}).</p>}
            <div className="actions">
              <button type="button" className="button-small" onClick={() => void applyDraft()} disabled={busy !== undefined}>
                Apply anyway
              </button>
              <button type="button" className="button-small" onClick={() => void discardDraft()} disabled={busy !== undefined}>
                Discard the change
              </button>
            </div>
          </Alert>
        )}
        {failedTest && (
          <Alert kind="warning">
            <strong>Saved, but the test failed.</strong> Fix what is marked below and choose Save &amp; Test again.
            <ProblemList problems={problems} />
          </Alert>
        )}

        {saved && (
          <p className="hint">
            Changing the host, the client ID or the issuer, or turning a method off, removes the credentials users authorized through it.
          </p>
        )}
        {saved ? (
          <p>
            Provider: <strong>Azure DevOps</strong>
            {errors.fields.provider && (
              <span className="field-error" id={providerErrorId}>
                {' '}
                {errors.fields.provider}
              </span>
            )}
          </p>
        ) : (
          <fieldset className="choice" aria-describedby={errors.fields.provider ? providerErrorId : undefined}>
            <legend>Provider</legend>
            <ChoiceOptions
              name="provider"
              chosen={provider}
              onChoose={chooseProvider}
              options={[
                { value: 'entra', label: <strong>Azure DevOps (Entra ID)</strong>, hint: 'Users sign in with Microsoft Entra ID (OAuth).' },
                { value: 'pat', label: <strong>Azure DevOps (PAT)</strong>, hint: 'Users paste a Personal Access Token.' },
              ]}
            />
            <FieldError id={providerErrorId} error={errors.fields.provider} />
          </fieldset>
        )}

        <div className="field-row">
          <IdentifierField
            label="Host"
            {...bindField(errors, 'host', host, setHost)}
            hint="dev.azure.com for Azure DevOps Services, or your Azure DevOps Server's host name."
            required
          />
          <IdentifierField
            label="Virtual directory"
            {...bindField(errors, 'virtualDirectory', virtualDirectory, setVirtualDirectory)}
            hint="Azure DevOps Server only, for example /tfs. Leave empty for dev.azure.com."
          />
        </div>

        <fieldset className="method" aria-describedby={errors.fields.oauth ? oauthErrorId : undefined}>
          <legend>Microsoft Entra ID OAuth</legend>
          <CheckboxField
            label="Enable OAuth"
            name="oauthEnabled"
            checked={oauthEnabled}
            onChange={(e) => setOauthEnabled(e.target.checked)}
            hint="Users authorize once through Entra ID; the runner keeps and refreshes their tokens."
          />
          {oauthEnabled && (
            <div className="method-body">
              {!runner.publicKey && !secretSet && (
                <Alert kind="warning">
                  This runner has not registered its key yet, so a client secret cannot be sealed for it. Start the runner first.
                </Alert>
              )}
              <CopyField
                label="Callback URL"
                value={callbackUrl}
                hint="Register this as a Web redirect URI of the app registration in Entra ID before you save."
              />
              <FieldError error={errors.fields.callbackUrl} />
              <IdentifierField
                label="Client ID"
                {...bindField(errors, 'clientId', clientId, setClientId)}
                hint="The application (client) ID of the app registration."
              />
              <fieldset className="choice" aria-describedby={errors.fields.credential ? `${oauthErrorId}-credential` : undefined}>
                <legend>How the runner signs in as the app</legend>
                <ChoiceOptions
                  name="credential"
                  chosen={credential}
                  onChoose={setCredential}
                  options={CREDENTIALS.map((c) => ({ ...c, label: <strong>{c.label}</strong> }))}
                />
                <FieldError id={`${oauthErrorId}-credential`} error={errors.fields.credential} />
              </fieldset>
              {credential === 'client-secret' && (
                <SecretField
                  label="Client secret"
                  {...bindField(errors, 'clientSecret', clientSecret, setClientSecret)}
                  placeholder={secretSet ? 'set — leave empty to keep' : undefined}
                  hint="Sealed in this browser to the runner's key: only the runner can read it."
                />
              )}
              {credential === 'managed-identity' && (
                <IdentifierField
                  label="Managed identity client ID (optional)"
                  {...bindField(errors, 'managedIdentityClientId', managedIdentityClientId, setManagedIdentityClientId)}
                  hint="A user-assigned identity of the runner's machine; leave empty for its system-assigned identity."
                />
              )}
              {saved && panelState && credential !== 'client-secret' && (
                <ClientCredentialPanel
                  state={panelState}
                  path={`${collectionPath}/${encodeURIComponent(saved.id)}/client-credential`}
                  canPrepare={credential === 'certificate'}
                  onChange={setCredentialState}
                />
              )}
              <IdentifierField
                label="Issuer URL"
                name="issuerUrl"
                value={issuerUrl}
                onChange={(e) => {
                  setIssuerUrl(e.target.value);
                  if (issuerHint) setIssuerHint(issuerWarning(e.target.value));
                }}
                onBlur={() => setIssuerHint(issuerWarning(issuerUrl))}
                error={errors.fields.issuerUrl}
                warning={issuerHint}
                hint={`${EXPECTED_ISSUER} — the …/oauth2/v2.0 form, the discovery document URL or your tenant's domain work too.`}
              />
            </div>
          )}
          <FieldError id={oauthErrorId} error={errors.fields.oauth} />
        </fieldset>

        <fieldset className="method">
          <legend>Personal Access Tokens</legend>
          <CheckboxField
            label="Enable Personal Access Token"
            name="patEnabled"
            checked={patEnabled}
            onChange={(e) => setPatEnabled(e.target.checked)}
            error={errors.fields.pat}
            hint="Users paste a PAT; it is sealed in their browser and checked by the runner against Azure DevOps."
          />
        </fieldset>

        <FormActions
          submit={busy ?? 'Save & Test'}
          disabled={busy !== undefined}
          onCancel={close}
          cancelLabel={saved && failedTest ? 'Close' : 'Cancel'}
        />
        <StatusText>{busy ?? ''}</StatusText>
      </Form>
    </Dialog>
  );
}
