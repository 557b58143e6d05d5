/**
 * The `stream-postgres` project's one PostgreSQL 15 server (test/postgres.ts: initdb + pg_ctl in
 * a temporary directory), started before its first test file and stopped after its last. Tests
 * get its superuser URL with `inject('pgUrl')` (test/stream/backend.ts creates a database per
 * queue on it).
 */
import type { TestProject } from 'vitest/node';
import { startPostgres, type PgServer } from '../postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The superuser URL of the project's PostgreSQL server (`postgres` database). */
    pgUrl: string;
  }
}

let server: PgServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startPostgres();
  project.provide('pgUrl', server.url);
}

export function teardown(): void {
  server?.stop();
  server = undefined;
}
