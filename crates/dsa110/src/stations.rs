//! The 117 DSA-110 stations, from `data/dsa110_stations.csv` (geodetic WGS84 coordinates).

use std::sync::OnceLock;

use crate::{SITE_ALTITUDE_M, SITE_LATITUDE_DEG, SITE_LONGITUDE_DEG};

const CSV: &str = include_str!("../../../data/dsa110_stations.csv");

#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    /// 1..=117; the UVH5 antenna number is `number − 1` and its name is `number` as text.
    pub number: u32,
    pub name: String,
    pub lat_deg: f64,
    pub lon_deg: f64,
    /// Height above the WGS84 ellipsoid. DSA-117 has none in the catalogue; like dsa110-antpos
    /// it gets the default 1182.6 m (the height of most of the array).
    pub elev_m: f64,
}

const DEFAULT_ELEVATION_M: f64 = 1182.6;

pub fn stations() -> &'static [Station] {
    static S: OnceLock<Vec<Station>> = OnceLock::new();
    S.get_or_init(|| {
        let mut out: Vec<Station> = Vec::new();
        for line in CSV.lines() {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let Some(num) = f.first().and_then(|n| n.strip_prefix("DSA-")).and_then(|n| n.parse::<u32>().ok()) else {
                continue; // header lines
            };
            let lat: f64 = f[1].parse().expect("station latitude");
            let lon: f64 = f[2].parse().expect("station longitude");
            let elev: f64 = f.get(3).and_then(|e| e.parse().ok()).unwrap_or(f64::NAN);
            out.push(Station { number: num, name: f[0].to_owned(), lat_deg: lat, lon_deg: lon, elev_m: elev });
        }
        for s in &mut out {
            if !s.elev_m.is_finite() {
                s.elev_m = DEFAULT_ELEVATION_M;
            }
        }
        out.sort_by_key(|s| s.number);
        out
    })
}

/// ECEF offsets (m) of every station from the array reference position, in station order —
/// the `antenna_positions` of a DSA-110 UVH5 file.
pub fn station_offsets_ecef_m() -> Vec<[f64; 3]> {
    let site = astro::site::geodetic_to_ecef(
        SITE_LATITUDE_DEG.to_radians(),
        SITE_LONGITUDE_DEG.to_radians(),
        SITE_ALTITUDE_M,
    );
    stations()
        .iter()
        .map(|s| {
            let p = astro::site::geodetic_to_ecef(s.lat_deg.to_radians(), s.lon_deg.to_radians(), s.elev_m);
            [p[0] - site[0], p[1] - site[1], p[2] - site[2]]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_117_stations_within_a_few_km() {
        let s = stations();
        assert_eq!(s.len(), 117);
        assert_eq!(s[0].number, 1);
        assert_eq!(s[116].number, 117);
        assert!(s.iter().all(|x| x.elev_m.is_finite()));
        for p in station_offsets_ecef_m() {
            let r = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
            assert!(r < 3000.0, "{r}");
        }
    }
}
