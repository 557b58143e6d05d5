//! Subband file names: `YYYY-MM-DDTHH:MM:SS_sbNN.hdf5`, written as `…_incomplete.hdf5` first.

pub fn subband_file_name(timestamp: &str, subband: usize) -> String {
    format!("{timestamp}_sb{subband:02}.hdf5")
}

pub fn incomplete_file_name(timestamp: &str, subband: usize) -> String {
    format!("{timestamp}_sb{subband:02}_incomplete.hdf5")
}
