//! What a MeasurementSet holds apart from its visibilities: the contents of every subtable.

use std::cmp::Ordering;

use crate::MsError;

/// Correlation type codes of the MS POLARIZATION table (casacore's `Stokes::StokesTypes`).
pub mod corr {
    pub const RR: i32 = 5;
    pub const RL: i32 = 6;
    pub const LR: i32 = 7;
    pub const LL: i32 = 8;
    pub const XX: i32 = 9;
    pub const XY: i32 = 10;
    pub const YX: i32 = 11;
    pub const YY: i32 = 12;

    /// Name of a correlation code ("XX", …), or "?".
    pub fn name(code: i32) -> &'static str {
        match code {
            RR => "RR",
            RL => "RL",
            LR => "LR",
            LL => "LL",
            XX => "XX",
            XY => "XY",
            YX => "YX",
            YY => "YY",
            _ => "?",
        }
    }

    /// The receptor pair (CORR_PRODUCT) of a correlation: XX = `[0,0]`, XY = `[0,1]`, YX = `[1,0]`,
    /// YY = `[1,1]`, and the same for circular feeds.
    pub fn product(code: i32) -> Option<[i32; 2]> {
        match code {
            RR | XX => Some([0, 0]),
            RL | XY => Some([0, 1]),
            LR | YX => Some([1, 0]),
            LL | YY => Some([1, 1]),
            _ => None,
        }
    }
}

/// Celestial frame of FIELD/SOURCE directions and of UVW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DirectionFrame {
    J2000,
    /// contimg's default (DESIGN.md §3).
    #[default]
    Icrs,
}

impl DirectionFrame {
    /// casacore's reference name (`MEASINFO.Ref`).
    pub fn casa_name(self) -> &'static str {
        match self {
            DirectionFrame::J2000 => "J2000",
            DirectionFrame::Icrs => "ICRS",
        }
    }

    pub fn from_casa_name(s: &str) -> Option<DirectionFrame> {
        match s {
            "J2000" => Some(DirectionFrame::J2000),
            "ICRS" => Some(DirectionFrame::Icrs),
            _ => None,
        }
    }
}

/// One ANTENNA row. Row index = antenna number used by ANTENNA1/ANTENNA2.
#[derive(Debug, Clone, PartialEq)]
pub struct AntennaSpec {
    pub name: String,
    pub station: String,
    /// Absolute ITRF position, metres.
    pub position_itrf_m: [f64; 3],
    /// Axes offset, metres.
    pub offset_m: [f64; 3],
    pub dish_diameter_m: f64,
    /// "ALT-AZ", "EQUATORIAL", …
    pub mount: String,
    /// "GROUND-BASED" or "SPACE-BASED".
    pub antenna_type: String,
    /// Inactive antennas stay in the table (numbers stay stable) with FLAG_ROW set.
    pub flagged: bool,
}

impl AntennaSpec {
    /// A ground-based ALT-AZ antenna with no axis offset.
    pub fn new(
        name: impl Into<String>,
        station: impl Into<String>,
        position_itrf_m: [f64; 3],
        dish_diameter_m: f64,
    ) -> Self {
        AntennaSpec {
            name: name.into(),
            station: station.into(),
            position_itrf_m,
            offset_m: [0.0; 3],
            dish_diameter_m,
            mount: "ALT-AZ".into(),
            antenna_type: "GROUND-BASED".into(),
            flagged: false,
        }
    }
}

/// One SPECTRAL_WINDOW (and DATA_DESCRIPTION) row. Frequencies are TOPO, ascending, with
/// positive widths (DESIGN.md §3): the writer rejects anything else.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpwSpec {
    pub name: String,
    pub chan_freq_hz: Vec<f64>,
    pub chan_width_hz: Vec<f64>,
    /// REF_FREQUENCY; `None` = the first channel's frequency (pyuvdata's and importuvfits'
    /// convention).
    pub ref_frequency_hz: Option<f64>,
}

/// One FIELD (and SOURCE) row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldSpec {
    pub name: String,
    pub code: String,
    /// Phase (= delay = reference) centre in the spec's [`DirectionFrame`], radians.
    pub ra_rad: f64,
    pub dec_rad: f64,
    /// Epoch the direction refers to (FIELD TIME), MJD seconds UTC.
    pub time_mjd_s: f64,
}

/// The OBSERVATION row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservationSpec {
    pub telescope_name: String,
    pub observer: String,
    pub project: String,
    pub schedule: Vec<String>,
    pub log: Vec<String>,
    /// MJD seconds UTC.
    pub release_date_mjd_s: f64,
    /// `None`: the writer fills TIME_RANGE from the rows written (first start .. last end).
    pub time_range_mjd_s: Option<[f64; 2]>,
    /// Array reference position (ITRF, m). MS v2 has no column for it; when given it is written
    /// to the non-standard OBSERVATION column TELESCOPE_LOCATION that pyuvdata reads (otherwise
    /// pyuvdata falls back to its list of known telescopes or to the mean antenna position).
    pub telescope_location_itrf_m: Option<[f64; 3]>,
}

/// One HISTORY row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistoryEntry {
    pub time_mjd_s: f64,
    pub message: String,
    /// "NORMAL", "WARN", "SEVERE"… (empty = "NORMAL").
    pub priority: String,
    /// Where the message comes from (e.g. "contimg 0.1.0").
    pub origin: String,
    pub application: String,
    /// The command line, one element per argument.
    pub cli_command: Vec<String>,
    /// Parameters as "key=value".
    pub app_params: Vec<String>,
}

