/**
 * The service's roles and lease defaults: constants the CLI's option definitions need, kept
 * apart from the service and queue so that defining options loads no database code.
 */

/**
 * What a `contimg stream` process does (`--role`): watch the input directory and queue groups,
 * claim and convert groups, or both (one host, the default). Several worker processes, on one
 * host or many sharing the queue on PostgreSQL, can serve one watcher.
 */
export const STREAM_ROLES = ['both', 'watcher', 'worker'] as const;
export type StreamRole = (typeof STREAM_ROLES)[number];

/** How long a claim holds its group unless renewed (`--lease-duration`), seconds. */
export const DEFAULT_LEASE_S = 60;
