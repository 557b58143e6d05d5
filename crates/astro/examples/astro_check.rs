//! Prints LST, apparent coordinates and frame PA for (jd, ra_deg, dec_deg) triples on stdin,
//! for comparison against pyuvdata (see test/oracle).
use astro::*;
use std::io::BufRead;
fn main() {
    let site = Site::from_geodetic_deg(37.233387, -118.283405, 1188.05);
    let table = EopTable::get();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let v: Vec<f64> = line.split_whitespace().map(|x| x.parse().unwrap()).collect();
        let (jd, ra, dec) = (v[0], v[1].to_radians(), v[2].to_radians());
        let lst = lst_rad(jd, &site, table);
        let app = icrs_to_app(ra, dec, jd, &site, table);
        let pa = frame_pos_angle(app, jd, &site, table);
        let back = app_to_icrs(app, jd, &site, table);
        println!("{:.17e} {:.17e} {:.17e} {:.17e} {:.17e} {:.17e}", lst, app.ra_rad, app.dec_rad, pa, back.0, back.1);
    }
}
