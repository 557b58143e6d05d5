//! Polarisations: the MS order of a file's correlations, which of them are parallel hands, and
//! which pair swaps when a baseline is conjugated.

use std::path::Path;

use crate::error::ConvertError;

/// (UVH5 polarisation number, CASA correlation type), in MS order: XX, XY, YX, YY.
const C_LINEAR: [(i32, i32); 4] = [(-5, 9), (-7, 10), (-8, 11), (-6, 12)];
/// RR, RL, LR, LL.
const C_CIRCULAR: [(i32, i32); 4] = [(-1, 5), (-3, 6), (-4, 7), (-2, 8)];

/// The output correlations of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlations {
    /// Output correlation k comes from file polarisation `perm[k]`.
    pub perm: Vec<usize>,
    /// CASA correlation types in MS order.
    pub corr_types: Vec<i32>,
}

impl Correlations {
    /// Whether output correlation k is a parallel hand (XX, YY, RR, LL): the only ones whose
    /// autocorrelations are real. XY/YX autocorrelations are complex (V_yx = V_xy*).
    pub fn parallel(&self) -> Vec<bool> {
        self.corr_types.iter().map(|c| matches!(c, 5 | 8 | 9 | 12)).collect()
    }

    /// Output indices of the two cross hands (XY, YX or RL, LR) when both are present.
    /// Conjugating a baseline swaps them: V_pq(ij) = V_qp(ji)*.
    pub fn cross_pair(&self) -> Option<(usize, usize)> {
        let at = |t: i32| self.corr_types.iter().position(|&c| c == t);
        at(10).zip(at(11)).or_else(|| at(6).zip(at(7)))
    }

    /// Whether exactly one cross hand is present (such data cannot be re-conjugated).
    pub fn lone_cross_hand(&self) -> bool {
        self.cross_pair().is_none() && self.corr_types.iter().any(|c| matches!(c, 6 | 7 | 10 | 11))
    }
}

pub fn correlations(path: &Path, pols: &[i32]) -> Result<Correlations, ConvertError> {
    let table = if pols.iter().all(|p| (-8..=-5).contains(p)) {
        &C_LINEAR
    } else if pols.iter().all(|p| (-4..=-1).contains(p)) {
        &C_CIRCULAR
    } else {
        return Err(ConvertError::Unsupported {
            path: path.to_owned(),
            detail: format!(
                "polarisations {pols:?}: only linear (XX, YY, XY, YX) or circular (RR, LL, RL, LR) correlations are written to a MeasurementSet"
            ),
        });
    };
    let mut out: Vec<(i32, usize)> = pols
        .iter()
        .enumerate()
        .map(|(i, p)| (table.iter().find(|(a, _)| a == p).map(|(_, c)| *c).expect("checked above"), i))
        .collect();
    out.sort_unstable();
    if out.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(ConvertError::Unsupported { path: path.to_owned(), detail: format!("polarisation repeated in {pols:?}") });
    }
    Ok(Correlations { perm: out.iter().map(|x| x.1).collect(), corr_types: out.iter().map(|x| x.0).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_pairs() {
        // pyuvdata's order XX, YY, XY, YX → MS order XX, XY, YX, YY.
        let c = correlations(Path::new("f"), &[-5, -6, -7, -8]).unwrap();
        assert_eq!(c.perm, vec![0, 2, 3, 1]);
        assert_eq!(c.corr_types, vec![9, 10, 11, 12]);
        assert_eq!(c.parallel(), vec![true, false, false, true]);
        assert_eq!(c.cross_pair(), Some((1, 2)));
        let c = correlations(Path::new("f"), &[-1, -2, -3, -4]).unwrap();
        assert_eq!(c.cross_pair(), Some((1, 2)));
        assert_eq!(c.parallel(), vec![true, false, false, true]);
        let c = correlations(Path::new("f"), &[-5, -6]).unwrap();
        assert_eq!((c.cross_pair(), c.lone_cross_hand()), (None, false));
        let c = correlations(Path::new("f"), &[-5, -7]).unwrap();
        assert_eq!((c.cross_pair(), c.lone_cross_hand()), (None, true));
        assert!(correlations(Path::new("f"), &[-5, -1]).is_err());
    }
}
