//! Small typed accessors over hdf5-metno that turn every failure into a `Uvh5Error`
//! naming the file and the dataset.

use std::path::Path;

use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::{Dataset, Group};

use crate::error::{Result, Uvh5Error};


pub(crate) struct Node<'a> {
    pub path: &'a Path,
    pub group: &'a Group,
    /// Prefix used in messages, e.g. "Header/".
    pub prefix: &'a str,
}

impl<'a> Node<'a> {
    pub fn has(&self, name: &str) -> bool {
        self.group.link_exists(name)
    }

    pub fn qualified(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    pub fn dataset(&self, name: &str, expected: &str) -> Result<Dataset> {
        if !self.has(name) {
            return Err(Uvh5Error::MissingKey {
                path: self.path.to_owned(),
                name: self.qualified(name),
                expected: expected.to_owned(),
            });
        }
        self.group
            .dataset(name)
            .map_err(|e| Uvh5Error::hdf5(self.path, format!("opening {}", self.qualified(name)), e))
    }

    pub fn opt_dataset(&self, name: &str) -> Result<Option<Dataset>> {
        if !self.has(name) {
            return Ok(None);
        }
        self.dataset(name, "").map(Some)
    }

    fn descriptor(&self, ds: &Dataset, name: &str) -> Result<TypeDescriptor> {
        ds.dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(|e| Uvh5Error::hdf5(self.path, format!("reading the type of {}", self.qualified(name)), e))
    }

    fn bad_type(&self, name: &str, got: &TypeDescriptor, expected: &str) -> Uvh5Error {
        Uvh5Error::UnsupportedDtype {
            path: self.path.to_owned(),
            name: self.qualified(name),
            got: describe_type(got),
            expected: expected.to_owned(),
        }
    }

    /// Refuses, before reading, a dataset whose shape claims far more bytes than the file
    /// stores for it: a header array declared (1e12,) with no data written would otherwise
    /// make libhdf5 allocate and fill terabytes of fill values. Unfiltered datasets must be
    /// fully stored; filtered ones may not exceed deflate's best ratio (1032:1).
    pub fn check_stored(&self, ds: &Dataset, name: &str) -> Result<()> {
        const SMALL_BYTES: u64 = 64 << 10;
        const MAX_COMPRESSION_RATIO: u64 = 1100;
        let shape = ds.shape();
        let elem = ds.dtype().map(|t| t.size()).unwrap_or(1) as u64;
        let logical = shape.iter().try_fold(elem, |acc, &d| acc.checked_mul(d as u64));
        let too_big = |logical: String, stored: u64| Uvh5Error::Truncated {
            path: self.path.to_owned(),
            detail: format!(
                "{} has shape {shape:?} ({logical} bytes) but the file stores only {stored} bytes of it",
                self.qualified(name)
            ),
        };
        let Some(logical) = logical else { return Err(too_big("more than 2^64".into(), ds.storage_size())) };
        if logical <= SMALL_BYTES {
            return Ok(());
        }
        let stored = ds.storage_size();
        let ok = if ds.filters().is_empty() { stored >= logical } else { logical / MAX_COMPRESSION_RATIO <= stored };
        if ok { Ok(()) } else { Err(too_big(logical.to_string(), stored)) }
    }

    /// Reads a numeric dataset of any shape as a flat f64 vector.
    pub fn f64s(&self, name: &str, expected: &str) -> Result<Vec<f64>> {
        let ds = self.dataset(name, expected)?;
        self.f64s_of(&ds, name)
    }

    pub fn f64s_of(&self, ds: &Dataset, name: &str) -> Result<Vec<f64>> {
        let td = self.descriptor(ds, name)?;
        match td {
            TypeDescriptor::Float(_)
            | TypeDescriptor::Integer(_)
            | TypeDescriptor::Unsigned(_)
            | TypeDescriptor::Boolean => {}
            other => return Err(self.bad_type(name, &other, "a numeric type")),
        }
        self.check_stored(ds, name)?;
        if ds.is_scalar() {
            return ds
                .read_scalar::<f64>()
                .map(|v| vec![v])
                .map_err(|e| Uvh5Error::hdf5(self.path, format!("reading {}", self.qualified(name)), e));
        }
        ds.read_raw::<f64>()
            .map_err(|e| Uvh5Error::hdf5(self.path, format!("reading {}", self.qualified(name)), e))
    }

    pub fn i64s(&self, name: &str, expected: &str) -> Result<Vec<i64>> {
        let ds = self.dataset(name, expected)?;
        self.i64s_of(&ds, name)
    }

    pub fn i64s_of(&self, ds: &Dataset, name: &str) -> Result<Vec<i64>> {
        let td = self.descriptor(ds, name)?;
        match td {
            TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Boolean => {}
            TypeDescriptor::Float(_) => {
                // Some writers store integral values as floats; accept them only if integral.
                let vals = self.f64s_of(ds, name)?;
                if vals.iter().all(|v| v.fract() == 0.0 && v.is_finite()) {
                    return Ok(vals.into_iter().map(|v| v as i64).collect());
                }
                return Err(self.bad_type(name, &td, "integers"));
            }
            other => return Err(self.bad_type(name, &other, "integers")),
        }
        self.check_stored(ds, name)?;
        if ds.is_scalar() {
            return ds
                .read_scalar::<i64>()
                .map(|v| vec![v])
                .map_err(|e| Uvh5Error::hdf5(self.path, format!("reading {}", self.qualified(name)), e));
        }
        ds.read_raw::<i64>()
            .map_err(|e| Uvh5Error::hdf5(self.path, format!("reading {}", self.qualified(name)), e))
    }

    pub fn scalar_i64(&self, name: &str, expected: &str) -> Result<i64> {
        let v = self.i64s(name, expected)?;
        self.one(name, v)
    }

    pub fn scalar_f64(&self, name: &str, expected: &str) -> Result<f64> {
        let v = self.f64s(name, expected)?;
        self.one(name, v)
    }

    pub fn opt_scalar_f64(&self, name: &str) -> Result<Option<f64>> {
        if !self.has(name) {
            return Ok(None);
        }
        self.scalar_f64(name, "").map(Some)
    }

    fn one<T: Copy>(&self, name: &str, v: Vec<T>) -> Result<T> {
        if v.len() != 1 {
            return Err(Uvh5Error::BadShape {
                path: self.path.to_owned(),
                name: self.qualified(name),
                expected: "a scalar".into(),
                got: vec![v.len()],
            });
        }
        Ok(v[0])
    }

    /// Reads a string dataset: fixed-length or variable-length, scalar.
    pub fn string(&self, name: &str, expected: &str) -> Result<String> {
        let ds = self.dataset(name, expected)?;
        let mut v = self.strings_of(&ds, name)?;
        if v.len() != 1 {
            return Err(Uvh5Error::BadShape {
                path: self.path.to_owned(),
                name: self.qualified(name),
                expected: "a scalar string".into(),
                got: vec![v.len()],
            });
        }
        Ok(v.remove(0))
    }

    pub fn opt_string(&self, name: &str) -> Result<Option<String>> {
        if !self.has(name) {
            return Ok(None);
        }
        self.string(name, "").map(Some)
    }

    pub fn strings(&self, name: &str, expected: &str) -> Result<Vec<String>> {
        let ds = self.dataset(name, expected)?;
        self.strings_of(&ds, name)
    }

    pub fn strings_of(&self, ds: &Dataset, name: &str) -> Result<Vec<String>> {
        let td = self.descriptor(ds, name)?;
        let err = |e: hdf5::Error| Uvh5Error::hdf5(self.path, format!("reading {}", self.qualified(name)), e);
        self.check_stored(ds, name)?;
        match td {
            // A fixed-length string type of 0 bytes is no string type (libhdf5 creates none;
            // found by fuzzing: fuzz/regressions/uvh5_file/fixed-string-of-0-bytes-*).
            TypeDescriptor::FixedAscii(0) | TypeDescriptor::FixedUnicode(0) => Err(self.bad_type(name, &td, "a string")),
            TypeDescriptor::FixedAscii(n) | TypeDescriptor::FixedUnicode(n) => {
                let count = ds.size().max(1);
                let mut buf = vec![0u8; n * count];
                read_raw_bytes(ds, &mut buf).map_err(err)?;
                Ok(buf
                    .chunks(n)
                    .map(|c| {
                        let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                        String::from_utf8_lossy(&c[..end]).trim_end().to_string()
                    })
                    .collect())
            }
            TypeDescriptor::VarLenAscii | TypeDescriptor::VarLenUnicode => {
                self.check_vlen_heap(ds, name)?;
                self.vlen_strings(ds, &td).map_err(err)
            }
            TypeDescriptor::Integer(IntSize::U1) | TypeDescriptor::Unsigned(IntSize::U1) => {
                // np.void / raw bytes arrays occasionally hold text.
                let v: Vec<u8> = ds.read_raw().map_err(err)?;
                Ok(vec![String::from_utf8_lossy(&v).trim_end_matches('\0').to_string()])
            }
            other => Err(self.bad_type(name, &other, "a string")),
        }
    }

    /// See `vlen`: a corrupt global heap must not reach libhdf5's reader, which crashes on it.
    fn check_vlen_heap(&self, ds: &Dataset, name: &str) -> Result<()> {
        let Some(offset) = ds.offset() else { return Ok(()) }; // not contiguous: unchecked
        let sb = crate::probe::probe(self.path)?;
        let file = std::fs::File::open(self.path).map_err(|e| Uvh5Error::io(self.path, "open", e))?;
        crate::vlen::check_refs(&file, sb.base_addr, sb.size_of_offsets as usize, sb.size_of_lengths as usize, offset, ds.size())
            .map_err(|detail| Uvh5Error::Hdf5 {
                path: self.path.to_owned(),
                op: format!("reading {}", self.qualified(name)),
                message: format!("corrupt variable-length string storage: {detail}"),
            })
    }

    fn vlen_strings(&self, ds: &Dataset, td: &TypeDescriptor) -> hdf5::Result<Vec<String>> {
        match td {
            TypeDescriptor::VarLenAscii => {
                if ds.is_scalar() {
                    let s: hdf5::types::VarLenAscii = ds.read_scalar()?;
                    Ok(vec![s.as_str().to_owned()])
                } else {
                    let v: Vec<hdf5::types::VarLenAscii> = ds.read_raw()?;
                    Ok(v.iter().map(|s| s.as_str().to_owned()).collect())
                }
            }
            TypeDescriptor::VarLenUnicode => {
                if ds.is_scalar() {
                    let s: hdf5::types::VarLenUnicode = ds.read_scalar()?;
                    Ok(vec![s.as_str().to_owned()])
                } else {
                    let v: Vec<hdf5::types::VarLenUnicode> = ds.read_raw()?;
                    Ok(v.iter().map(|s| s.as_str().to_owned()).collect())
                }
            }
            other => Err(hdf5::Error::from(format!("not a variable-length string: {}", describe_type(other)).as_str())),
        }
    }

    pub fn is_float(&self, ds: &Dataset, name: &str, size: FloatSize) -> Result<bool> {
        Ok(matches!(self.descriptor(ds, name)?, TypeDescriptor::Float(s) if s == size))
    }

    pub fn type_descriptor(&self, ds: &Dataset, name: &str) -> Result<TypeDescriptor> {
        self.descriptor(ds, name)
    }
}

/// Reads a whole dataset in its own file type (no conversion) into a byte buffer.
fn read_raw_bytes(ds: &Dataset, buf: &mut [u8]) -> hdf5::Result<()> {
    use hdf5_sys::h5d::H5Dread;
    use hdf5_sys::h5p::H5P_DEFAULT;
    use hdf5_sys::h5s::H5S_ALL;
    let dtype = ds.dtype()?;
    hdf5::sync::sync(|| {
        let status = unsafe {
            H5Dread(ds.id(), dtype.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.as_mut_ptr().cast())
        };
        if status < 0 {
            Err(hdf5::Error::from("H5Dread failed"))
        } else {
            Ok(())
        }
    })
}

pub(crate) fn expect_len(h: &Node, name: &str, got: usize, expected: usize, what: &str) -> Result<()> {
    if got != expected {
        return Err(bad_len(h, name, got, expected, what));
    }
    Ok(())
}

pub(crate) fn bad_len(h: &Node, name: &str, got: usize, expected: usize, what: &str) -> Uvh5Error {
    Uvh5Error::BadShape {
        path: h.path.to_owned(),
        name: h.qualified(name),
        expected: format!("({expected},) = ({what},)"),
        got: vec![got],
    }
}

/// A datatype as an error message shows it. Not hdf5-metno's `Debug`: a compound field's name
/// comes from the file unchecked and may not be UTF-8, and `Debug` of such a `String` panics
/// (a fuzzed file did that). Names are shown lossily, everything else as hdf5-metno displays it.
pub(crate) fn describe_type(td: &TypeDescriptor) -> String {
    match td {
        TypeDescriptor::Compound(c) => {
            let fields: Vec<String> =
                c.fields.iter().map(|f| format!("{}: {}", String::from_utf8_lossy(f.name.as_bytes()), describe_type(&f.ty))).collect();
            format!("compound {{{}}}", fields.join(", "))
        }
        other => other.to_string(),
    }
}
