//! One caltable, ready to be evaluated at any (time, MS spectral window, antenna): its
//! solutions sorted into per-(table spw, antenna) time series, and every MS channel mapped to a
//! table spw and channel by frequency.
//!
//! Semantics follow CASA's applycal (checked against casatasks 6.7 in
//! test/calib/applycal.test.ts):
//! - `nearest`: the solution closest in time.
//! - `linear`: amplitude and phase interpolated separately between the two solutions that
//!   bracket the time (phase along the shorter arc); before the first or after the last
//!   solution, the nearest one (no extrapolation). The result is flagged when either bracketing
//!   solution is (flagged solutions stay in the series, as in CASA), except at a time that
//!   matches a solution's (see [`TableInterp::pick`]).
//! - A channel of a B table is the table channel at the same frequency (so a table solved on
//!   a 16-spw MS applies to a 1-spw MS and back); a G cell covers its spectral window's band.
//! - calwt: CASA scales weights by a channel-independent factor per antenna and polarization:
//!   |g|² for G, and for B the mean of |B|² over the spectral window's unflagged channels.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ms::caltable::read::ReadCalTable;
use ms::caltable::Jones;
use num_complex::{Complex32, Complex64};

use crate::CalibError;

/// Time interpolation of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interp {
    Nearest,
    Linear,
}

impl Interp {
    /// CASA's default choice in the DSA-110 pipeline: B by nearest, G linearly.
    pub fn default_for(j: Jones) -> Interp {
        match j {
            Jones::B => Interp::Nearest,
            Jones::G => Interp::Linear,
        }
    }
}

/// One contiguous use of a table spw by an MS spw: MS channel `ms_chan[k]` takes table channel
/// `tab_chan[k]` of table spw `tab_spw`.
#[derive(Debug, Clone)]
struct Segment {
    tab_spw: usize,
    ms_chan: Vec<usize>,
    tab_chan: Vec<usize>,
}

pub struct TableInterp {
    pub path: PathBuf,
    pub jones: Jones,
    pub interp: Interp,
    n_pol: usize,
    /// Row indices sorted by time, per (table spw, antenna).
    series: HashMap<(usize, usize), Vec<usize>>,
    times: Vec<f64>,
    cparam: Vec<Vec<Complex32>>,
    flag: Vec<Vec<bool>>,
    /// Per MS spw: the segments covering its channels.
    segments: Vec<Vec<Segment>>,
    pub time_range_mjd_s: [f64; 2],
}

/// What a table contributes for one antenna at one time in one MS spw:
/// `gain[chan * 2 + pol]`, `flag[chan * 2 + pol]`, `wt[pol]`.
pub struct AntGains {
    pub gain: Vec<Complex32>,
    pub flag: Vec<bool>,
    pub wt: [f32; 2],
}

fn wrap(p: f64) -> f64 {
    let t = std::f64::consts::TAU;
    p - t * ((p + std::f64::consts::PI) / t).floor()
}

impl TableInterp {
    /// `ms_spw_freq_hz[s]`: channel centres of MS spw `s`; `n_ant_ms`: rows of the MS's ANTENNA.
    pub fn new(
        t: ReadCalTable,
        interp: Interp,
        ms_path: &Path,
        ms_spw_freq_hz: &[Vec<f64>],
        n_ant_ms: usize,
        n_ant_table: Option<usize>,
    ) -> Result<TableInterp, CalibError> {
        let shape = |message: String| CalibError::TableShape {
            table: t.path.clone(),
            ms: ms_path.to_path_buf(),
            message,
        };
        if let Some(n) = n_ant_table {
            if n != n_ant_ms {
                return Err(shape(format!("the table has {n} antennas, the MS {n_ant_ms}")));
            }
        }
        let tab = &t.table;
        if tab.n_pol != 1 && tab.n_pol != 2 {
            return Err(shape(format!("{} polarizations per solution (1 or 2 are applied)", tab.n_pol)));
        }
        let mut series: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
        for (i, r) in tab.rows.iter().enumerate() {
            let a = usize::try_from(r.antenna1).ok().filter(|&a| a < n_ant_ms).ok_or_else(|| {
                shape(format!("row {i} has ANTENNA1 {} but the MS has {n_ant_ms} antennas", r.antenna1))
            })?;
            series.entry((r.spw_id as usize, a)).or_default().push(i);
        }
        for v in series.values_mut() {
            v.sort_by(|&a, &b| tab.rows[a].time_mjd_s.total_cmp(&tab.rows[b].time_mjd_s));
        }
        // Map every MS channel to a table (spw, channel) by frequency.
        let mut segments = Vec::with_capacity(ms_spw_freq_hz.len());
        for (s, freqs) in ms_spw_freq_hz.iter().enumerate() {
            let mut segs: Vec<Segment> = Vec::new();
            for (c, &f) in freqs.iter().enumerate() {
                let hit = t.spws.iter().enumerate().find_map(|(ts, sp)| match t.table.jones {
                    Jones::B => sp
                        .chan_freq_hz
                        .iter()
                        .zip(&sp.chan_width_hz)
                        .position(|(&cf, &w)| (cf - f).abs() <= 1e-3 * w.abs().max(1.0))
                        .map(|tc| (ts, tc)),
                    Jones::G => {
                        let lo = sp.chan_freq_hz.iter().zip(&sp.chan_width_hz).map(|(f, w)| f - w.abs() / 2.0).fold(f64::INFINITY, f64::min);
                        let hi = sp.chan_freq_hz.iter().zip(&sp.chan_width_hz).map(|(f, w)| f + w.abs() / 2.0).fold(f64::NEG_INFINITY, f64::max);
                        (f >= lo && f <= hi).then_some((ts, 0))
                    }
                });
                let (ts, tc) = hit.ok_or_else(|| {
                    shape(format!(
                        "MS spectral window {s} channel {c} ({:.6} MHz) has no {} solution channel at its frequency",
                        f / 1e6,
                        tab.jones.casa_name()
                    ))
                })?;
                match segs.last_mut() {
                    Some(g) if g.tab_spw == ts => {
                        g.ms_chan.push(c);
                        g.tab_chan.push(tc);
                    }
                    _ => segs.push(Segment { tab_spw: ts, ms_chan: vec![c], tab_chan: vec![tc] }),
                }
            }
            segments.push(segs);
        }
        let times: Vec<f64> = tab.rows.iter().map(|r| r.time_mjd_s).collect();
        let lo = times.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Ok(TableInterp {
            jones: tab.jones,
            interp,
            n_pol: tab.n_pol,
            series,
            cparam: tab.rows.iter().map(|r| r.cparam.clone()).collect(),
            flag: tab.rows.iter().map(|r| r.flag.clone()).collect(),
            times,
            segments,
            time_range_mjd_s: [lo, hi],
            path: t.path,
        })
    }

