import { Link } from '../router.tsx';
import { PageHeading } from '../components/page.tsx';

export function NotFoundPage() {
  return (
    <>
      <PageHeading title="Page not found" />
      <p>
        There is no page at this address. Go to <Link to="/runners">Runners</Link>.
      </p>
    </>
  );
}

export function AdminOnly({ title }: { title: string }) {
  return (
    <>
      <PageHeading title={title} />
      <p>Only organization admins can see this page. Ask an admin of your organization if you need access.</p>
    </>
  );
}

export function OperatorOnly() {
  return (
    <>
      <PageHeading title="Instance" />
      <p>
        Only instance operators can see this page. An operator can grant it on the machine that holds Keyway's database with{' '}
        <code>keyway admin operator EMAIL</code>.
      </p>
    </>
  );
}
