/**
 * Logging: pino, JSON lines when stderr is not a terminal (for journald and log shippers),
 * readable lines on a terminal. JSON lines carry the level as a label in the Python service's
 * words (`"level":"ERROR"`, `"level":"WARNING"`), so the seed's `grep ERROR` finds errors.
 */
import { pino, destination as pinoDestination, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Accepts the seed's Python names too (WARNING, CRITICAL). */
export function normaliseLevel(level: string): LogLevel {
  const l = level.toLowerCase();
  if (l === 'warning') return 'warn';
  if (l === 'critical') return 'fatal';
  if ((LOG_LEVELS as readonly string[]).includes(l)) return l as LogLevel;
  throw new Error(`unknown log level '${level}' (use one of ${LOG_LEVELS.join(', ')})`);
}

/** The label each pino level is written with: the Python logging names the seed's operators grep for. */
export const LEVEL_LABELS = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL' } as const;
export type LevelLabel = (typeof LEVEL_LABELS)[keyof typeof LEVEL_LABELS];

/** Severity order of the labels, for readers of the JSON lines (tests, tools). */
export const LABEL_RANK: Record<LevelLabel, number> = { TRACE: 10, DEBUG: 20, INFO: 30, WARNING: 40, ERROR: 50, CRITICAL: 60 };

const labelled = { level: (label: string) => ({ level: LEVEL_LABELS[label as keyof typeof LEVEL_LABELS] ?? label.toUpperCase() }) };

export interface LoggerOptions {
  level?: string;
  /** Force JSON (true) or pretty (false) output; default: pretty on a TTY. */
  json?: boolean;
  /** Write here instead of stderr (tests). */
  destination?: NodeJS.WritableStream | { write(s: string): void };
  name?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = normaliseLevel(opts.level ?? 'info');
  const json = opts.json ?? !process.stderr.isTTY;
  const base = { level, name: opts.name ?? 'contimg' };
  if (opts.destination) return pino({ ...base, formatters: labelled }, opts.destination as DestinationStream);
  if (json) return pino({ ...base, formatters: labelled }, pinoDestination({ fd: 2, sync: true }));
  return pino({
    ...base,
    transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss' } },
  });
}

/** A logger that discards everything (library calls without a caller-supplied logger). */
export const silentLogger: Logger = pino({ level: 'silent' });
