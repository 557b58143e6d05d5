//! `flag`: RFI flagging of one MS in place (FLAG replaced atomically).

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;

use crate::error::{js_error, to_js, Result};
use crate::job::{report, spawn, CancelToken};

#[napi(object)]
pub struct FlagRequest {
    pub ms: String,
    pub autocorr: Option<bool>,
    pub quack: Option<bool>,
    pub edge_channels: Option<u32>,
    /// SumThreshold, the statistics across baselines and SIR (false: only the steps by design).
    pub rfi: Option<bool>,
    /// χ_1 in units of the robust σ.
    pub threshold: Option<f64>,
    pub rho: Option<f64>,
    pub iterations: Option<u32>,
    pub sir_eta: Option<f64>,
    /// Background box half-widths (integrations, channels).
    pub smooth_time: Option<u32>,
    pub smooth_chan: Option<u32>,
    pub antenna_noise_ratio: Option<f64>,
    pub dry_run: Option<bool>,
    /// Flag again even if the MS records a run with the same settings.
    pub force: Option<bool>,
}

#[napi(object)]
pub struct FlagProgress {
    /// "read", "sumthreshold" or "write" (rows or baselines).
    pub stage: String,
    pub done: f64,
    pub total: f64,
}

/// Flags the MS; resolves with the summary (fractions before/after per step, antenna and
/// channel, timings).
#[napi(ts_return_type = "Promise<any>")]
pub fn flag<'env>(
    env: &'env Env,
    request: FlagRequest,
    on_progress: Option<ThreadsafeFunction<FlagProgress, (), FlagProgress, Status, false, true>>,
    cancel: Option<&CancelToken>,
) -> Result<Object<'env>> {
    let mut cfg = calib::flag::FlagConfig::new(&request.ms);
    cfg.autocorr = request.autocorr.unwrap_or(cfg.autocorr);
    cfg.quack = request.quack.unwrap_or(cfg.quack);
    cfg.edge_channels = request.edge_channels.map_or(cfg.edge_channels, |e| e as usize);
    cfg.rfi = request.rfi.unwrap_or(cfg.rfi);
    cfg.threshold = request.threshold.map_or(cfg.threshold, |x| x as f32);
    cfg.rho = request.rho.map_or(cfg.rho, |x| x as f32);
    cfg.iterations = request.iterations.map_or(cfg.iterations, |x| x as usize);
    cfg.sir_eta = request.sir_eta.map_or(cfg.sir_eta, |x| x as f32);
    cfg.smooth_time = request.smooth_time.map_or(cfg.smooth_time, |x| x as usize);
    cfg.smooth_chan = request.smooth_chan.map_or(cfg.smooth_chan, |x| x as usize);
    cfg.antenna_noise_ratio = request.antenna_noise_ratio.map_or(cfg.antenna_noise_ratio, |x| x as f32);
    cfg.dry_run = request.dry_run.unwrap_or(false);
    cfg.force = request.force.unwrap_or(false);
    let cancel = cancel.cloned().unwrap_or_default();
    spawn(env, move || {
        let flag = cancel.flag();
        let progress = |p: calib::flag::FlagProgress| {
            report(&on_progress, FlagProgress { stage: p.stage.into(), done: p.done as f64, total: p.total as f64 })
        };
        let cancelled = || flag.load(std::sync::atomic::Ordering::Relaxed);
        let s = calib::flag::flag(&cfg, &progress, &cancelled).map_err(to_js)?;
        serde_json::to_value(&s).map_err(|e| js_error("INTERNAL", e.to_string()))
    })
}
