//! `convertGroup`: one group of subband files (or one UVH5 file) into one MeasurementSet.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;

use crate::error::{js_error, to_js, Code, Coded, Result};
use crate::job::{report, spawn, CancelToken};

impl Coded for convert::ConvertError {
    fn code(&self) -> &str {
        convert::ConvertError::code(self)
    }
}

#[napi(object)]
pub struct ConvertInput {
    pub subband: u32,
    pub path: String,
}

#[napi(object)]
pub struct ConvertRequest {
    pub inputs: Vec<ConvertInput>,
    /// Where to build the MeasurementSet (the caller moves it into place).
    pub ms_path: String,
    /// "meridian" or "per-integration".
    pub phase_mode: String,
    /// Explicit ICRS centre [ra, dec] in degrees.
    pub phase_center_deg: Option<Vec<f64>>,
    pub spw_per_subband: bool,
    pub allow_missing: bool,
    pub expected_subbands: u32,
    pub imaging_columns: bool,
    pub chunk_integrations: Option<u32>,
    /// "auto", "ant2-ant1" or "ant1-ant2".
    pub uvw_convention: String,
    /// "auto" (default: DSA-110 files "stored-uvw", other drift files "zero"), "stored-uvw" or
    /// "zero" (pyuvdata's reading of drift data).
    pub input_phase: String,
    pub threads: Option<u32>,
    pub checkpoint_path: Option<String>,
    pub group_name: Option<String>,
    /// The command line and version recorded in HISTORY.
    pub command_line: String,
    pub version: String,
}

#[napi(object)]
pub struct ConvertProgress {
    pub stage: String,
    pub rows_done: f64,
    pub rows_total: f64,
    pub bytes_read: f64,
}

fn config(r: &ConvertRequest) -> std::result::Result<convert::ConvertConfig, Error<Code>> {
    let bad = |m: String| js_error("CONVERT_INVALID_ARGUMENT", m);
    let phase_mode = match r.phase_mode.as_str() {
        "meridian" => convert::PhaseMode::Meridian,
        "per-integration" => convert::PhaseMode::PerIntegration,
        other => return Err(bad(format!("--phase-mode must be meridian or per-integration (got '{other}')"))),
    };
    let phase_center = match &r.phase_center_deg {
        None => None,
        Some(v) if v.len() == 2 && (0.0..360.0).contains(&v[0]) && (-90.0..=90.0).contains(&v[1]) => Some((v[0].to_radians(), v[1].to_radians())),
        Some(v) => return Err(bad(format!("--phase-center must be RA_DEG,DEC_DEG with RA in [0, 360) and Dec in [-90, 90] (got {v:?})"))),
    };
    let uvw_convention = match r.uvw_convention.as_str() {
        "auto" => convert::UvwChoice::Auto,
        "ant2-ant1" => convert::UvwChoice::Force(phasing::UvwConvention::Ant2MinusAnt1),
        "ant1-ant2" => convert::UvwChoice::Force(phasing::UvwConvention::Ant1MinusAnt2),
        other => return Err(bad(format!("--uvw-convention must be auto, ant2-ant1 or ant1-ant2 (got '{other}')"))),
    };
    let input_phase = match r.input_phase.as_str() {
        "auto" => convert::InputPhaseChoice::Auto,
        "stored-uvw" => convert::InputPhaseChoice::Force(phasing::InputPhase::StoredUvw),
        "zero" => convert::InputPhaseChoice::Force(phasing::InputPhase::Zero),
        other => return Err(bad(format!("--input-phase must be auto, stored-uvw or zero (got '{other}')"))),
    };
    let args: Vec<String> = r.command_line.split_whitespace().map(str::to_owned).collect();
    Ok(convert::ConvertConfig {
        phase_mode,
        phase_center,
        spw_per_subband: r.spw_per_subband,
        allow_missing: r.allow_missing,
        expected_subbands: r.expected_subbands as usize,
        imaging_columns: r.imaging_columns,
        chunk_integrations: r.chunk_integrations.map(|c| c as usize),
        uvw_convention,
        input_phase,
        threads: r.threads.map(|t| t as usize),
        history: vec![ms::HistoryEntry {
            time_mjd_s: 0.0,
            message: format!("converted by contimg {} ({})", r.version, r.command_line),
            priority: "NORMAL".into(),
            origin: format!("contimg {}", r.version),
            application: "contimg".into(),
            cli_command: args,
            app_params: vec![
                format!("phase_mode={}", r.phase_mode),
                format!("input_phase={}", r.input_phase),
                format!("uvw_convention={}", r.uvw_convention),
                format!("spw_per_subband={}", r.spw_per_subband),
                format!("allow_missing={}", r.allow_missing),
            ],
        }],
        checkpoint: r.checkpoint_path.as_ref().map(Into::into),
        group_name: r.group_name.clone(),
    })
}

/// Converts one group; resolves with the conversion summary (rows, fields, timings, warnings).
#[napi(ts_return_type = "Promise<any>")]
pub fn convert_group<'env>(
    env: &'env Env,
    request: ConvertRequest,
    on_progress: Option<ThreadsafeFunction<ConvertProgress, (), ConvertProgress, Status, false, true>>,
    cancel: Option<&CancelToken>,
) -> Result<Object<'env>> {
    let cfg = config(&request)?;
    let inputs: Vec<convert::Input> =
        request.inputs.iter().map(|i| convert::Input { subband: i.subband as usize, path: i.path.clone().into() }).collect();
    let ms_path = std::path::PathBuf::from(&request.ms_path);
    let cancel = cancel.cloned().unwrap_or_default();
    spawn(env, move || {
        let flag = cancel.flag();
        let progress = |p: convert::Progress| {
            let stage = match p.stage {
                convert::Stage::Read => "read",
                convert::Stage::Phase => "phase",
                convert::Stage::Write => "write",
                convert::Stage::Finalize => "finalize",
            };
            report(
                &on_progress,
                ConvertProgress { stage: stage.into(), rows_done: p.rows_done as f64, rows_total: p.rows_total as f64, bytes_read: p.bytes_read as f64 },
            )
        };
        let s = convert::convert(&inputs, &ms_path, &cfg, &progress, &flag).map_err(to_js)?;
        serde_json::to_value(&s).map_err(|e| js_error("INTERNAL", e.to_string()))
    })
}
