import { useEffect, useRef, useState } from 'react';

import { ApiError, api, messageOf } from '../api.ts';
import { Detail } from '../components/details.tsx';
import { ChoiceOptions, FieldError, IdentifierField, SelectField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { NO_ERRORS, asSentences, bindField, formErrorsFrom, useFocusFirstError, useFormErrors } from '../components/forms.ts';
import type { FormErrors } from '../components/forms.ts';
import { Alert, Loading, PageHeading } from '../components/page.tsx';
import { RunnerOptions } from '../components/runner-options.tsx';
import { Link, navigate, useLocation } from '../router.tsx';
import { sentence } from '../text.ts';
import type {
  AccessCheck,
  AuthenticationCheck,
  AuthenticationOffers,
  Environment,
  RepositoryContext,
  ResolvedContext,
  Runner,
} from '../types.ts';
import { useApi } from '../use-api.ts';
import { AuthorizePanel, describeCallbackCode } from './AuthorizePanel.tsx';
import { EnvironmentProgress } from './EnvironmentsPage.tsx';

// "Open a repository" (journey 3): paste a URL, see what it resolves to, authorize the host if
// needed, then have a runner clone it into an environment and watch the clone's progress.

type Check =
  | { status: 'idle' }
  | { status: 'checking' }
  | { status: 'failed'; errors: FormErrors }
  | {
      status: 'done';
      access: AccessCheck;
      resolved?: ResolvedContext;
      resolveError?: string;
      offers?: AuthenticationOffers;
      offersError?: string;
    };

// Reasons the user can fix by authorizing (again).
const AUTHORIZABLE = new Set(['not_authorized', 'reauthorization_required', 'oauth_blocked']);

/** `/open?url=…`: where Connect comes back to, and a link someone can share. */
export function openPath(url: string): string {
  return `/open?url=${encodeURIComponent(url)}`;
}

export function OpenPage() {
  const { search } = useLocation();
  const url = search.get('url') ?? '';
  const [draft, setDraft] = useState(url);
  const [check, setCheck] = useState<Check>({ status: 'idle' });
  const [generation, setGeneration] = useState(0);
  const [notice, setNotice] = useState<{ kind: 'success' | 'error'; text: string }>();
  const formRef = useRef<HTMLFormElement>(null);
  const errors = check.status === 'failed' ? check.errors : { fields: {} };
  useFocusFirstError(formRef, errors);

  // Back from a full-page Connect (?keyway_authorization=connected|failed&keyway_error=code): say
  // how it went, then drop the parameters so a reload does not say it again.
  const outcome = search.get('keyway_authorization');
  const outcomeError = search.get('keyway_error');
  useEffect(() => {
    if (!outcome) return;
    setNotice(
      outcome === 'connected' ? { kind: 'success', text: 'Connected.' } : { kind: 'error', text: describeCallbackCode(outcomeError) },
    );
    navigate(url ? openPath(url) : '/open', { replace: true });
  }, [outcome, outcomeError, url]);

  useEffect(() => setDraft(url), [url]);

  useEffect(() => {
    if (!url) {
      setCheck({ status: 'idle' });
      return;
    }
    let cancelled = false;
    setCheck({ status: 'checking' });
    void (async () => {
      let access: AccessCheck;
      try {
        access = await api.post<AccessCheck>('/context/access', { url });
      } catch (err) {
        if (cancelled) return;
        setCheck({ status: 'failed', errors: asSentences(formErrorsFrom(err, { url: 'url' })) });
        return;
      }
      const done: Extract<Check, { status: 'done' }> = { status: 'done', access };
      if (access.hasAccess) {
        try {
          done.resolved = await api.post<ResolvedContext>('/context/parse', { url });
        } catch (err) {
          done.resolveError = messageOf(err);
        }
      } else if (access.reason && AUTHORIZABLE.has(access.reason)) {
        // Ask for the offers with this page as returnTo, so a full-page Connect comes back here.
        const query = new URLSearchParams({
          integrationId: access.integrationId,
          organization: access.context.organization,
          returnTo: openPath(url),
        });
        try {
          done.offers = await api.get<AuthenticationCheck>(`/scm/authentication?${query.toString()}`);
        } catch (err) {
          done.offers = access.authentication;
          if (!done.offers) done.offersError = messageOf(err);
        }
      }
      if (!cancelled) setCheck(done);
    })();
    return () => {
      cancelled = true;
    };
  }, [url, generation]);

  function submit() {
    const next = draft.trim();
    if (!next) {
      setCheck({
        status: 'failed',
        errors: { fields: { url: 'Paste the URL of an Azure DevOps repository, branch, commit or pull request.' } },
      });
      return;
    }
    setNotice(undefined);
    if (next === url) setGeneration((g) => g + 1);
    else navigate(openPath(next));
  }

  function authorized(message: string) {
    setNotice({ kind: 'success', text: message });
    setGeneration((g) => g + 1);
  }

  return (
    <>
      <PageHeading title="Open a repository" />
      <p className="lead">
        Paste a link to an Azure DevOps repository, branch, tag, commit or pull request. Keyway shows what it points to and has a runner
        clone it for you.
      </p>
      <Form ref={formRef} className="card open-form" onSubmit={submit}>
        <IdentifierField
          label="Repository URL"
          {...bindField(errors, 'url', draft, setDraft)}
          hint={
            <>
              For example <code>https://dev.azure.com/contoso/Web/_git/web/pullrequest/12</code>. SSH and{' '}
              <code>{'{organization}'}.visualstudio.com</code> links work too.
            </>
          }
          inputMode="url"
        />
        <FormActions submit="Open" disabled={check.status === 'checking'} />
      </Form>
      <div aria-live="polite">
        {notice && <Alert kind={notice.kind}>{notice.text}</Alert>}
        {check.status === 'checking' && <Loading label="Checking the URL…" />}
        {check.status === 'failed' && check.errors.form && <Alert>{check.errors.form}</Alert>}
      </div>
      {check.status === 'done' && <Result check={check} url={url} onAuthorized={authorized} onRetry={() => setGeneration((g) => g + 1)} />}
    </>
  );
}

function Result({
  check,
  url,
  onAuthorized,
  onRetry,
}: {
  check: Extract<Check, { status: 'done' }>;
  url: string;
  onAuthorized: (message: string) => void;
  onRetry: () => void;
}) {
  const { access, resolved, offers } = check;
  return (
    <>
      <ContextDetails context={resolved?.context ?? access.context} resolved={resolved} />
      {!access.hasAccess && access.reason === 'not_found' && (
        <Alert>{sentence(access.errorMessage ?? 'The repository was not found.')}</Alert>
      )}
      {!access.hasAccess && access.reason === 'unavailable' && (
        <Alert kind="warning">
          {sentence(access.errorMessage ?? 'Azure DevOps could not be asked right now.')}{' '}
          <button type="button" className="button-small" onClick={onRetry}>
            Try again
          </button>
        </Alert>
      )}
      {!access.hasAccess && access.reason === 'oauth_blocked' && (
        <Alert kind="warning">{sentence(access.errorMessage ?? 'The organization refused your sign-in.')}</Alert>
      )}
      {!access.hasAccess && offers && (
        <AuthorizePanel
          offers={offers}
          organization={access.context.organization}
          reason={
            access.reason === 'not_authorized'
              ? `You have not authorized ${offers.host} yet: connect, or provide a Personal Access Token, to open this repository.`
              : access.reason === 'reauthorization_required'
                ? (access.errorMessage ?? undefined)
                : undefined
          }
          onAuthorized={onAuthorized}
        />
      )}
      {check.offersError && <Alert>{sentence(check.offersError)}</Alert>}
      {check.resolveError && <Alert>{sentence(check.resolveError)}</Alert>}
      {access.hasAccess && (
        <CreateEnvironment
          key={url}
          url={url}
          runnerId={access.runnerId}
          pullRequest={(resolved?.context ?? access.context).ref?.type === 'pullRequest'}
        />
      )}
    </>
  );
}

function refSummary(context: RepositoryContext, resolved: ResolvedContext | undefined): string {
  const ref = context.ref;
  const r = resolved?.ref;
  if (!ref) return resolved?.repository.defaultBranch ? `default branch (${resolved.repository.defaultBranch})` : 'default branch';
  switch (ref.type) {
    case 'pullRequest':
      return `pull request ${ref.pullRequestId ?? ''}`.trim();
    case 'commit':
      return `commit ${(r?.sha ?? ref.sha ?? '').slice(0, 12)}`;
    case 'tag':
      return `tag ${ref.name ?? ''}`;
    default:
      return `branch ${ref.name ?? ''}`;
  }
}

function ContextDetails({ context, resolved }: { context: RepositoryContext; resolved: ResolvedContext | undefined }) {
  const pr = resolved?.ref?.pullRequest;
  const host = `${context.host}${context.virtualDirectory ?? ''}`;
  return (
    <section className="card" aria-labelledby="resolved-heading">
      <h2 id="resolved-heading">
        {context.project}/{context.repository}
      </h2>
      {pr && (
        <p className="pr-title">
          Pull request {pr.id}: <strong>{pr.title}</strong>
          {pr.isDraft && <span className="tag">draft</span>}
        </p>
      )}
      <dl className="details details-compact">
        <Detail term={context.kind === 'server' ? 'Collection' : 'Organization'}>{context.organization}</Detail>
        <Detail term="Project">{context.project}</Detail>
        <Detail term="Repository">{context.repository}</Detail>
        <Detail term="Ref">{refSummary(context, resolved)}</Detail>
        <Detail term="Host">
          {host} {context.kind === 'server' ? '(Azure DevOps Server)' : '(Azure DevOps Services)'}
        </Detail>
        {pr && (
          <Detail term="Branches">
            <code>{pr.sourceRef.replace(/^refs\/heads\//, '')}</code> into <code>{pr.targetRef.replace(/^refs\/heads\//, '')}</code> (
            {pr.status})
          </Detail>
        )}
        {resolved?.ref?.sha && (
          <Detail term="Commit" mono>
            {resolved.ref.sha.slice(0, 12)}
          </Detail>
        )}
        {resolved && !context.ref && resolved.repository.defaultBranch === null && <Detail term="Contents">Empty repository</Detail>}
        {context.path && (
          <Detail term="File" wide mono>
            {context.path.path}
            {context.path.line ? `:${context.path.line}` : ''}
          </Detail>
        )}
      </dl>
      {!resolved && <p className="hint">Names as written in the URL; Keyway checks them with Azure DevOps once you are authorized.</p>}
    </section>
  );
}

const ENV_FIELDS: Record<string, string> = { runnerId: 'runnerId', pullRequestCheckout: 'checkout', contextUrl: 'form', clone: 'clone' };

/** How much of the repository to fetch; the default leaves it to the integration's settings. */
const FETCH_MODES = {
  default: { label: "The integration's default", clone: undefined },
  full: { label: 'Everything (full history and files)', clone: { filter: null, depth: null } },
  blobless: { label: 'Full history, file contents when needed (blobless)', clone: { filter: 'blob:none', depth: null } },
  shallow: { label: 'The latest commit only (shallow)', clone: { filter: null, depth: 1 } },
} as const;

function CreateEnvironment({ url, runnerId, pullRequest }: { url: string; runnerId: string; pullRequest: boolean }) {
  const runners = useApi<{ runners: Runner[] }>('/runners');
  const usable = runners.data?.runners.filter((r) => r.status !== 'revoked') ?? [];
  const [chosen, setChosen] = useState(runnerId);
  const [checkout, setCheckout] = useState<'merge' | 'source'>('merge');
  const [fetchMode, setFetchMode] = useState<keyof typeof FETCH_MODES>('default');
  const { errors, setErrors, formRef } = useFormErrors();
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Environment>();
  const [finished, setFinished] = useState<Environment>();

  async function submit() {
    setBusy(true);
    setErrors(NO_ERRORS);
    setFinished(undefined);
    try {
      const clone = FETCH_MODES[fetchMode].clone;
      const environment = await api.post<Environment>('/environments', {
        contextUrl: url,
        runnerId: chosen,
        ...(pullRequest ? { pullRequestCheckout: checkout } : {}),
        ...(clone ? { clone } : {}),
      });
      setCreated(environment);
    } catch (err) {
      const mapped = formErrorsFrom(err, ENV_FIELDS);
      if (err instanceof ApiError && mapped.form) mapped.form = sentence(mapped.form);
      setErrors(mapped);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="create-environment">
      <h2 id="create-environment">Create an environment</h2>
      <p className="muted">
        A runner clones the repository at this ref into a workspace whose git asks the runner for your current token on every fetch and
        push.
      </p>
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        {runners.error && <Alert>{runners.error.message}</Alert>}
        {usable.length > 1 && (
          <SelectField
            label="Runner"
            {...bindField(errors, 'runnerId', chosen, setChosen)}
            hint="The runner that clones and keeps the workspace. It needs repository access for this host."
          >
            <RunnerOptions runners={usable} />
          </SelectField>
        )}
        {usable.length <= 1 && errors.fields.runnerId && <Alert>{errors.fields.runnerId}</Alert>}
        {pullRequest && (
          <fieldset className="choice">
            <legend>Check out</legend>
            <ChoiceOptions
              name="checkout"
              chosen={checkout}
              onChoose={setCheckout}
              options={[
                {
                  value: 'merge',
                  label: <strong>Merge commit</strong>,
                  hint: 'What the pull request would produce: its source merged into the target.',
                },
                { value: 'source', label: <strong>Source branch</strong>, hint: "The pull request's branch, ready to commit and push to." },
              ]}
            />
            <FieldError error={errors.fields.checkout} />
          </fieldset>
        )}
        <SelectField
          label="What to fetch"
          {...bindField(errors, 'clone', fetchMode, (value) => setFetchMode(value as keyof typeof FETCH_MODES))}
          hint="Full and blobless environments take their objects from the runner's repository cache once your access is checked; a shallow one is fetched from Azure DevOps."
        >
          {Object.entries(FETCH_MODES).map(([value, mode]) => (
            <option key={value} value={value}>
              {mode.label}
            </option>
          ))}
        </SelectField>
        <FormActions
          submit={busy ? 'Creating…' : 'Create environment'}
          disabled={busy || (created !== undefined && finished === undefined)}
        />
      </Form>
      {created && <EnvironmentProgress key={created.id} initial={created} onSettled={setFinished} />}
      {finished && (
        <p>
          <Link to="/environments">See all your environments</Link>
        </p>
      )}
    </section>
  );
}