    /// Rows (with weights) to use at `t` from a time-sorted series.
    ///
    /// As CASA's CTTimeInterp1 does, times are compared as `f32` seconds since the series'
    /// first solution: a time that rounds to a solution's time is an exact match and takes that
    /// solution alone (its flag only), even under `linear`. This decides which samples a flagged
    /// neighbour flags, so it must be CASA's rule: with casatasks 6.7 the reference is the first
    /// solution (older CASA sources reference the start of its day; that predicts CASA's flags
    /// wrongly where an MS time falls within float rounding of a solution time).
    fn pick(&self, s: &[usize], t: f64) -> [(usize, f64); 2] {
        let t_ref = self.times[s[0]];
        let rel = |x: f64| (x - t_ref) as f32;
        let ft = rel(t);
        let first = s[0];
        let last = *s.last().unwrap();
        if s.len() == 1 || ft < rel(self.times[first]) {
            return [(first, 1.0), (first, 0.0)];
        }
        if ft > rel(self.times[last]) {
            return [(last, 1.0), (last, 0.0)];
        }
        let k = s.partition_point(|&r| rel(self.times[r]) < ft);
        if k < s.len() && rel(self.times[s[k]]) == ft {
            return [(s[k], 1.0), (s[k], 0.0)];
        }
        // s[k-1] < ft < s[k] (k ≥ 1, k < len: ft is inside the range and not exact).
        let (a, b) = (s[k - 1], s[k]);
        let (ta, tb) = (rel(self.times[a]) as f64, rel(self.times[b]) as f64);
        match self.interp {
            Interp::Nearest => {
                let best = if (tb - ft as f64) < (ft as f64 - ta) { b } else { a };
                [(best, 1.0), (best, 0.0)]
            }
            Interp::Linear => {
                let w = if tb > ta { (ft as f64 - ta) / (tb - ta) } else { 0.0 };
                [(a, 1.0 - w), (b, w)]
            }
        }
    }

