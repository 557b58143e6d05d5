//! One subband group (or one UVH5 file) in, one CASA Measurement Set out.
//!
//! 1. **Plan** ([`plan`]): open every file in parallel, check they belong together, decide the
//!    output spectral windows (ascending frequency; missing subbands flagged), the field(s),
//!    and per baseline-time the new uvw and the phase rotation, following pyuvdata's
//!    `phase()` and `write_ms` (DESIGN.md §3).
//! 2. **Stream** ([`assemble`]): for each block of rows, slice by slice in parallel, read the
//!    matching rows of every file (direct `pread`s, see `uvh5`) straight into the output rows
//!    (polarisations in MS order, channels ascending), then rotate, conjugate as `write_ms` does,
//!    derive flags and weights — while the previous block is being written by casacore on the
//!    calling thread. Memory is a few blocks, whatever the number of integrations.
//! 3. **Checkpoint** (optional): after each block the MS is flushed and the number of rows
//!    recorded, so an interrupted conversion resumes where it stopped and ends with the same
//!    bytes.

mod assemble;
mod checkpoint;
mod error;
pub mod input_phase;
pub mod plan;
mod pols;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

use serde::Serialize;

use assemble::{produce, Assembled};
use ms::{HistoryEntry, MsWriter, RowBlock};
use phasing::{InputPhase, Phasor, UvwConvention};

