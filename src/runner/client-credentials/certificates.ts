// The runner's own certificates for Entra client authentication, one set per owner (an
// integration's Entra app, a service-principal app connection). The private key is generated here,
// encrypted at rest under the runner's data keys (like every stored credential) and only ever used
// to sign client assertions in this process; what leaves is the certificate (public).
//
// Lifecycle: the first certificate is `active` as soon as it exists (the runner signs with it;
// Entra refuses it until an admin uploads it). Ahead of its expiry a `next` one is made and shown for
// upload; it becomes active once Entra accepts it (a Save & Test, a token request that the active
// one failed) or when the active one has expired, and the old key is deleted.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { generateClientCertificate } from '../../entra/certificate.ts';
import type { GeneratedCertificate } from '../../entra/certificate.ts';
import { importSigningKey } from '../../entra/client-auth.ts';
import type { SigningCertificate } from '../../entra/client-auth.ts';
import type { FieldCrypto } from '../keys/field-crypto.ts';

export type CertificateOwner = { type: 'integration' | 'app-connection'; id: string };

/** How long a runner-born certificate is valid. */
export const CERTIFICATE_VALIDITY_DAYS = 365;
/** A next certificate is made when the active one has less than this left. */
export const ROTATE_AHEAD_DAYS = 30;

export interface CertificateView {
  id: string;
  status: 'active' | 'next';
  certificatePem: string;
  thumbprintSha1: string;
  thumbprintSha256: string;
  notBefore: string;
  notAfter: string;
  createdAt: string;
  /** When Entra last accepted an assertion signed with it; null: never (not uploaded yet, as far as the runner knows). */
  acceptedAt: string | null;
}

export interface CertificateSigner extends SigningCertificate {
  id: string;
}

type Row = RunnerDB['client_certificates'];

const PRIVATE_KEY = { table: 'client_certificates', column: 'private_key' } as const;

function view(row: Row): CertificateView {
  return {
    id: row.id,
    status: row.status as 'active' | 'next',
    certificatePem: row.certificate,
    thumbprintSha1: row.thumbprint_sha1,
    thumbprintSha256: row.thumbprint_sha256,
    notBefore: row.not_before,
    notAfter: row.not_after,
    createdAt: row.created_at,
    acceptedAt: row.accepted_at,
  };
}

/** base64url of the SHA-256 thumbprint (hex): the `x5t#S256` header. */
const x5tS256 = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');

