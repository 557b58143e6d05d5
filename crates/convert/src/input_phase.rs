//! Which phase the input visibilities already carry (`w_old` of the rotation), decided from
//! what the file says about itself.
//!
//! A file labelled drift/unprojected means two different things in practice. DSA-110's
//! correlator fringe-stops to the meridian and writes uvw toward it, yet labels the data
//! "drift": the stored uvw_array w describes the phase in the data. Every other writer (HERA,
//! MWA, pyuvsim) means what pyuvdata means: no phase beyond the geometry, w_old = 0. Reading a
//! simulator's drift file the DSA-110 way is wrong by `exp(−2πi w ν/c)` (26% of the peak on a
//! pyuvsim file), and reading a DSA-110 file pyuvdata's way is wrong by the same amount the
//! other way — so the default looks at the file.

use phasing::InputPhase;
use serde::Serialize;
use uvh5::Header;

/// `--input-phase`: decide from the file, or force one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPhaseChoice {
    Auto,
    Force(InputPhase),
}

/// The reading used and why, for the summary and `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputPhaseDecision {
    pub phase: InputPhase,
    /// True when `--input-phase auto` chose it.
    pub auto: bool,
    pub reason: String,
}

/// The DSA-110 correlator's fringe-stopping centre from `extra_keywords`: (HA, Dec) of date,
/// radians, when the file says it was fringe-stopped in HADEC.
pub fn dsa_fringe_stop_centre(h: &Header) -> Option<(f64, f64)> {
    let k = &h.extra_keywords;
    let dec = k.get("phase_center_dec")?.as_f64()?;
    let epoch_is_hadec = k.get("phase_center_epoch").and_then(|v| v.as_str()).is_some_and(|s| s.trim() == "HADEC");
    let ha = k.get("ha_phase_center").and_then(|v| v.as_f64()).unwrap_or(0.0);
    (epoch_is_hadec || k.contains_key("ha_phase_center")).then_some((ha, dec))
}

/// Why a file counts as DSA-110 data, if it does: its telescope/instrument names (the
/// correlator writes telescope "OVRO_MMA", instrument "DSA") or its fringe-stopping keywords.
pub fn dsa110_evidence(h: &Header) -> Option<String> {
    let name = h.telescope.name.trim();
    let instrument = h.telescope.instrument.as_deref().map(str::trim).unwrap_or("");
    let mut why = Vec::new();
    let dsa_name = |s: &str| {
        let s = s.to_ascii_uppercase().replace(['-', '_', ' '], "");
        s == "DSA" || s.starts_with("DSA110")
    };
    if name == dsa110::TELESCOPE_NAME || dsa_name(name) {
        why.push(format!("telescope {name}"));
    }
    if instrument == dsa110::INSTRUMENT || dsa_name(instrument) {
        why.push(format!("instrument {instrument}"));
    }
    if h.extra_keywords.contains_key("phase_center_dec") && dsa_fringe_stop_centre(h).is_some() {
        why.push("extra_keywords phase_center_dec (fringe-stopped in HADEC)".into());
    }
    (!why.is_empty()).then(|| why.join(", "))
}

pub fn decide(h: &Header, choice: InputPhaseChoice) -> InputPhaseDecision {
    match choice {
        InputPhaseChoice::Force(phase) => InputPhaseDecision { phase, auto: false, reason: "set by --input-phase".into() },
        InputPhaseChoice::Auto => {
            let unprojected = match &h.phasing {
                uvh5::Phasing::Drift => true,
                uvh5::Phasing::Phased { .. } => false,
                uvh5::Phasing::Catalog { centers, .. } => centers.values().any(|c| c.cat_type == "unprojected"),
            };
            if !unprojected {
                return InputPhaseDecision {
                    phase: InputPhase::StoredUvw,
                    auto: true,
                    reason: "the data are phased: the stored uvw describe their phase (both readings agree)".into(),
                };
            }
            match dsa110_evidence(h) {
                Some(why) => InputPhaseDecision {
                    phase: InputPhase::StoredUvw,
                    auto: true,
                    reason: format!("DSA-110 data ({why}): the correlator fringe-stops to the meridian and the stored uvw describe that phase"),
                },
                None => InputPhaseDecision {
                    phase: InputPhase::Zero,
                    auto: true,
                    reason: format!("drift data from {}: read as pyuvdata does (no phase in the data)", if h.telescope.name.is_empty() { "an unnamed telescope" } else { &h.telescope.name }),
                },
            }
        }
    }
}