pub use error::ConvertError;
pub use input_phase::{InputPhaseChoice, InputPhaseDecision};
pub use plan::{FieldInfo, Plan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseMode {
    /// One FIELD (the meridian at mid-time, the file's own centre, or an explicit one);
    /// visibilities rotated there.
    Meridian,
    /// One FIELD per integration at the meridian; visibilities not rotated (the old pipeline).
    PerIntegration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UvwChoice {
    Auto,
    Force(UvwConvention),
}

#[derive(Debug, Clone)]
pub struct ConvertConfig {
    pub phase_mode: PhaseMode,
    /// Explicit phase centre, ICRS radians.
    pub phase_center: Option<(f64, f64)>,
    pub spw_per_subband: bool,
    pub allow_missing: bool,
    pub expected_subbands: usize,
    pub imaging_columns: bool,
    /// Integrations (blocks of Nbls rows) per streamed block; default from a memory budget.
    pub chunk_integrations: Option<usize>,
    pub uvw_convention: UvwChoice,
    /// The phase already in the data: decided from the file (`Auto`) or forced.
    pub input_phase: InputPhaseChoice,
    pub threads: Option<usize>,
    pub history: Vec<HistoryEntry>,
    /// Resumable progress is recorded here (and read back on start).
    pub checkpoint: Option<PathBuf>,
    /// Name of the group (default: derived from the first file's name).
    pub group_name: Option<String>,
}

impl Default for ConvertConfig {
    fn default() -> Self {
        ConvertConfig {
            phase_mode: PhaseMode::Meridian,
            phase_center: None,
            spw_per_subband: false,
            allow_missing: false,
            expected_subbands: 16,
            imaging_columns: false,
            chunk_integrations: None,
            uvw_convention: UvwChoice::Auto,
            input_phase: InputPhaseChoice::Auto,
            threads: None,
            history: Vec::new(),
            checkpoint: None,
            group_name: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Input {
    pub subband: usize,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Read,
    Phase,
    Write,
    Finalize,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub stage: Stage,
    pub rows_done: usize,
    pub rows_total: usize,
    pub bytes_read: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    pub open_s: f64,
    pub plan_s: f64,
    pub read_s: f64,
    pub assemble_s: f64,
    pub phase_s: f64,
    pub write_s: f64,
    pub flush_s: f64,
    pub finish_s: f64,
    pub total_s: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConvertSummary {
    pub group: String,
    pub ms_path: PathBuf,
    pub rows: usize,
    pub n_spw: usize,
    pub n_chan: usize,
    pub n_corr: usize,
    pub subbands: Vec<usize>,
    pub missing_subbands: Vec<usize>,
    pub fields: Vec<FieldInfo>,
    pub uvw_convention: Option<UvwConvention>,
    pub uvw_residual_m: Option<f64>,
    pub input_phase: InputPhase,
    /// Whether `--input-phase auto` chose `input_phase`, and why.
    pub input_phase_auto: bool,
    pub input_phase_reason: String,
    /// Visibility samples (one correlation of one channel) that were NaN or ±Inf: written
    /// flagged, with DATA 0.
    pub non_finite_flagged: u64,
    pub bytes_read: u64,
    pub resumed_from_row: Option<usize>,
    pub warnings: Vec<String>,
    pub timings: Timings,
}

/// Rows per block: whole integrations, about `BLOCK_BYTES` of input plus output.
const BLOCK_BYTES: usize = 160 << 20;

/// Converts `inputs` into a MeasurementSet at `ms_path` (which must not exist, unless a
/// checkpoint says it is this conversion's own partial output).
pub fn convert(
    inputs: &[Input],
    ms_path: &Path,
    cfg: &ConvertConfig,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
) -> Result<ConvertSummary, ConvertError> {
    let run = || convert_inner(inputs, ms_path, cfg, progress, cancel);
    match cfg.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| ConvertError::InvalidArgument(format!("cannot start {n} threads: {e}")))?
            .install(run),
        None => run(),
    }
}

fn convert_inner(
    inputs: &[Input],
    ms_path: &Path,
    cfg: &ConvertConfig,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
) -> Result<ConvertSummary, ConvertError> {
    let t_start = Instant::now();
    let mut timings = Timings::default();
    let plan = plan::plan(inputs, cfg)?;
    timings.plan_s = t_start.elapsed().as_secs_f64();

    let ncorr = plan.spec.ncorr();
    let nchan = plan.spec.nchan();
    let n_blts = plan.n_blts;
    let rows_per_int = plan.n_bls.max(1);
    let row_bytes = nchan * ncorr * 26;
    let ints_per_block = cfg
        .chunk_integrations
        .unwrap_or_else(|| (BLOCK_BYTES / (rows_per_int * row_bytes).max(1)).max(1))
        .max(1);
    let block_rows = ints_per_block * rows_per_int;
    // The sequence of (spw, rows) blocks, in MS row order: spw-major, as pyuvdata writes
    // several spectral windows.
    let blocks: Vec<(usize, std::ops::Range<usize>)> = (0..plan.spws.len())
        .flat_map(|s| (0..n_blts).step_by(block_rows).map(move |b0| (s, b0..(b0 + block_rows).min(n_blts))))
        .collect();
    let rows_total = n_blts * plan.spws.len();

    // Resume from a checkpoint, or start clean.
    let fingerprint = checkpoint::fingerprint(&plan::input_paths(inputs), cfg, block_rows);
    let resume = cfg.checkpoint.as_deref().and_then(|c| checkpoint::load(c, &fingerprint, ms_path));
    // The NaN/Inf count of the blocks already written comes back with the checkpoint.
    let (mut writer, first_block, non_finite_before) = match resume {
        Some(cp) => match checkpoint::restore(&cp).and_then(|()| MsWriter::resume(ms_path, &plan.spec, cp.rows_done).map_err(|e| ConvertError::ms(ms_path, e))) {
            Ok(w) => (w, cp.blocks_done, cp.non_finite),
            Err(_) => (fresh_writer(ms_path, &plan)?, 0, 0),
        },
        None => (fresh_writer(ms_path, &plan)?, 0, 0),
    };
    let mut non_finite = non_finite_before;
    // Not checkpointed: after a resume this counts the blocks converted since.
    let mut non_finite_nsamples = 0u64;
    let resumed_from_row = (first_block > 0).then(|| blocks[..first_block].iter().map(|b| b.1.len()).sum());

    let phasors: Vec<Phasor> = plan.spws.iter().map(|s| Phasor::new(&s.freqs_hz)).collect();
    let bytes_read = std::sync::atomic::AtomicU64::new(0);
    let (to_writer, from_reader): (SyncSender<Result<Assembled, ConvertError>>, Receiver<_>) = sync_channel(1);
    let (recycle_tx, recycle_rx) = std::sync::mpsc::channel::<Assembled>();
    let stop = AtomicBool::new(false);

    let mut stage_times = StageTimes::default();
    let write_result = std::thread::scope(|scope| -> Result<usize, ConvertError> {
        // Producer: read, assemble and rotate blocks, one ahead of the writer.
        let (plan, phasors, blocks, bytes_read, stop) = (&plan, &phasors, &blocks, &bytes_read, &stop);
        let producer = scope.spawn(move || {
            let mut times = StageTimes::default();
            for (i, (spw, rows)) in blocks.iter().enumerate().skip(first_block) {
                if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                    break;
                }
                let mut out = recycle_rx.try_recv().unwrap_or_default();
                let r = produce(plan, &phasors[*spw], *spw, rows.clone(), &mut out, &mut times, &bytes_read)
                    .map(|()| {
                        out.block = i;
                        out
                    });
                let failed = r.is_err();
                if to_writer.send(r).is_err() || failed {
                    break;
                }
                progress(Progress {
                    stage: Stage::Phase,
                    rows_done: rows.end,
                    rows_total,
                    bytes_read: bytes_read.load(Ordering::Relaxed),
                });
            }
            drop(to_writer);
            times
        });

        // Consumer (this thread: casacore is not thread-safe): write and checkpoint.
        let mut written = resumed_from_row.unwrap_or(0);
        let mut outcome = Ok(());
        let mut behind = ms::writebehind::WriteBehind::new(ms_path);
        for msg in from_reader.iter() {
            let block = match msg {
                Ok(b) => b,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            let t = Instant::now();
            let (spw, rows) = &blocks[block.block];
            let r = write_block(&mut writer, &plan, *spw, rows.clone(), &block);
            stage_times.write += t.elapsed().as_secs_f64();
            if let Err(e) = r {
                outcome = Err(e);
                break;
            }
            written += rows.len();
            behind.kick();
            non_finite += block.non_finite;
            non_finite_nsamples += block.non_finite_nsamples;
            if let Some(cp) = &cfg.checkpoint {
                let t = Instant::now();
                let r = writer
                    .flush()
                    .map_err(|e| ConvertError::ms(ms_path, e))
                    .and_then(|()| checkpoint::save(cp, &fingerprint, ms_path, block.block + 1, writer.n_rows(), non_finite));
                stage_times.flush += t.elapsed().as_secs_f64();
                if let Err(e) = r {
                    outcome = Err(e);
                    break;
                }
            }
            progress(Progress { stage: Stage::Write, rows_done: written, rows_total, bytes_read: bytes_read.load(Ordering::Relaxed) });
            let _ = recycle_tx.send(block);
        }
        stop.store(true, Ordering::Relaxed);
        drop(from_reader);
        let produced = producer.join().map_err(|_| ConvertError::InvalidArgument("the reader thread panicked".into()))?;
        stage_times.read += produced.read;
        stage_times.assemble += produced.assemble;
        stage_times.phase += produced.phase;
        outcome.map(|()| written)
    });
    let written = match write_result {
        Ok(w) => w,
        Err(e) => {
            // Keep the partial MS only when a checkpoint can resume it.
            if cfg.checkpoint.is_some() {
                let _ = writer.flush();
            } else {
                drop(writer);
                let _ = std::fs::remove_dir_all(ms_path);
            }
            return Err(e);
        }
    };
    if cancel.load(Ordering::Relaxed) && written < rows_total {
        let _ = writer.flush();
        if cfg.checkpoint.is_none() {
            drop(writer);
            let _ = std::fs::remove_dir_all(ms_path);
        }
        return Err(ConvertError::Cancelled);
    }

    progress(Progress { stage: Stage::Finalize, rows_done: written, rows_total, bytes_read: bytes_read.load(Ordering::Relaxed) });
    let t = Instant::now();
    let summary = writer.finish().map_err(|e| ConvertError::ms(ms_path, e))?;
    // Durable before anyone is told it exists: a finished MS must survive a power cut.
    ms::durable::sync_tree(ms_path).map_err(|e| ConvertError::io(ms_path, "fsync the MeasurementSet", e))?;
    timings.finish_s = t.elapsed().as_secs_f64();
    if let Some(cp) = &cfg.checkpoint {
        checkpoint::remove(cp);
    }
    timings.read_s = stage_times.read;
    timings.assemble_s = stage_times.assemble;
    timings.phase_s = stage_times.phase;
    timings.write_s = stage_times.write;
    timings.flush_s = stage_times.flush;
    timings.total_s = t_start.elapsed().as_secs_f64();
    let mut warnings = plan.warnings.clone();
    if non_finite > 0 {
        warnings.push(format!("{non_finite} visibility sample(s) were NaN or Inf: flagged, with DATA set to 0"));
    }
    if non_finite_nsamples > 0 {
        warnings.push(format!("{non_finite_nsamples} nsamples value(s) were NaN or Inf: flagged, with weight 0"));
    }

    Ok(ConvertSummary {
        group: plan.group.clone(),
        ms_path: ms_path.to_owned(),
        rows: summary.n_rows,
        n_spw: summary.n_spw,
        n_chan: summary.nchan,
        n_corr: summary.ncorr,
        subbands: plan.subbands.clone(),
        missing_subbands: plan.missing.clone(),
        fields: plan.fields.clone(),
        uvw_convention: plan.convention.map(|c| c.convention),
        uvw_residual_m: plan.convention.map(|c| c.max_residual_m),
        input_phase: plan.input_phase.phase,
        input_phase_auto: plan.input_phase.auto,
        input_phase_reason: plan.input_phase.reason.clone(),
        non_finite_flagged: non_finite,
        bytes_read: plan.bytes_in,
        resumed_from_row,
        warnings,
        timings,
    })
}

fn fresh_writer(ms_path: &Path, plan: &Plan) -> Result<MsWriter, ConvertError> {
    if ms_path.exists() {
        std::fs::remove_dir_all(ms_path).map_err(|e| ConvertError::io(ms_path, "remove a stale partial MeasurementSet", e))?;
    }
    MsWriter::create(ms_path, &plan.spec).map_err(|e| ConvertError::ms(ms_path, e))
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StageTimes {
    read: f64,
    assemble: f64,
    phase: f64,
    write: f64,
    flush: f64,
}

fn write_block(writer: &mut MsWriter, plan: &Plan, spw: usize, rows: std::ops::Range<usize>, b: &Assembled) -> Result<(), ConvertError> {
    let m = &plan.rows;
    let n = rows.len();
    let interval = &m.interval_s[rows.clone()];
    let ddid = vec![spw as i32; n];
    let block = RowBlock {
        time_mjd_s: &m.time_mjd_s[rows.clone()],
        time_centroid_mjd_s: &m.time_mjd_s[rows.clone()],
        interval_s: interval,
        exposure_s: interval,
        antenna1: &m.antenna1[rows.clone()],
        antenna2: &m.antenna2[rows.clone()],
        field_id: &m.field_id[rows.clone()],
        data_desc_id: &ddid,
        scan_number: &m.scan[rows.clone()],
        uvw_m: &m.uvw_ms[rows],
        data: &b.data,
        flag: &b.flag,
        weight_spectrum: &b.weight_spectrum,
        weight: &b.weight,
        sigma: &b.sigma,
        flag_row: &b.flag_row,
    };
    writer.write_rows(&block).map_err(|e| ConvertError::ms(writer.path(), e))
}
