/**
 * The stages `contimg pipeline` runs after ingest (stage 1, always on), in order. Each can be
 * switched off; the defaults run them all. Stage 4 of seed 004 is `flag` + `calibrate`, stage 8
 * is `sources` + `qa`.
 */
export const STAGES = ['convert', 'groups', 'flag', 'calibrate', 'applycal', 'image', 'mosaic', 'sources', 'qa', 'publish'] as const;
export type Stage = (typeof STAGES)[number];

export const STAGE_DESCRIPTIONS: Record<Stage, string> = {
  convert: 'stage 2: complete subband groups → Measurement Sets',
  groups: 'stage 3: consecutive MS → groups, calibrator transits found',
  flag: 'stage 4: RFI flagging of each MS before it is solved or applied',
  calibrate: 'stage 4: bandpass and gain solutions on calibrator transits',
  applycal: 'stage 5: caltables applied to every MS with valid tables',
  image: 'stage 6: an image of each MS (the calibrated one when stage 5 runs)',
  mosaic: 'stage 7: a primary-beam-weighted mosaic of each group',
  sources: 'stage 8: a source catalogue of each mosaic',
  qa: 'stage 8: cross-match and QA of each catalogue; passing products are validated',
  publish: 'stage 9: validated products published to the data tree',
};

export type StageSwitches = Record<Stage, boolean>;
