/**
 * The pipeline layout (seed 004): path rules for the stage, data and legacy trees, the layout
 * state, calibrator classification, and the file-system primitives that move products safely.
 */
export * from './names.js';
export * from './roots.js';
export * from './state.js';
export * from './layout.js';
export * from './fsops.js';
export * from './relocate.js';
export * from './writers.js';
export * from './calibrators.js';
export * from './legacy.js';
export { faultPoint } from './fault.js';
export * from './options.js';
