/**
 * A real PostgreSQL 15 server for a test file: scripts/pg-temp.mjs (initdb and pg_ctl in a temp
 * directory, a free loopback port, no system service; as root it runs as the `postgres` user),
 * shared with the benchmarks.
 */
export { startPostgres, type PgServer } from '../scripts/pg-temp.mjs';
