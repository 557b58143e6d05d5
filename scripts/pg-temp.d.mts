export interface PgServer {
  url: string;
  createDatabase(name: string): string;
  stop(): void;
}
export function pgBinDir(): string;
export function startPostgres(opts?: { fsync?: boolean }): Promise<PgServer>;