/// Everything [`crate::MsWriter::create`] needs besides the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct MsSpec {
    pub antennas: Vec<AntennaSpec>,
    /// All SPWs must have the same number of channels: one MS has one cell shape.
    pub spws: Vec<SpwSpec>,
    /// Correlation codes in MS order (see [`corr`]): ascending, all linear or all circular.
    pub corr_types: Vec<i32>,
    pub fields: Vec<FieldSpec>,
    pub observation: ObservationSpec,
    pub history: Vec<HistoryEntry>,
    /// Also create MODEL_DATA (zeros) and CORRECTED_DATA (= DATA).
    pub imaging_columns: bool,
    pub direction_frame: DirectionFrame,
    /// Expected number of rows (0 = unknown); caps the tile height so small MSes stay small.
    pub rows_hint: usize,
    /// FEED RECEPTOR_ANGLE of the two receptors (X, Y or R, L), radians.
    pub receptor_angle_rad: [f64; 2],
}

impl Default for MsSpec {
    fn default() -> Self {
        MsSpec {
            antennas: Vec::new(),
            spws: Vec::new(),
            corr_types: Vec::new(),
            fields: Vec::new(),
            observation: ObservationSpec::default(),
            history: Vec::new(),
            imaging_columns: false,
            direction_frame: DirectionFrame::default(),
            rows_hint: 0,
            receptor_angle_rad: [0.0, std::f64::consts::FRAC_PI_2],
        }
    }
}

impl MsSpec {
    /// Channels per SPW (the same for all).
    pub fn nchan(&self) -> usize {
        self.spws.first().map_or(0, |s| s.chan_freq_hz.len())
    }

    pub fn ncorr(&self) -> usize {
        self.corr_types.len()
    }

    /// Feed receptor types implied by the correlations: ["X","Y"] or ["R","L"].
    pub fn feed_types(&self) -> [&'static str; 2] {
        if self
            .corr_types
            .iter()
            .all(|c| (corr::RR..=corr::LL).contains(c))
            && !self.corr_types.is_empty()
        {
            ["R", "L"]
        } else {
            ["X", "Y"]
        }
    }

    /// Check everything that would make a wrong or unreadable MS.
    pub fn validate(&self) -> Result<(), MsError> {
        let bad = |m: String| Err(MsError::InvalidSpec(m));
        if self.antennas.is_empty() {
            return bad("no antennas".into());
        }
        if self.spws.is_empty() {
            return bad("no spectral windows".into());
        }
        if self.fields.is_empty() {
            return bad("no fields".into());
        }
        let nchan = self.nchan();
        if nchan == 0 {
            return bad("spectral window 0 has no channels".into());
        }
        for (i, s) in self.spws.iter().enumerate() {
            if s.chan_freq_hz.len() != nchan {
                return bad(format!(
                    "spectral window {i} has {} channels, window 0 has {nchan}: one MS holds one cell shape",
                    s.chan_freq_hz.len()
                ));
            }
            if s.chan_width_hz.len() != nchan {
                return bad(format!(
                    "spectral window {i}: {} channel widths for {nchan} channels",
                    s.chan_width_hz.len()
                ));
            }
            if let Some(k) = s
                .chan_freq_hz
                .windows(2)
                .position(|w| w[1].partial_cmp(&w[0]) != Some(Ordering::Greater))
            {
                return bad(format!(
                    "spectral window {i}: frequencies must ascend (channel {} -> {})",
                    k,
                    k + 1
                ));
            }
            if let Some(k) = s
                .chan_width_hz
                .iter()
                .position(|w| !(*w > 0.0 && w.is_finite()))
            {
                return bad(format!(
                    "spectral window {i}: channel {k} width must be positive"
                ));
            }
            if s.chan_freq_hz.iter().any(|f| !f.is_finite()) {
                return bad(format!("spectral window {i}: non-finite frequency"));
            }
        }
        let nc = self.corr_types.len();
        if !(1..=4).contains(&nc) {
            return bad(format!("{nc} correlations; 1 to 4 are possible"));
        }
        let linear = self
            .corr_types
            .iter()
            .all(|c| (corr::XX..=corr::YY).contains(c));
        let circular = self
            .corr_types
            .iter()
            .all(|c| (corr::RR..=corr::LL).contains(c));
        if !linear && !circular {
            return bad(format!(
                "correlation types {:?} must all be linear (XX=9..YY=12) or all circular (RR=5..LL=8); Stokes codes are not \
                 written (a single polarization is never labelled Stokes I)",
                self.corr_types
            ));
        }
        if self.corr_types.windows(2).any(|w| w[1] <= w[0]) {
            return bad(format!(
                "correlation types {:?} must be in MS order (XX, XY, YX, YY), without repeats",
                self.corr_types
            ));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if !f.ra_rad.is_finite()
                || !f.dec_rad.is_finite()
                || f.dec_rad.abs() > std::f64::consts::FRAC_PI_2 + 1e-12
            {
                return bad(format!(
                    "field {i} ({}): invalid direction ({}, {})",
                    f.name, f.ra_rad, f.dec_rad
                ));
            }
        }
        for (i, a) in self.antennas.iter().enumerate() {
            if a.position_itrf_m.iter().any(|v| !v.is_finite()) {
                return bad(format!("antenna {i} ({}): non-finite position", a.name));
            }
        }
        if let Some([t0, t1]) = self.observation.time_range_mjd_s {
            if matches!(t1.partial_cmp(&t0), None | Some(Ordering::Less)) {
                return bad(format!("observation time range [{t0}, {t1}] is reversed"));
            }
        }
        Ok(())
    }
}
