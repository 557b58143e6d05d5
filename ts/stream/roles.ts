/**
 * The service's roles, lease default and slow-group rule: what the CLI's option definitions and
 * argument handling need, kept apart from the service and queue so that they load no database code.
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

/** Seconds after which a running conversion counts as slow: 90 % of the chunk duration (270 s for 5 min). */
export function slowGroupThresholdS(chunkDurationMin: number): number {
  return 0.9 * chunkDurationMin * 60;
}
