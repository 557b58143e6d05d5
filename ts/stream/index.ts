/**
 * The streaming converter service of seed 000 (`contimg stream`): its public surface.
 *
 *   StreamService    the assembled service (queue + watcher + worker + monitor); run(), stop()
 *   StreamQueue      the SQLite queue: registration, atomic claims, the group state machine
 *   DirectoryWatcher complete subband files from the input directory (inotify or polling)
 *   StreamingWorker  claims and converts groups with an injected `Converter`
 *   Monitor          the seed's warnings and system resources; SpaceGuard pauses claims
 *   defaultConverter the real converter (the one place to swap it)
 */
export { StreamService, slowGroupThresholdS, type StreamConfig, type StreamDeps } from './service.js';
export { StreamQueue, backoffS, type Arrival, type Claim, type GroupRecord, type GroupingRules, type Registration, type RequeueOutcome, type MetricRow } from './queue.js';
export { DirectoryWatcher, type WatchMode, type WatchFactory, type WatcherOptions } from './watcher.js';
export { StreamingWorker, checkpointPathFor, describeFailure, type WorkerConfig, type WorkerDeps } from './worker.js';
export { Monitor, SpaceGuard, WARNINGS, queueWarnings, realDiskProbe, type DiskProbe, type MonitorConfig, type MonitorReport } from './monitor.js';
export { backfillTimings, type StageBreakdown } from './metrics.js';
export { defaultConverter, loadConverterModule, realConverterAvailable } from './converter.js';
export { childConverter } from './subprocess.js';
export { currentProcess, ownerLiveness, type Liveness, type ProcessIdentity } from './owner.js';
export { GROUP_STATES, PROCESSING_STAGES, STREAM_MIGRATIONS, SCHEMA_COLUMNS, type GroupState, type ProcessingStage, type ClaimStage, type StreamDb } from './schema.js';