    /// The table's gains for antenna `ant` at time `t` over the channels of MS spw `ms_spw`
    /// (`nchan` of them), for the MS polarizations 0 (X/R) and 1 (Y/L).
    pub fn eval(&self, t: f64, ms_spw: usize, ant: usize, nchan: usize) -> AntGains {
        let mut out = AntGains {
            gain: vec![Complex32::new(1.0, 0.0); nchan * 2],
            flag: vec![false; nchan * 2],
            wt: [1.0, 1.0],
        };
        let mut pow_sum = [0.0f64; 2];
        let mut pow_n = [0usize; 2];
        for seg in &self.segments[ms_spw] {
            let Some(s) = self.series.get(&(seg.tab_spw, ant)).filter(|s| !s.is_empty()) else {
                for &c in &seg.ms_chan {
                    out.flag[c * 2] = true;
                    out.flag[c * 2 + 1] = true;
                }
                continue;
            };
            let [(ra, wa), (rb, wb)] = self.pick(s, t);
            for (&mc, &tc) in seg.ms_chan.iter().zip(&seg.tab_chan) {
                for p in 0..2 {
                    let tp = if self.n_pol == 1 { 0 } else { p };
                    let i = tc * self.n_pol + tp;
                    let (ga, gb) = (self.cparam[ra][i], self.cparam[rb][i]);
                    let fl = self.flag[ra][i] || (wb > 0.0 && self.flag[rb][i]);
                    let g = if wb == 0.0 {
                        ga
                    } else {
                        let (ga, gb) = (Complex64::new(ga.re as f64, ga.im as f64), Complex64::new(gb.re as f64, gb.im as f64));
                        let amp = wa * ga.norm() + wb * gb.norm();
                        let ph = ga.arg() + wb * wrap(gb.arg() - ga.arg());
                        let z = Complex64::from_polar(amp, ph);
                        Complex32::new(z.re as f32, z.im as f32)
                    };
                    out.gain[mc * 2 + p] = g;
                    out.flag[mc * 2 + p] = fl;
                    if !fl {
                        pow_sum[p] += g.norm_sqr() as f64;
                        pow_n[p] += 1;
                    }
                }
            }
        }
        for p in 0..2 {
            if pow_n[p] > 0 {
                out.wt[p] = (pow_sum[p] / pow_n[p] as f64) as f32;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ms::caltable::read::CalSpw;
    use ms::caltable::{CalRow, CalTable};

    fn g_table(sol: &[(f64, Complex32, bool)]) -> ReadCalTable {
        let rows = sol
            .iter()
            .map(|&(t, g, f)| CalRow {
                time_mjd_s: t,
                interval_s: 0.0,
                field_id: 0,
                spw_id: 0,
                antenna1: 0,
                antenna2: 0,
                scan_number: 1,
                observation_id: 0,
                cparam: vec![g, g],
                paramerr: vec![],
                flag: vec![f, f],
                snr: vec![],
                weight: vec![],
            })
            .collect();
        ReadCalTable {
            path: "t".into(),
            table: CalTable { jones: Jones::G, ms_name: String::new(), n_pol: 2, n_chan: vec![1], rows },
            spws: vec![CalSpw { chan_freq_hz: vec![1.4e9], chan_width_hz: vec![1e8] }],
        }
    }

    fn at(t: &TableInterp, time: f64) -> (Complex32, bool, f32) {
        let g = t.eval(time, 0, 0, 2);
        (g.gain[0], g.flag[0], g.wt[0])
    }

    #[test]
    fn linear_interpolates_amplitude_and_phase_along_the_short_arc_without_extrapolating() {
        let deg = std::f32::consts::PI / 180.0;
        let tab = g_table(&[(1000.0, Complex32::from_polar(1.0, 170.0 * deg), false), (1100.0, Complex32::from_polar(2.0, -170.0 * deg), false)]);
        let t = TableInterp::new(tab, Interp::Linear, Path::new("ms"), &[vec![1.38e9, 1.42e9]], 1, None).unwrap();
        let (g, f, w) = at(&t, 1050.0);
        assert!((g.norm() - 1.5).abs() < 1e-5, "{g}");
        assert!((g.arg().abs() - 180.0 * deg).abs() < 1e-4, "{g}");
        assert!(!f);
        assert!((w - 2.25).abs() < 1e-4, "calwt factor |g|² {w}");
        // Outside the range: the first and last solutions, not an extrapolation.
        assert!((at(&t, 900.0).0.norm() - 1.0).abs() < 1e-6);
        assert!((at(&t, 1200.0).0.norm() - 2.0).abs() < 1e-6);
    }

    #[test]
    fn a_flagged_neighbour_flags_linear_results_but_not_an_exact_time_match() {
        let one = Complex32::new(1.0, 0.0);
        let tab = g_table(&[(1000.0, one, false), (1100.0, one, true), (1200.0, one, false)]);
        let t = TableInterp::new(tab.clone(), Interp::Linear, Path::new("ms"), &[vec![1.4e9]], 1, None).unwrap();
        assert!(at(&t, 1050.0).1);
        assert!(at(&t, 1150.0).1);
        assert!(!at(&t, 1000.0).1);
        assert!(!at(&t, 1200.0).1);
        // Within f32 rounding of the solution time (seconds since the first solution): exact.
        assert!(!at(&t, 1200.0 + 1e-6).1);
        let n = TableInterp::new(tab, Interp::Nearest, Path::new("ms"), &[vec![1.4e9]], 1, None).unwrap();
        assert!(!at(&n, 1040.0).1);
        assert!(at(&n, 1060.0).1);
    }

    #[test]
    fn channels_outside_every_table_window_and_other_antenna_counts_are_shape_errors() {
        let one = Complex32::new(1.0, 0.0);
        let e = TableInterp::new(g_table(&[(0.0, one, false)]), Interp::Linear, Path::new("ms"), &[vec![1.6e9]], 1, None).err().unwrap();
        assert_eq!(e.code(), "CALIB_TABLE_SHAPE");
        assert!(e.to_string().contains("1600.000000 MHz"), "{e}");
        let e = TableInterp::new(g_table(&[(0.0, one, false)]), Interp::Linear, Path::new("ms"), &[vec![1.4e9]], 117, Some(100)).err().unwrap();
        assert!(e.to_string().contains("100 antennas"), "{e}");
    }
}
