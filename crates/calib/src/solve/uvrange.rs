//! The subset of CASA's `uvrange` syntax that calibration uses: `">100m"`, `"<5km"`,
//! `"0.1~5klambda"`, `"100~2000"` (metres when no unit), with units `m`, `km`, `lambda`,
//! `klambda`, `Mlambda`. Distances are `sqrt(u² + v²)`, as CASA's selection uses.

use crate::CalibError;

const C_M_S: f64 = 299_792_458.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UvUnit {
    Metres,
    Wavelengths,
}

/// Inclusive bounds in `unit` (metres or wavelengths).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UvRange {
    pub min: f64,
    pub max: f64,
    pub unit: UvUnit,
}

impl UvRange {
    pub const ALL: UvRange = UvRange { min: 0.0, max: f64::INFINITY, unit: UvUnit::Metres };

    pub fn parse(text: &str) -> Result<UvRange, CalibError> {
        let bad = |why: &str| CalibError::InvalidArgument(format!("uvrange {text:?}: {why} (examples: \">100m\", \"0.1~5klambda\")"));
        let t = text.trim();
        if t.is_empty() {
            return Ok(UvRange::ALL);
        }
        let lower = t.to_ascii_lowercase();
        let (scale, unit, body) = [("mlambda", 1e6, UvUnit::Wavelengths), ("klambda", 1e3, UvUnit::Wavelengths), ("lambda", 1.0, UvUnit::Wavelengths), ("km", 1e3, UvUnit::Metres), ("m", 1.0, UvUnit::Metres)]
            .iter()
            .find(|(suffix, _, _)| lower.ends_with(suffix))
            .map(|&(suffix, s, u)| (s, u, &t[..t.len() - suffix.len()]))
            .unwrap_or((1.0, UvUnit::Metres, t));
        let num = |s: &str| -> Result<f64, CalibError> {
            let v: f64 = s.trim().parse().map_err(|_| bad(&format!("{:?} is not a number", s.trim())))?;
            if !v.is_finite() || v < 0.0 {
                return Err(bad("distances must be finite and non-negative"));
            }
            Ok(v * scale)
        };
        let body = body.trim();
        let (min, max) = if let Some(rest) = body.strip_prefix('>') {
            (num(rest.trim_start_matches('='))?, f64::INFINITY)
        } else if let Some(rest) = body.strip_prefix('<') {
            (0.0, num(rest.trim_start_matches('='))?)
        } else if let Some((a, b)) = body.split_once('~') {
            (num(a)?, num(b)?)
        } else {
            return Err(bad("expected >X, <X or X~Y"));
        };
        if min > max {
            return Err(bad("the lower bound exceeds the upper"));
        }
        Ok(UvRange { min, max, unit })
    }

    pub fn is_all(&self) -> bool {
        self.min == 0.0 && self.max == f64::INFINITY
    }

    /// Whether a baseline of projected length `uv_m` is selected at `freq_hz`.
    pub fn accepts(&self, uv_m: f64, freq_hz: f64) -> bool {
        let d = match self.unit {
            UvUnit::Metres => uv_m,
            UvUnit::Wavelengths => uv_m * freq_hz / C_M_S,
        };
        d >= self.min && d <= self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_casa_forms() {
        assert_eq!(UvRange::parse(">100m").unwrap(), UvRange { min: 100.0, max: f64::INFINITY, unit: UvUnit::Metres });
        assert_eq!(UvRange::parse("<5km").unwrap(), UvRange { min: 0.0, max: 5000.0, unit: UvUnit::Metres });
        assert_eq!(UvRange::parse("0.1~5klambda").unwrap(), UvRange { min: 100.0, max: 5000.0, unit: UvUnit::Wavelengths });
        assert_eq!(UvRange::parse("100~2000").unwrap(), UvRange { min: 100.0, max: 2000.0, unit: UvUnit::Metres });
        assert!(UvRange::parse("").unwrap().is_all());
        for bad in ["abc", ">x m", "5~1m", "10", "-5~3m"] {
            let e = UvRange::parse(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_ARGUMENT", "{bad}");
        }
        let r = UvRange::parse(">1klambda").unwrap();
        assert!(r.accepts(300.0, 1.4e9)); // 1401 λ
        assert!(!r.accepts(200.0, 1.4e9)); // 934 λ
    }
}
