/**
 * A real PostgreSQL 15 server for a test file: scripts/pg-temp.mjs (initdb and pg_ctl in a temp
 * directory, a free loopback port, no system service; as root it runs as the `postgres` user),
 * shared with the benchmarks.
 */
import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PgServer } from '../scripts/pg-temp.mjs';

export { createDatabase, databaseUrl, psql, startPostgres, type PgServer } from '../scripts/pg-temp.mjs';

/** Starts a server before the file's tests and stops it after them; `server()` is it meanwhile. */
export function usePostgres(): { server: () => PgServer } {
  let pg: PgServer | undefined;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(() => pg?.stop());
  return {
    server: () => {
      if (!pg) throw new Error('the PostgreSQL server is not started (usePostgres() registers it for the tests of this file)');
      return pg;
    },
  };
}
