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

use std::collections::BTreeMap;

use phasing::InputPhase;
use serde::Serialize;
use uvh5::{ExtraValue, Header};

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
    fringe_stop_keywords(&h.extra_keywords)
}

fn fringe_stop_keywords(k: &BTreeMap<String, ExtraValue>) -> Option<(f64, f64)> {
    let dec = k.get("phase_center_dec")?.as_f64()?;
    let epoch_is_hadec = k.get("phase_center_epoch").and_then(|v| v.as_str()).is_some_and(|s| s.trim() == "HADEC");
    let ha = k.get("ha_phase_center").and_then(|v| v.as_f64()).unwrap_or(0.0);
    (epoch_is_hadec || k.contains_key("ha_phase_center")).then_some((ha, dec))
}

/// Why a file counts as DSA-110 data, if it does: its telescope/instrument names (the
/// correlator writes telescope "OVRO_MMA", instrument "DSA") or its fringe-stopping keywords.
fn evidence(name: &str, instrument: Option<&str>, extra: &BTreeMap<String, ExtraValue>) -> Option<String> {
    let name = name.trim();
    let instrument = instrument.map(str::trim).unwrap_or("");
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
    if fringe_stop_keywords(extra).is_some() {
        why.push("extra_keywords phase_center_dec (fringe-stopped in HADEC)".into());
    }
    (!why.is_empty()).then(|| why.join(", "))
}

pub fn decide(h: &Header, choice: InputPhaseChoice) -> InputPhaseDecision {
    let unprojected = match &h.phasing {
        uvh5::Phasing::Drift => true,
        uvh5::Phasing::Phased { .. } => false,
        uvh5::Phasing::Catalog { centers, .. } => centers.values().any(|c| c.cat_type == "unprojected"),
    };
    decide_from(unprojected, &h.telescope.name, h.telescope.instrument.as_deref(), &h.extra_keywords, choice)
}

/// [`decide`] from the header fields it reads: whether any row is unprojected, and who wrote it.
fn decide_from(unprojected: bool, telescope: &str, instrument: Option<&str>, extra: &BTreeMap<String, ExtraValue>, choice: InputPhaseChoice) -> InputPhaseDecision {
    match choice {
        InputPhaseChoice::Force(phase) => InputPhaseDecision { phase, auto: false, reason: "set by --input-phase".into() },
        InputPhaseChoice::Auto => {
            if !unprojected {
                return InputPhaseDecision {
                    phase: InputPhase::StoredUvw,
                    auto: true,
                    reason: "the data are phased: the stored uvw describe their phase (both readings agree)".into(),
                };
            }
            match evidence(telescope, instrument, extra) {
                Some(why) => InputPhaseDecision {
                    phase: InputPhase::StoredUvw,
                    auto: true,
                    reason: format!("DSA-110 data ({why}): the correlator fringe-stops to the meridian and the stored uvw describe that phase"),
                },
                None => InputPhaseDecision {
                    phase: InputPhase::Zero,
                    auto: true,
                    reason: format!("drift data from {}: read as pyuvdata does (no phase in the data)", if telescope.is_empty() { "an unnamed telescope" } else { telescope }),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords(pairs: &[(&str, ExtraValue)]) -> BTreeMap<String, ExtraValue> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn auto_reads_dsa110_as_stored_uvw_and_others_as_zero() {
        let none = BTreeMap::new();
        let dsa_kw = keywords(&[
            ("phase_center_dec", ExtraValue::Float(0.95)),
            ("ha_phase_center", ExtraValue::Float(0.0)),
            ("phase_center_epoch", ExtraValue::Str("HADEC".into())),
        ]);
        let auto = |u, t, i, k| decide_from(u, t, i, k, InputPhaseChoice::Auto);
        // The correlator's own header.
        let d = auto(true, "OVRO_MMA", Some("DSA"), &dsa_kw);
        assert_eq!((d.phase, d.auto), (InputPhase::StoredUvw, true));
        assert!(d.reason.starts_with("DSA-110 data (telescope OVRO_MMA, instrument DSA, extra_keywords phase_center_dec"), "{}", d.reason);
        // Any one piece of evidence suffices.
        assert_eq!(auto(true, "DSA-110", None, &none).phase, InputPhase::StoredUvw);
        assert_eq!(auto(true, "TESTARRAY", Some("TEST"), &dsa_kw).phase, InputPhase::StoredUvw);
        // A declination alone is not the DSA-110 fringe-stop record; nor is another DSA.
        let dec_only = keywords(&[("phase_center_dec", ExtraValue::Float(0.95))]);
        assert_eq!(auto(true, "HERA", Some("HERA"), &dec_only).phase, InputPhase::Zero);
        assert_eq!(auto(true, "DSA-2000", None, &none).phase, InputPhase::Zero);
        let h = auto(true, "HERA", Some("HERA"), &none);
        assert_eq!(h.phase, InputPhase::Zero);
        assert_eq!(h.reason, "drift data from HERA: read as pyuvdata does (no phase in the data)");
        // Phased data: both readings agree, reported as stored-uvw.
        assert_eq!(auto(false, "HERA", None, &none).phase, InputPhase::StoredUvw);
        // Forced.
        let f = decide_from(true, "OVRO_MMA", Some("DSA"), &dsa_kw, InputPhaseChoice::Force(InputPhase::Zero));
        assert_eq!((f.phase, f.auto), (InputPhase::Zero, false));
    }
}
