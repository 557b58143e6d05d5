export interface PgServer {
  url: string;
  createDatabase(name: string): string;
  stop(): void;
}
export function pgBinDir(): string;
export function psql(url: string, query: string, opts?: { separator?: string; nullAs?: string }): string;
export function databaseUrl(serverUrl: string, name: string): string;
export function createDatabase(serverUrl: string, name: string): string;
export function startPostgres(opts?: { fsync?: boolean }): Promise<PgServer>;
