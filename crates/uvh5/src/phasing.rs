//! Where the data are phased: legacy `phase_type` keys (UVH5 0.1 and 1.0) or the phase-centre
//! catalogue of UVH5 1.1 (JSON strings) and 1.2 (one group per centre).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Result, Uvh5Error};
use crate::h5util::{expect_len, Node};

/// One entry of a UVH5 1.1+ phase-centre catalogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseCenter {
    pub name: String,
    /// "sidereal", "unprojected", "driftscan", "ephem" or "near_field".
    pub cat_type: String,
    pub lon_rad: Option<f64>,
    pub lat_rad: Option<f64>,
    pub frame: Option<String>,
    pub epoch: Option<f64>,
}

/// What the header says about where the data are phased.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Phasing {
    /// `phase_type` "drift" in a pre-1.1 file: unprojected data (for DSA-110, fringe-stopped
    /// to the meridian, with `uvw_array` describing that phase).
    Drift,
    /// `phase_type` "phased" in a pre-1.1 file.
    Phased { name: String, ra_rad: f64, dec_rad: f64, frame: String, epoch: Option<f64> },
    /// UVH5 1.1+: a catalogue of phase centres and per-blt ids.
    Catalog {
        centers: BTreeMap<i64, PhaseCenter>,
        id_array: Vec<i64>,
        app_ra_rad: Option<Vec<f64>>,
        app_dec_rad: Option<Vec<f64>>,
        frame_pa_rad: Option<Vec<f64>>,
    },
}

impl Phasing {
    /// True when every baseline-time is unprojected (drift) data.
    pub fn is_unprojected(&self) -> bool {
        match self {
            Phasing::Drift => true,
            Phasing::Phased { .. } => false,
            Phasing::Catalog { centers, .. } => centers.values().all(|c| c.cat_type == "unprojected"),
        }
    }
}

pub(crate) fn read_phasing(h: &Node, n_blts: usize) -> Result<Phasing> {
    if h.has("phase_center_catalog") {
        let cat_group = h
            .group
            .group("phase_center_catalog")
            .map_err(|e| Uvh5Error::hdf5(h.path, "opening Header/phase_center_catalog", e))?;
        let mut centers = BTreeMap::new();
        let names = cat_group
            .member_names()
            .map_err(|e| Uvh5Error::hdf5(h.path, "listing Header/phase_center_catalog", e))?;
        for key in names {
            let prefix = format!("Header/phase_center_catalog/{key}/");
            if let Ok(g) = cat_group.group(&key) {
                // UVH5 1.2: one group per centre, keyed by its id.
                let id: i64 = key.parse().map_err(|_| Uvh5Error::Inconsistent {
                    path: h.path.to_owned(),
                    detail: format!("phase centre id '{key}' is not an integer"),
                })?;
                let n = Node { path: h.path, group: &g, prefix: &prefix };
                centers.insert(id, read_center(&n, None)?);
            } else {
                // UVH5 1.1: one JSON string per centre, keyed by its name.
                let n = Node { path: h.path, group: &cat_group, prefix: "Header/phase_center_catalog/" };
                let json = n.string(&key, "")?;
                let (id, center) = parse_center_json(h.path, &key, &json)?;
                centers.insert(id, center);
            }
        }
        let id_array = h.i64s("phase_center_id_array", "the phase centre id of each baseline-time")?;
        expect_len(h, "phase_center_id_array", id_array.len(), n_blts, "Nblts")?;
        for id in &id_array {
            if !centers.contains_key(id) {
                return Err(Uvh5Error::Inconsistent {
                    path: h.path.to_owned(),
                    detail: format!("phase_center_id_array refers to id {id}, which the catalogue lacks"),
                });
            }
        }
        let opt = |name: &str| -> Result<Option<Vec<f64>>> {
            match h.opt_dataset(name)? {
                Some(ds) => {
                    let v = h.f64s_of(&ds, name)?;
                    expect_len(h, name, v.len(), n_blts, "Nblts")?;
                    Ok(Some(v))
                }
                None => Ok(None),
            }
        };
        return Ok(Phasing::Catalog {
            centers,
            id_array,
            app_ra_rad: opt("phase_center_app_ra")?,
            app_dec_rad: opt("phase_center_app_dec")?,
            frame_pa_rad: opt("phase_center_frame_pa")?,
        });
    }
    let phase_type = h.string("phase_type", "'drift' or 'phased' (or a phase_center_catalog)")?;
    match phase_type.as_str() {
        "phased" => Ok(Phasing::Phased {
            name: h.opt_string("object_name")?.unwrap_or_else(|| "unknown".into()),
            ra_rad: h.scalar_f64("phase_center_ra", "required when phase_type is 'phased'")?,
            dec_rad: h.scalar_f64("phase_center_dec", "required when phase_type is 'phased'")?,
            frame: h.opt_string("phase_center_frame")?.unwrap_or_else(|| "icrs".into()),
            epoch: h.opt_scalar_f64("phase_center_epoch")?,
        }),
        // pyuvdata treats any other value as unprojected, with a warning.
        _ => Ok(Phasing::Drift),
    }
}

fn read_center(n: &Node, name: Option<String>) -> Result<PhaseCenter> {
    let opt_f = |k: &str| -> Result<Option<f64>> {
        match n.opt_dataset(k)? {
            Some(ds) if ds.size() == 1 && ds.shape().iter().all(|&d| d == 1) => {
                n.f64s_of(&ds, k).map(|v| v.first().copied())
            }
            // Empty datasets stand for None; arrays (e.g. ephemeris) are not used here.
            _ => Ok(None),
        }
    };
    let opt_s = |k: &str| -> Result<Option<String>> {
        match n.opt_dataset(k)? {
            Some(ds) if ds.size() == 1 => n.strings_of(&ds, k).map(|mut v| v.pop()),
            _ => Ok(None),
        }
    };
    Ok(PhaseCenter {
        name: name.or(opt_s("cat_name")?).unwrap_or_default(),
        cat_type: opt_s("cat_type")?.unwrap_or_else(|| "sidereal".into()),
        lon_rad: opt_f("cat_lon")?,
        lat_rad: opt_f("cat_lat")?,
        frame: opt_s("cat_frame")?,
        epoch: opt_f("cat_epoch")?,
    })
}

/// UVH5 1.1 stored each catalogue entry as a JSON object string.
fn parse_center_json(path: &Path, key: &str, json: &str) -> Result<(i64, PhaseCenter)> {
    let bad = |detail: String| Uvh5Error::Inconsistent { path: path.to_owned(), detail };
    let v: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| bad(format!("phase centre '{key}' is not valid JSON: {e}")))?;
    let id = v["cat_id"].as_i64().ok_or_else(|| bad(format!("phase centre '{key}' has no integer cat_id")))?;
    Ok((
        id,
        PhaseCenter {
            name: key.to_owned(),
            cat_type: v["cat_type"].as_str().unwrap_or("sidereal").to_owned(),
            lon_rad: v["cat_lon"].as_f64(),
            lat_rad: v["cat_lat"].as_f64(),
            frame: v["cat_frame"].as_str().map(str::to_owned),
            epoch: v["cat_epoch"].as_f64(),
        },
    ))
}