export function createCertificateStore(deps: {
  db: Kysely<RunnerDB>;
  crypto: FieldCrypto;
  now?: () => Date;
  generate?: typeof generateClientCertificate;
}) {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const generate = deps.generate ?? generateClientCertificate;
  /** Imported signing keys by certificate id: importing costs a PKCS#8 parse, signing happens per token request. */
  const keys = new Map<string, Promise<CryptoKey>>();

  const rows = (owner: CertificateOwner) =>
    db.selectFrom('client_certificates').selectAll().where('owner_type', '=', owner.type).where('owner_id', '=', owner.id);

  async function find(owner: CertificateOwner, status: 'active' | 'next'): Promise<Row | undefined> {
    return rows(owner).where('status', '=', status).executeTakeFirst();
  }

  /** Makes a certificate with `status`, unless one exists (another replica may win the race: then its row is the answer). */
  async function make(owner: CertificateOwner, status: 'active' | 'next', commonName: string): Promise<Row> {
    const existing = await find(owner, status);
    if (existing) return existing;
    const made: GeneratedCertificate = await generate({ commonName, validityDays: CERTIFICATE_VALIDITY_DAYS, now: now() });
    const id = `cert_${randomBytes(12).toString('base64url')}`;
    const row: Row = {
      id,
      owner_type: owner.type,
      owner_id: owner.id,
      status,
      certificate: made.certificatePem,
      private_key: deps.crypto.encrypt(made.privateKeyPem, { ...PRIVATE_KEY, rowId: id }),
      thumbprint_sha1: made.thumbprintSha1,
      thumbprint_sha256: made.thumbprintSha256,
      not_before: made.notBefore,
      not_after: made.notAfter,
      created_at: now().toISOString(),
      accepted_at: null,
    };
    try {
      await db.insertInto('client_certificates').values(row).execute();
      return row;
    } catch (err) {
      const winner = await find(owner, status);
      if (winner) return winner;
      throw err;
    }
  }

  async function signer(row: Row): Promise<CertificateSigner> {
    let key = keys.get(row.id);
    if (!key) {
      key = deps.crypto.decrypt(row.private_key, { ...PRIVATE_KEY, rowId: row.id }).then(importSigningKey);
      keys.set(row.id, key);
      key.catch(() => keys.delete(row.id));
    }
    return { id: row.id, key: await key, x5tS256: x5tS256(row.thumbprint_sha256) };
  }

  const expired = (row: Row) => Date.parse(row.not_after) <= now().getTime();

  return {
    /** The owner's certificates, active first. */
    async list(owner: CertificateOwner): Promise<CertificateView[]> {
      const all = await rows(owner).execute();
      return all.map(view).sort((a, b) => (a.status === b.status ? 0 : a.status === 'active' ? -1 : 1));
    },

    /** The active certificate, made now when the owner has none. */
    async ensureActive(owner: CertificateOwner, commonName: string): Promise<CertificateView> {
      return view(await make(owner, 'active', commonName));
    },

    /** A next certificate (for upload ahead of the active one's expiry); the existing one if there is one. */
    async prepareNext(owner: CertificateOwner, commonName: string): Promise<CertificateView> {
      return view(await make(owner, 'next', commonName));
    },

    /** Whether the active certificate is close enough to expiry that a next one should exist. */
    dueForRotation(active: Pick<CertificateView, 'notAfter'>): boolean {
      return Date.parse(active.notAfter) - now().getTime() < ROTATE_AHEAD_DAYS * 86_400_000;
    },

    /**
     * What to sign with now: the active certificate; when it has expired and a next one exists, the
     * next one is promoted first (an expired certificate cannot work, the next one may).
     */
    async current(owner: CertificateOwner): Promise<CertificateSigner | undefined> {
      const active = await find(owner, 'active');
      if (active && expired(active)) {
        const next = await find(owner, 'next');
        if (next && (await this.promote(owner, next.id))) return signer(next);
      }
      return active ? signer(active) : undefined;
    },

    async signerFor(owner: CertificateOwner, id: string): Promise<CertificateSigner | undefined> {
      const row = await rows(owner).where('id', '=', id).executeTakeFirst();
      return row ? signer(row) : undefined;
    },

    /** Entra accepted an assertion signed with this certificate. */
    async accepted(id: string): Promise<void> {
      await db.updateTable('client_certificates').set({ accepted_at: now().toISOString() }).where('id', '=', id).execute();
    },

    /**
     * The next certificate becomes the active one and the old active key is deleted. One
     * transaction; false when another replica promoted it first.
     */
    async promote(owner: CertificateOwner, nextId: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        // The delete carries its own condition that the next certificate is still 'next': a
        // replica whose promotion starts after another's committed (PostgreSQL reads committed
        // rows per statement) would otherwise delete the certificate just promoted.
        await trx
          .deleteFrom('client_certificates')
          .where('owner_type', '=', owner.type)
          .where('owner_id', '=', owner.id)
          .where('status', '=', 'active')
          .where((eb) =>
            eb.exists(
              eb
                .selectFrom('client_certificates as pending')
                .select('pending.id')
                .where('pending.id', '=', nextId)
                .where('pending.status', '=', 'next'),
            ),
          )
          .execute();
        const moved = await trx
          .updateTable('client_certificates')
          .set({ status: 'active' })
          .where('id', '=', nextId)
          .where('status', '=', 'next')
          .executeTakeFirst();
        return Number(moved.numUpdatedRows) === 1;
      });
    },

    /** The owner is gone (integration deleted, app connection deleted, method changed): its keys go. */
    async deleteForOwner(owner: CertificateOwner): Promise<number> {
      const removed = await db
        .deleteFrom('client_certificates')
        .where('owner_type', '=', owner.type)
        .where('owner_id', '=', owner.id)
        .executeTakeFirst();
      return Number(removed.numDeletedRows);
    },
  };
}

export type CertificateStore = ReturnType<typeof createCertificateStore>;
