// Secret canaries for the resilience and security suites. Every suite registers the secrets it
// handles (generated canaries and the real tokens and passwords of its world), feeds in what it
// saw — log lines, API responses, database dumps of the management plane, files such as screenshots
// — and ends with `assertClean()`: none of those values may appear anywhere, in clear or in the
// usual encodings.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';

/** Where a value may legitimately appear: a runner token is shown once in the exchange answer. */
export type CanarySource = 'logs' | 'responses' | 'database' | 'files';

interface Canary {
  label: string;
  value: string;
  allowedIn: Set<CanarySource>;
}

export interface CanaryHit {
  label: string;
  source: string;
  kind: CanarySource;
  /** Where in the text, with the value itself masked. */
  context: string;
}

function encodings(value: string): string[] {
  const forms = new Set([
    value,
    encodeURIComponent(value),
    JSON.stringify(value).slice(1, -1),
    Buffer.from(value).toString('base64'),
    Buffer.from(value).toString('base64url'),
  ]);
  // A value inside `Basic base64(user:value)` shifts with the user name's length; three prefixes
  // of different lengths mod 3 cover every alignment of the value's own base64.
  for (const user of ['x:', 'xy:', 'pat:']) {
    const b64 = Buffer.from(`${user}${value}`).toString('base64');
    // Drop the characters that also encode the prefix and the possibly padded tail.
    forms.add(b64.slice(Math.ceil((user.length * 4) / 3) + 1, -4));
  }
  return [...forms].filter((f) => f.length >= 12);
}

export class CanaryScan {
  private readonly canaries: Canary[] = [];
  private readonly texts: { kind: CanarySource; source: string; text: () => string | Promise<string> }[] = [];

  /** A fresh canary secret: never a real credential, easy to spot, long enough to be unique. */
  canary(label: string, allowedIn: CanarySource[] = []): string {
    const value = `kwcanary${label.replace(/[^a-z0-9]/gi, '')}${randomBytes(12).toString('hex')}`;
    this.watch(value, label, allowedIn);
    return value;
  }

  /** A real secret of the world under test (a PAT, a client secret, a token). */
  watch(value: string | undefined | null, label: string, allowedIn: CanarySource[] = []): void {
    if (!value || value.length < 12) return;
    this.canaries.push({ label, value, allowedIn: new Set(allowedIn) });
  }

  /** A growing text, read when the scan runs (a LogCapture's lines). */
  source(kind: CanarySource, source: string, text: () => string | Promise<string>): void {
    this.texts.push({ kind, source, text });
  }

  response(source: string, res: { statusCode?: number; status?: number; headers?: unknown; body?: string; payload?: string }): void {
    const text = `${res.statusCode ?? res.status ?? ''} ${JSON.stringify(res.headers ?? {})}\n${res.body ?? res.payload ?? ''}`;
    this.texts.push({ kind: 'responses', source, text: () => text });
  }

  /** Every row of every table of a database (the SQLite file, or the PostgreSQL schema). */
  database(source: string, db: Kysely<unknown>, schema?: string): void {
    this.texts.push({ kind: 'database', source, text: () => dumpDatabase(db, schema) });
  }

  /** Every file under a directory (screenshots, traces, reports), as bytes read as latin1. */
  files(source: string, dir: string): void {
    this.texts.push({
      kind: 'files',
      source,
      text: () => {
        const out: string[] = [];
        const walk = (p: string) => {
          let st;
          try {
            st = statSync(p);
          } catch {
            return;
          }
          if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
          else if (st.size < 50 * 1024 * 1024) out.push(`${p}\n${readFileSync(p).toString('latin1')}`);
        };
        walk(dir);
        return out.join('\n');
      },
    });
  }

  async scan(): Promise<{ hits: CanaryHit[]; scanned: Record<CanarySource, number>; canaries: number }> {
    const hits: CanaryHit[] = [];
    const scanned: Record<CanarySource, number> = { logs: 0, responses: 0, database: 0, files: 0 };
    const forms = this.canaries.map((c) => ({ canary: c, forms: encodings(c.value) }));
    for (const t of this.texts) {
      const text = await t.text();
      scanned[t.kind] += text.length;
      for (const { canary, forms: fs } of forms) {
        if (canary.allowedIn.has(t.kind)) continue;
        for (const form of fs) {
          const at = text.indexOf(form);
          if (at < 0) continue;
          const context =
            `${text.slice(Math.max(0, at - 80), at)}«${canary.label}»${text.slice(at + form.length, at + form.length + 80)}`.replace(
              /\s+/g,
              ' ',
            );
          hits.push({ label: canary.label, source: t.source, kind: t.kind, context });
          break;
        }
      }
    }
    return { hits, scanned, canaries: this.canaries.length };
  }

  /** Fails with every hit (values masked). Zero hits is the target. */
  async assertClean(): Promise<{ scanned: Record<CanarySource, number>; canaries: number }> {
    const { hits, scanned, canaries } = await this.scan();
    assert.ok(this.texts.length > 0, 'the canary scan was given nothing to scan');
    assert.deepEqual(
      hits.map((h) => `${h.label} in ${h.kind} (${h.source}): …${h.context}…`),
      [],
      'secret canaries leaked',
    );
    return { scanned, canaries };
  }
}

async function dumpDatabase(db: Kysely<unknown>, schema?: string): Promise<string> {
  const tables = schema
    ? (
        await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = ${schema}`.execute(db)
      ).rows.map((r) => r.name)
    : (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows.map((r) => r.name);
  const parts: string[] = [];
  for (const table of tables) {
    const rows = (await sql`select * from ${sql.table(table)}`.execute(db)).rows;
    parts.push(`== ${table}\n${JSON.stringify(rows)}`);
  }
  return parts.join('\n');
}
