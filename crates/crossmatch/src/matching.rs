//! Matching by position: every (reference, ours) pair closer than the radius, found by a sweep
//! over our components sorted by declination (O((N + M) log M + pairs), no all-pairs loop), then
//! grouped into connected sets. A set with one reference and several of our components is a
//! source we split (a resolved source fitted by several Gaussians): one match, fluxes summed. A
//! set with several references is a blend: one match, flagged, compared with their sum.

/// A position, degrees.
#[derive(Debug, Clone, Copy)]
pub struct Pos {
    pub ra_deg: f64,
    pub dec_deg: f64,
}

/// (index in `a`, index in `b`, separation in degrees) for every pair within `radius_deg`.
pub fn pairs_within(a: &[Pos], b: &[Pos], radius_deg: f64) -> Vec<(usize, usize, f64)> {
    let mut order: Vec<usize> = (0..b.len()).collect();
    order.sort_by(|&i, &j| b[i].dec_deg.total_cmp(&b[j].dec_deg));
    let decs: Vec<f64> = order.iter().map(|&i| b[i].dec_deg).collect();
    let mut out = vec![];
    for (ia, p) in a.iter().enumerate() {
        let start = decs.partition_point(|d| *d < p.dec_deg - radius_deg);
        for (k, d) in decs.iter().enumerate().skip(start) {
            if *d > p.dec_deg + radius_deg {
                break;
            }
            let ib = order[k];
            let sep = fits::wcs::separation_deg(p.ra_deg, p.dec_deg, b[ib].ra_deg, b[ib].dec_deg);
            if sep <= radius_deg {
                out.push((ia, ib, sep));
            }
        }
    }
    out
}

/// A connected set of matched sources: indices into the reference and into our catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub refs: Vec<usize>,
    pub ours: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    OneToOne,
    /// Several of our components, one reference source.
    ManyToOne,
    /// Several reference sources within the radius of our component(s).
    Blend,
}

impl Group {
    pub fn kind(&self) -> Kind {
        match (self.refs.len(), self.ours.len()) {
            (1, 1) => Kind::OneToOne,
            (1, _) => Kind::ManyToOne,
            _ => Kind::Blend,
        }
    }
}

/// Connected components of the bipartite pair graph (union–find), ordered by their first
/// reference source; the indices inside each ascending.
pub fn groups(n_ref: usize, n_ours: usize, pairs: &[(usize, usize, f64)]) -> Vec<Group> {
    let mut parent: Vec<usize> = (0..n_ref + n_ours).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for &(r, o, _) in pairs {
        let (a, b) = (root(&mut parent, r), root(&mut parent, n_ref + o));
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut by_root: std::collections::BTreeMap<usize, Group> = Default::default();
    let mut seen = vec![false; n_ref + n_ours];
    for &(r, o, _) in pairs {
        let g = root(&mut parent, r);
        let e = by_root.entry(g).or_insert(Group { refs: vec![], ours: vec![] });
        if !std::mem::replace(&mut seen[r], true) {
            e.refs.push(r);
        }
        if !std::mem::replace(&mut seen[n_ref + o], true) {
            e.ours.push(o);
        }
    }
    // The root is the smallest node, a reference index: the map is in reference order.
    let mut out: Vec<Group> = by_root.into_values().collect();
    for g in &mut out {
        g.refs.sort_unstable();
        g.ours.sort_unstable();
    }
    out
}

/// The weighted mean position (unit vectors, so that RA wraps); equal weights when any weight
/// is not a positive number.
pub fn centroid(points: &[(Pos, f64)]) -> Pos {
    let usable = points.iter().all(|(_, w)| w.is_finite() && *w > 0.0);
    let (mut x, mut y, mut z) = (0.0, 0.0, 0.0);
    for (p, w) in points {
        let w = if usable { *w } else { 1.0 };
        let (ra, dec) = (p.ra_deg.to_radians(), p.dec_deg.to_radians());
        x += w * dec.cos() * ra.cos();
        y += w * dec.cos() * ra.sin();
        z += w * dec.sin();
    }
    Pos { ra_deg: y.atan2(x).to_degrees().rem_euclid(360.0), dec_deg: z.atan2(x.hypot(y)).to_degrees() }
}

/// (ΔRA·cos δ, ΔDec) of `p` from `reference`, arcsec (small offsets).
pub fn offset_arcsec(p: Pos, reference: Pos) -> (f64, f64) {
    let dra = (p.ra_deg - reference.ra_deg + 540.0).rem_euclid(360.0) - 180.0;
    (dra * reference.dec_deg.to_radians().cos() * 3600.0, (p.dec_deg - reference.dec_deg) * 3600.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(ra_deg: f64, dec_deg: f64) -> Pos {
        Pos { ra_deg, dec_deg }
    }

    #[test]
    fn sweep_finds_the_same_pairs_as_all_pairs() {
        // A pseudo-random field near the pole and across RA = 0, where RA differences mislead.
        let mut s = 12345u64;
        let mut rnd = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let field = |n: usize, rnd: &mut dyn FnMut() -> f64| (0..n).map(|_| pos((rnd() - 0.5) * 2.0 + 360.0 * (rnd() < 0.5) as u8 as f64, 88.5 + rnd())).collect::<Vec<_>>();
        let a = field(400, &mut rnd);
        let b = field(500, &mut rnd);
        let r = 60.0 / 3600.0;
        let mut fast: Vec<(usize, usize)> = pairs_within(&a, &b, r).into_iter().map(|(i, j, _)| (i, j)).collect();
        let mut slow = vec![];
        for (i, p) in a.iter().enumerate() {
            for (j, q) in b.iter().enumerate() {
                if fits::wcs::separation_deg(p.ra_deg, p.dec_deg, q.ra_deg, q.dec_deg) <= r {
                    slow.push((i, j));
                }
            }
        }
        fast.sort_unstable();
        assert!(slow.len() > 20, "the field should have pairs ({})", slow.len());
        assert_eq!(fast, slow);
    }

    #[test]
    fn groups_split_sources_and_blends() {
        let refs = [pos(10.0, 0.0), pos(20.0, 0.0), pos(20.0 + 8.0 / 3600.0, 0.0), pos(30.0, 0.0)];
        // Two components 4″ either side of ref 0; one component between refs 1 and 2; none near 3.
        let ours = [pos(10.0 - 4.0 / 3600.0, 0.0), pos(10.0 + 4.0 / 3600.0, 0.0), pos(20.0 + 4.0 / 3600.0, 0.0), pos(50.0, 0.0)];
        let pairs = pairs_within(&refs, &ours, 10.0 / 3600.0);
        let g = groups(refs.len(), ours.len(), &pairs);
        assert_eq!(g, vec![Group { refs: vec![0], ours: vec![0, 1] }, Group { refs: vec![1, 2], ours: vec![2] }]);
        assert_eq!((g[0].kind(), g[1].kind()), (Kind::ManyToOne, Kind::Blend));
    }

    #[test]
    fn centroid_and_offsets_wrap_at_ra_zero() {
        let c = centroid(&[(pos(359.999, 10.0), 1.0), (pos(0.001, 10.0), 3.0)]);
        assert!((c.ra_deg - 0.0005).abs() < 1e-6, "{c:?}");
        let (dra, ddec) = offset_arcsec(pos(0.0005, 60.0), pos(359.9995, 60.0));
        assert!((dra - 3.6 * 0.5).abs() < 1e-6 && ddec == 0.0, "{dra}");
    }
}
