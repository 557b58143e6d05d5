/**
 * Waking other processes when there is work (PostgreSQL LISTEN/NOTIFY). A worker on another host
 * otherwise finds a new group only at its next poll (`--worker-poll-interval`); with a notice it
 * claims at once. Polling stays as the fallback: a notice lost (a dropped listening connection,
 * a server restart) delays a group by one poll, never loses it. On SQLite, where watcher and
 * worker share a process or a host, both are no-ops.
 */
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import { dialectOf } from './dialect.js';
import type { DbTarget } from './target.js';

/** A plain identifier: LISTEN takes no parameters. */
export type Channel = 'contimg_pending';

export async function notify(db: Kysely<any>, channel: Channel): Promise<void> {
  if (dialectOf(db) !== 'postgres') return;
  await sql`SELECT pg_notify(${channel}, '')`.execute(db);
}

/**
 * Calls `onNotice` for every notice on `channel` until the returned function is called. A failing
 * connection is reported to `onError` and not retried (polling covers for it).
 */
export async function listen(target: DbTarget, channel: Channel, onNotice: () => void, onError: (err: Error) => void): Promise<() => Promise<void>> {
  if (target.kind !== 'postgres') return async () => undefined;
  const client = new pg.Client({ connectionString: target.url });
  client.on('error', onError);
  client.on('notification', (n) => {
    if (n.channel === channel) onNotice();
  });
  await client.connect();
  await client.query(`LISTEN ${channel}`);
  return async () => {
    await client.end().catch(() => undefined);
  };
}
