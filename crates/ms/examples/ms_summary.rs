//! Print what [`ms::MsReader`] sees in a MeasurementSet (any writer's, e.g. pyuvdata's or CASA's).
//!
//! ```text
//! cargo run -p ms --example ms_summary -- PATH.ms [DATA_COLUMN]
//! ```

use std::path::PathBuf;

fn main() -> Result<(), ms::MsError> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(
        args.next()
            .expect("usage: ms_summary PATH.ms [DATA_COLUMN]"),
    );
    let column = args.next().unwrap_or_else(|| "DATA".into());
    let r = ms::MsReader::open(&path)?;
    println!(
        "{}: {} rows, MS_VERSION {:?}",
        path.display(),
        r.n_rows(),
        r.ms_version()?
    );
    println!("columns: {}", r.columns().join(" "));
    println!("{column} cell [ncorr, nchan]: {:?}", r.cell_shape(&column)?);
    println!("time range (TIME): {:?}", r.time_range()?);
    for (i, s) in r.spectral_windows()?.iter().enumerate() {
        println!(
            "spw {i} {:?}: {} chan {:.6}..{:.6} MHz, width {:.3} kHz, MEAS_FREQ_REF {}",
            s.name,
            s.chan_freq_hz.len(),
            s.chan_freq_hz.first().unwrap_or(&0.0) / 1e6,
            s.chan_freq_hz.last().unwrap_or(&0.0) / 1e6,
            s.chan_width_hz.first().unwrap_or(&0.0) / 1e3,
            s.meas_freq_ref
        );
    }
    println!("ddid -> spw: {:?}", r.ddid_to_spw()?);
    for p in r.polarizations()? {
        let names: Vec<_> = p.corr_types.iter().map(|&c| ms::corr::name(c)).collect();
        println!("polarization {names:?} products {:?}", p.corr_products);
    }
    for f in r.fields()? {
        println!(
            "field {:?} {:?} ({}) time {}",
            f.name, f.phase_dir, f.frame, f.time_mjd_s
        );
    }
    let ants = r.antennas()?;
    println!(
        "{} antennas ({} flagged), first {:?}",
        ants.len(),
        ants.iter().filter(|a| a.flagged).count(),
        ants.first().map(|a| &a.name)
    );
    for o in r.observations()? {
        println!(
            "observation {:?} observer {:?} range {:?}",
            o.telescope_name, o.observer, o.time_range_mjd_s
        );
    }
    println!("{} history rows", r.history()?.len());
    if r.n_rows() > 0 {
        let n = r.n_rows().min(1000);
        let d = r.read_rows(0..n, &column)?;
        let flagged = d.flag.iter().filter(|&&f| f).count();
        println!(
            "rows 0..{n}: {} visibilities, {flagged} flagged, weights from {:?}, first {:?}",
            d.data.len(),
            d.weight_source,
            d.data.first()
        );
    }
    Ok(())
}
