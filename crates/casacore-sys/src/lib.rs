//! Minimal bindings to casacore's table system through our own C shim (`include/shim.h`).
//!
//! Two layers:
//! - [`ffi`]: the raw `extern "C"` declarations, hand-written to mirror `shim.h` (the surface is
//!   small enough that bindgen would only add a build dependency on libclang).
//! - [`Table`]: an owning, safe handle over one open casacore table with bulk, range-based column
//!   access and keyword access. Every casacore exception arrives here as a [`CasaError`]; none
//!   can unwind into Rust because the shim catches them all.
//!
//! The MeasurementSet semantics (which columns, which keywords, which subtable rows) live in the
//! `ms` crate; this crate only knows tables, columns, cells and keywords.
//!
//! Array cells use casacore's axis order (first axis fastest): a visibility cell is
//! `[ncorr, nchan]`, so a buffer of `n` cells is laid out C-order `[row][chan][corr]`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;
use std::path::Path;
use std::ptr::{self, NonNull};

pub use num_complex::{Complex32, Complex64};

mod rowfile;

/// Raw declarations of the shim (see `include/shim.h` for the contract of each function).
#[allow(non_camel_case_types)]
pub mod ffi {
    use std::ffi::{c_char, c_int, c_void};

    pub const CCS_OK: c_int = 0;
    pub const CCS_ERR_CASACORE: c_int = 1;
    pub const CCS_ERR_SHAPE: c_int = 2;
    pub const CCS_ERR_TYPE: c_int = 3;
    pub const CCS_ERR_ARG: c_int = 4;
    pub const CCS_ERR_NOTFOUND: c_int = 5;
    pub const CCS_ERR_NOSPACE: c_int = 6;
    pub const CCS_ERR_READONLY: c_int = 7;
    pub const CCS_ERR_NOMEM: c_int = 8;
    pub const CCS_ERR_BROKEN: c_int = 9;

    pub const CCS_BOOL: c_int = 1;
    pub const CCS_INT: c_int = 2;
    pub const CCS_FLOAT: c_int = 3;
    pub const CCS_DOUBLE: c_int = 4;
    pub const CCS_COMPLEX: c_int = 5;
    pub const CCS_DCOMPLEX: c_int = 6;
    pub const CCS_STRING: c_int = 7;
    pub const CCS_RECORD: c_int = 8;
    pub const CCS_TABLE: c_int = 9;
    pub const CCS_INT64: c_int = 10;
    pub const CCS_OTHER: c_int = 99;

    pub const CCS_MAX_NDIM: usize = 8;

    #[repr(C)]
    pub struct ccs_table {
        _private: [u8; 0],
    }

    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default)]
    pub struct ccs_ms_layout {
        pub ncorr: i32,
        pub nchan: i32,
        pub with_data: i32,
        pub with_weight_spectrum: i32,
        pub with_model_data: i32,
        pub with_corrected_data: i32,
        pub tile_rows_vis: u64,
        pub tile_rows_flag: u64,
        pub tile_rows_uvw: u64,
        pub tile_rows_weight: u64,
    }

    extern "C" {
        pub fn ccs_last_error() -> *const c_char;
        pub fn ccs_free(p: *mut c_void);

        pub fn ccs_ms_create(
            path: *const c_char,
            layout: *const ccs_ms_layout,
            out: *mut *mut ccs_table,
        ) -> c_int;
        pub fn ccs_table_open(
            path: *const c_char,
            writable: c_int,
            out: *mut *mut ccs_table,
        ) -> c_int;
        pub fn ccs_table_open_subtable(
            parent: *const ccs_table,
            name: *const c_char,
            out: *mut *mut ccs_table,
        ) -> c_int;
        pub fn ccs_table_close(t: *mut ccs_table) -> c_int;
        pub fn ccs_table_flush(t: *mut ccs_table) -> c_int;
        pub fn ccs_table_nrows(t: *const ccs_table, out: *mut u64) -> c_int;
        pub fn ccs_table_is_writable(t: *const ccs_table, out: *mut c_int) -> c_int;
        pub fn ccs_table_add_rows(t: *mut ccs_table, n: u64) -> c_int;
        pub fn ccs_table_column_names(
            t: *const ccs_table,
            out: *mut *mut c_char,
            len: *mut usize,
            count: *mut usize,
        ) -> c_int;
        pub fn ccs_column_info(
            t: *const ccs_table,
            col: *const c_char,
            dtype: *mut c_int,
            ndim: *mut c_int,
            fixed_shape: *mut c_int,
            shape: *mut i64,
        ) -> c_int;
        pub fn ccs_cell_shape(
            t: *const ccs_table,
            col: *const c_char,
            row: u64,
            ndim: *mut c_int,
            shape: *mut i64,
        ) -> c_int;
        pub fn ccs_table_add_column(
            t: *mut ccs_table,
            name: *const c_char,
            dtype: c_int,
            ndim: c_int,
            shape: *const i64,
        ) -> c_int;

        pub fn ccs_put_scalar_range(
            t: *mut ccs_table,
            col: *const c_char,
            dtype: c_int,
            row0: u64,
            nrows: u64,
            buf: *const c_void,
        ) -> c_int;
        pub fn ccs_get_scalar_range(
            t: *const ccs_table,
            col: *const c_char,
            dtype: c_int,
            row0: u64,
            nrows: u64,
            buf: *mut c_void,
        ) -> c_int;
        pub fn ccs_put_string_range(
            t: *mut ccs_table,
            col: *const c_char,
            row0: u64,
            nrows: u64,
            strs: *const *const c_char,
        ) -> c_int;
        pub fn ccs_get_string_range(
            t: *const ccs_table,
            col: *const c_char,
            row0: u64,
            nrows: u64,
            out: *mut *mut c_char,
            len: *mut usize,
        ) -> c_int;
        pub fn ccs_put_array_range(
            t: *mut ccs_table,
            col: *const c_char,
            dtype: c_int,
            row0: u64,
            nrows: u64,
            ndim: c_int,
            cell_shape: *const i64,
            buf: *const c_void,
        ) -> c_int;
        pub fn ccs_get_array_range(
            t: *const ccs_table,
            col: *const c_char,
            dtype: c_int,
            row0: u64,
            nrows: u64,
            ndim: c_int,
            cell_shape: *const i64,
            buf: *mut c_void,
        ) -> c_int;
        pub fn ccs_put_string_array_range(
            t: *mut ccs_table,
            col: *const c_char,
            row0: u64,
            nrows: u64,
            ndim: c_int,
            cell_shape: *const i64,
            strs: *const *const c_char,
        ) -> c_int;
        pub fn ccs_get_string_array_range(
            t: *const ccs_table,
            col: *const c_char,
            row0: u64,
            nrows: u64,
            ndim: c_int,
            cell_shape: *const i64,
            out: *mut *mut c_char,
            len: *mut usize,
        ) -> c_int;

        pub fn ccs_kw_info(
            t: *const ccs_table,
            col: *const c_char,
            path: *const c_char,
            dtype: *mut c_int,
            is_array: *mut c_int,
            nelem: *mut u64,
        ) -> c_int;
        pub fn ccs_kw_names(
            t: *const ccs_table,
            col: *const c_char,
            path: *const c_char,
            out: *mut *mut c_char,
            len: *mut usize,
            count: *mut usize,
        ) -> c_int;
        pub fn ccs_kw_put_scalar(
            t: *mut ccs_table,
            col: *const c_char,
            path: *const c_char,
            dtype: c_int,
            value: *const c_void,
        ) -> c_int;
        pub fn ccs_kw_get_scalar(
            t: *const ccs_table,
            col: *const c_char,
            path: *const c_char,
            dtype: c_int,
            out: *mut c_void,
        ) -> c_int;
        pub fn ccs_kw_put_string(
            t: *mut ccs_table,
            col: *const c_char,
            path: *const c_char,
            value: *const c_char,
        ) -> c_int;
        pub fn ccs_kw_get_string(
            t: *const ccs_table,
            col: *const c_char,
            path: *const c_char,
            out: *mut *mut c_char,
            len: *mut usize,
        ) -> c_int;
        pub fn ccs_kw_put_array(
            t: *mut ccs_table,
            col: *const c_char,
            path: *const c_char,
            dtype: c_int,
            values: *const c_void,
            n: u64,
        ) -> c_int;
        pub fn ccs_kw_get_array(
            t: *const ccs_table,
            col: *const c_char,
            path: *const c_char,
            dtype: c_int,
            out: *mut c_void,
            n: u64,
        ) -> c_int;
        pub fn ccs_kw_put_string_array(
            t: *mut ccs_table,
            col: *const c_char,
            path: *const c_char,
            strs: *const *const c_char,
            n: u64,
        ) -> c_int;
        pub fn ccs_kw_get_string_array(
            t: *const ccs_table,
            col: *const c_char,
            path: *const c_char,
            out: *mut *mut c_char,
            len: *mut usize,
            count: *mut usize,
        ) -> c_int;
        pub fn ccs_kw_remove(t: *mut ccs_table, col: *const c_char, path: *const c_char) -> c_int;
    }
}

// ------------------------------------------------------------------------------------- errors

/// What kind of failure the shim reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// casacore (or the C++ runtime) threw an exception.
    Casacore,
    /// A declared cell shape or row range does not match the table.
    Shape,
    /// The column or keyword holds another data type.
    Type,
    /// Bad argument (e.g. a string with an interior NUL).
    Argument,
    /// No such table, column, keyword or subtable.
    NotFound,
    /// The file system is full, or too full for casacore to write the table safely (the shim
    /// checks before casacore writes: casacore 3.5 aborts the process when its last buffered
    /// write fails).
    NoSpace,
    /// The file system is read-only.
    ReadOnly,
    /// A C++ allocation failed.
    OutOfMemory,
    /// An earlier write to this table failed; the shim no longer writes it (it is incomplete).
    Broken,
}

/// An error reported by the shim: the kind, and casacore's (or the shim's) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasaError {
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for CasaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CasaError {}

pub type Result<T> = std::result::Result<T, CasaError>;

fn check(rc: c_int) -> Result<()> {
    if rc == ffi::CCS_OK {
        return Ok(());
    }
    let kind = match rc {
        ffi::CCS_ERR_SHAPE => ErrorKind::Shape,
        ffi::CCS_ERR_TYPE => ErrorKind::Type,
        ffi::CCS_ERR_ARG => ErrorKind::Argument,
        ffi::CCS_ERR_NOTFOUND => ErrorKind::NotFound,
        ffi::CCS_ERR_NOSPACE => ErrorKind::NoSpace,
        ffi::CCS_ERR_READONLY => ErrorKind::ReadOnly,
        ffi::CCS_ERR_NOMEM => ErrorKind::OutOfMemory,
        ffi::CCS_ERR_BROKEN => ErrorKind::Broken,
        _ => ErrorKind::Casacore,
    };
    // SAFETY: the shim returns a pointer to its thread-local NUL-terminated message, valid until
    // the next shim call on this thread; we copy it at once.
    let message = unsafe { CStr::from_ptr(ffi::ccs_last_error()) }
        .to_string_lossy()
        .into_owned();
    Err(CasaError { kind, message })
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| CasaError {
        kind: ErrorKind::Argument,
        message: format!("string contains a NUL byte: {s:?}"),
    })
}

fn opt_cstr(s: Option<&str>) -> Result<Option<CString>> {
    s.map(cstr).transpose()
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

/// Take ownership of a shim-allocated buffer of `\0`-terminated strings.
///
/// # Safety
/// `buf` must come from the shim (malloc) and hold `len` bytes.
unsafe fn take_strings(buf: *mut c_char, len: usize) -> Vec<String> {
    if buf.is_null() {
        return Vec::new();
    }
    let bytes = std::slice::from_raw_parts(buf as *const u8, len);
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == 0 {
            out.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
            start = i + 1;
        }
    }
    ffi::ccs_free(buf as *mut c_void);
    out
}

fn cstrings<S: AsRef<str>>(items: &[S]) -> Result<Vec<CString>> {
    items.iter().map(|s| cstr(s.as_ref())).collect()
}

fn shape_i64(shape: &[usize]) -> Vec<i64> {
    shape.iter().map(|&d| d as i64).collect()
}

fn shape_err(message: String) -> CasaError {
    CasaError {
        kind: ErrorKind::Shape,
        message,
    }
}

// ------------------------------------------------------------------------------ element types

mod sealed {
    pub trait Sealed {}
}

/// Element types that the shim can move in bulk. Their memory layout equals casacore's
/// (`Bool` is a one-byte C++ `bool`, `Complex` is `std::complex<float>` = two `f32`).
pub trait Element: Copy + Default + sealed::Sealed {
    const DTYPE: c_int;
    /// Whether a tiled storage manager's file holds this type as its memory bytes (in the
    /// table's byte order): true for numbers, false for `Bool` (stored one bit per value).
    const FILE_BYTES: bool;
}

macro_rules! element {
    ($t:ty, $d:expr, $file_bytes:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: c_int = $d;
            const FILE_BYTES: bool = $file_bytes;
        }
    };
}
element!(bool, ffi::CCS_BOOL, false);
element!(i32, ffi::CCS_INT, true);
element!(f32, ffi::CCS_FLOAT, true);
element!(f64, ffi::CCS_DOUBLE, true);
element!(Complex32, ffi::CCS_COMPLEX, true);
element!(Complex64, ffi::CCS_DCOMPLEX, true);

/// Data type of a column or keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    Bool,
    Int,
    Int64,
    Float,
    Double,
    Complex,
    DComplex,
    String,
    Record,
    Table,
    Other,
}

impl DataType {
    fn from_code(c: c_int) -> DataType {
        match c {
            ffi::CCS_BOOL => DataType::Bool,
            ffi::CCS_INT => DataType::Int,
            ffi::CCS_INT64 => DataType::Int64,
            ffi::CCS_FLOAT => DataType::Float,
            ffi::CCS_DOUBLE => DataType::Double,
            ffi::CCS_COMPLEX => DataType::Complex,
            ffi::CCS_DCOMPLEX => DataType::DComplex,
            ffi::CCS_STRING => DataType::String,
            ffi::CCS_RECORD => DataType::Record,
            ffi::CCS_TABLE => DataType::Table,
            _ => DataType::Other,
        }
    }
    fn code(self) -> c_int {
        match self {
            DataType::Bool => ffi::CCS_BOOL,
            DataType::Int => ffi::CCS_INT,
            DataType::Int64 => ffi::CCS_INT64,
            DataType::Float => ffi::CCS_FLOAT,
            DataType::Double => ffi::CCS_DOUBLE,
            DataType::Complex => ffi::CCS_COMPLEX,
            DataType::DComplex => ffi::CCS_DCOMPLEX,
            DataType::String => ffi::CCS_STRING,
            DataType::Record => ffi::CCS_RECORD,
            DataType::Table => ffi::CCS_TABLE,
            DataType::Other => ffi::CCS_OTHER,
        }
    }
}

/// Description of a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    pub dtype: DataType,
    /// `None` for scalar columns; `Some(None)` for arrays whose dimensionality is not fixed;
    /// `Some(Some(n))` otherwise.
    pub ndim: Option<Option<usize>>,
    /// Cell shape (casacore order) when the column is fixed-shape.
    pub fixed_shape: Option<Vec<usize>>,
}

impl ColumnInfo {
    pub fn is_scalar(&self) -> bool {
        self.ndim.is_none()
    }
}

/// A keyword value as read back (records are listed by their field names).
#[derive(Debug, Clone, PartialEq)]
pub enum KeywordValue {
    Bool(bool),
    Int(i32),
    Float(f32),
    Double(f64),
    String(String),
    IntArray(Vec<i32>),
    FloatArray(Vec<f32>),
    DoubleArray(Vec<f64>),
    StringArray(Vec<String>),
    /// A nested record; holds its field names (read fields with a dotted path).
    Record(Vec<String>),
    /// A subtable reference.
    Table,
    /// Any other type (not needed by contimg).
    Other,
}

/// Layout of the MAIN table of a new MeasurementSet (see [`Table::create_ms`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsLayout {
    pub ncorr: usize,
    pub nchan: usize,
    pub data: bool,
    pub weight_spectrum: bool,
    pub model_data: bool,
    pub corrected_data: bool,
    /// Rows per tile of DATA, WEIGHT_SPECTRUM, MODEL_DATA and CORRECTED_DATA.
    pub tile_rows_vis: usize,
    /// Rows per tile of FLAG.
    pub tile_rows_flag: usize,
    /// Rows per tile of UVW.
    pub tile_rows_uvw: usize,
    /// Rows per tile of WEIGHT and SIGMA.
    pub tile_rows_weight: usize,
}

// -------------------------------------------------------------------------------------- table

/// An open casacore table (a MeasurementSet's MAIN table or any subtable).
///
/// Dropping it flushes (if writable) and closes; use [`Table::close`] to see flush errors.
/// A `Table` may move between threads but is not shared: casacore tables are not safe for
/// concurrent use.
pub struct Table {
    ptr: NonNull<ffi::ccs_table>,
    /// Per column and element type, its rows' file where `rowfile` may read them directly
    /// (`None`: it may not).
    row_files: RefCell<HashMap<(String, c_int), Option<rowfile::RowFile>>>,
}

// SAFETY: the shim's table handle owns its casacore::Table; casacore (built with thread support,
// as Debian's is) allows a table to be used from any one thread at a time. `Table` is not `Sync`.
unsafe impl Send for Table {}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table").field("ptr", &self.ptr).finish()
    }
}

fn path_cstr(path: &Path) -> Result<CString> {
    let s = path.to_str().ok_or_else(|| CasaError {
        kind: ErrorKind::Argument,
        message: format!("path is not UTF-8: {}", path.display()),
    })?;
    cstr(s)
}

impl Table {
    fn from_raw(p: *mut ffi::ccs_table) -> Result<Table> {
        NonNull::new(p)
            .map(|ptr| Table { ptr, row_files: RefCell::default() })
            .ok_or_else(|| CasaError {
                kind: ErrorKind::Casacore,
                message: "shim returned a null table".into(),
            })
    }

    fn raw(&self) -> *mut ffi::ccs_table {
        self.ptr.as_ptr()
    }

    /// Create a new MeasurementSet (v2) at `path`, which must not exist: MAIN with the required
    /// columns plus those selected in `layout`, every [ncorr, nchan] column fixed-shape in its own
    /// TiledColumnStMan, all default subtables plus SOURCE, and `MS_VERSION` 2.0.
    pub fn create_ms(path: &Path, layout: &MsLayout) -> Result<Table> {
        let p = path_cstr(path)?;
        let to_i32 = |v: usize, what: &str| {
            i32::try_from(v).map_err(|_| CasaError {
                kind: ErrorKind::Argument,
                message: format!("{what} too large: {v}"),
            })
        };
        let l = ffi::ccs_ms_layout {
            ncorr: to_i32(layout.ncorr, "ncorr")?,
            nchan: to_i32(layout.nchan, "nchan")?,
            with_data: layout.data as i32,
            with_weight_spectrum: layout.weight_spectrum as i32,
            with_model_data: layout.model_data as i32,
            with_corrected_data: layout.corrected_data as i32,
            tile_rows_vis: layout.tile_rows_vis as u64,
            tile_rows_flag: layout.tile_rows_flag as u64,
            tile_rows_uvw: layout.tile_rows_uvw as u64,
            tile_rows_weight: layout.tile_rows_weight as u64,
        };
        let mut out = ptr::null_mut();
        // SAFETY: valid C string and layout; out receives an owned handle.
        check(unsafe { ffi::ccs_ms_create(p.as_ptr(), &l, &mut out) })?;
        Table::from_raw(out)
    }

    /// Open an existing table (read-only unless `writable`).
    pub fn open(path: &Path, writable: bool) -> Result<Table> {
        let p = path_cstr(path)?;
        let mut out = ptr::null_mut();
        // SAFETY: valid C string; out receives an owned handle.
        check(unsafe { ffi::ccs_table_open(p.as_ptr(), writable as c_int, &mut out) })?;
        Table::from_raw(out)
    }

    /// Open the subtable referenced by table keyword `name` (e.g. "ANTENNA"), in this table's mode.
    pub fn subtable(&self, name: &str) -> Result<Table> {
        let n = cstr(name)?;
        let mut out = ptr::null_mut();
        // SAFETY: live handle, valid C string.
        check(unsafe { ffi::ccs_table_open_subtable(self.raw(), n.as_ptr(), &mut out) })?;
        Table::from_raw(out)
    }

    /// Flush (if writable) and close, reporting any error.
    pub fn close(self) -> Result<()> {
        let p = self.raw();
        drop(self.row_files.take());
        std::mem::forget(self);
        // SAFETY: we own the handle; the shim frees it even on error.
        check(unsafe { ffi::ccs_table_close(p) })
    }

    pub fn flush(&mut self) -> Result<()> {
        // SAFETY: live handle.
        check(unsafe { ffi::ccs_table_flush(self.raw()) })
    }

    pub fn n_rows(&self) -> Result<usize> {
        let mut n = 0u64;
        // SAFETY: live handle.
        check(unsafe { ffi::ccs_table_nrows(self.raw(), &mut n) })?;
        Ok(n as usize)
    }

    pub fn is_writable(&self) -> Result<bool> {
        let mut w = 0;
        // SAFETY: live handle.
        check(unsafe { ffi::ccs_table_is_writable(self.raw(), &mut w) })?;
        Ok(w != 0)
    }

    pub fn add_rows(&mut self, n: usize) -> Result<()> {
        // SAFETY: live handle.
        check(unsafe { ffi::ccs_table_add_rows(self.raw(), n as u64) })
    }

    pub fn column_names(&self) -> Result<Vec<String>> {
        let (mut buf, mut len, mut count) = (ptr::null_mut(), 0usize, 0usize);
        // SAFETY: live handle; buffer ownership passes to take_strings.
        check(unsafe { ffi::ccs_table_column_names(self.raw(), &mut buf, &mut len, &mut count) })?;
        Ok(unsafe { take_strings(buf, len) })
    }

    pub fn has_column(&self, col: &str) -> Result<bool> {
        Ok(self.column_names()?.iter().any(|c| c == col))
    }

    pub fn column_info(&self, col: &str) -> Result<ColumnInfo> {
        let c = cstr(col)?;
        let (mut dtype, mut ndim, mut fixed) = (0, 0, 0);
        let mut shape = [0i64; ffi::CCS_MAX_NDIM];
        // SAFETY: live handle; shape has CCS_MAX_NDIM entries.
        check(unsafe {
            ffi::ccs_column_info(
                self.raw(),
                c.as_ptr(),
                &mut dtype,
                &mut ndim,
                &mut fixed,
                shape.as_mut_ptr(),
            )
        })?;
        let nd = if ndim == 0 {
            None
        } else if ndim < 0 {
            Some(None)
        } else {
            Some(Some(ndim as usize))
        };
        let fixed_shape =
            (fixed != 0).then(|| shape[..ndim as usize].iter().map(|&d| d as usize).collect());
        Ok(ColumnInfo {
            dtype: DataType::from_code(dtype),
            ndim: nd,
            fixed_shape,
        })
    }

    /// Shape (casacore order) of one cell of an array column; `None` if the cell is undefined.
    pub fn cell_shape(&self, col: &str, row: usize) -> Result<Option<Vec<usize>>> {
        let c = cstr(col)?;
        let mut ndim = 0;
        let mut shape = [0i64; ffi::CCS_MAX_NDIM];
        // SAFETY: live handle; shape has CCS_MAX_NDIM entries.
        check(unsafe {
            ffi::ccs_cell_shape(
                self.raw(),
                c.as_ptr(),
                row as u64,
                &mut ndim,
                shape.as_mut_ptr(),
            )
        })?;
        Ok((ndim >= 0).then(|| shape[..ndim as usize].iter().map(|&d| d as usize).collect()))
    }

    /// Add a column (stored in StandardStMan) to a writable table. `array`: `None` for a scalar column, `Some((ndim, Some(shape)))` for a fixed-shape array
    /// column, `Some((ndim, None))` for a variable-shape one.
    pub fn add_column(
        &mut self,
        name: &str,
        dtype: DataType,
        array: Option<(usize, Option<&[usize]>)>,
    ) -> Result<()> {
        let n = cstr(name)?;
        let (ndim, shape) = match array {
            None => (0, None),
            Some((nd, s)) => (nd as c_int, s.map(shape_i64)),
        };
        let sp = shape.as_ref().map_or(ptr::null(), |s| s.as_ptr());
        // SAFETY: live handle; shape (if any) holds ndim entries.
        check(unsafe { ffi::ccs_table_add_column(self.raw(), n.as_ptr(), dtype.code(), ndim, sp) })
    }

    // ---- bulk scalar access

    /// Write `values` into rows `row0 .. row0 + values.len()` of a scalar column, in one call.
    pub fn put_scalars<T: Element>(&mut self, col: &str, row0: usize, values: &[T]) -> Result<()> {
        let c = cstr(col)?;
        // SAFETY: live handle; the shim reads values.len() elements of T (layout-compatible).
        check(unsafe {
            ffi::ccs_put_scalar_range(
                self.raw(),
                c.as_ptr(),
                T::DTYPE,
                row0 as u64,
                values.len() as u64,
                values.as_ptr() as *const c_void,
            )
        })
    }

    /// Read rows `row0 .. row0 + out.len()` of a scalar column into `out`, in one call.
    pub fn get_scalars_into<T: Element>(
        &self,
        col: &str,
        row0: usize,
        out: &mut [T],
    ) -> Result<()> {
        let c = cstr(col)?;
        // SAFETY: live handle; the shim writes out.len() elements of T.
        check(unsafe {
            ffi::ccs_get_scalar_range(
                self.raw(),
                c.as_ptr(),
                T::DTYPE,
                row0 as u64,
                out.len() as u64,
                out.as_mut_ptr() as *mut c_void,
            )
        })
    }

    pub fn get_scalars<T: Element>(&self, col: &str, row0: usize, nrows: usize) -> Result<Vec<T>> {
        let mut v = vec![T::default(); nrows];
        self.get_scalars_into(col, row0, &mut v)?;
        Ok(v)
    }

    pub fn put_strings<S: AsRef<str>>(
        &mut self,
        col: &str,
        row0: usize,
        values: &[S],
    ) -> Result<()> {
        let c = cstr(col)?;
        let owned = cstrings(values)?;
        let ptrs: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
        // SAFETY: live handle; ptrs holds values.len() valid C strings.
        check(unsafe {
            ffi::ccs_put_string_range(
                self.raw(),
                c.as_ptr(),
                row0 as u64,
                ptrs.len() as u64,
                ptrs.as_ptr(),
            )
        })
    }

    pub fn get_strings(&self, col: &str, row0: usize, nrows: usize) -> Result<Vec<String>> {
        let c = cstr(col)?;
        let (mut buf, mut len) = (ptr::null_mut(), 0usize);
        // SAFETY: live handle; buffer ownership passes to take_strings.
        check(unsafe {
            ffi::ccs_get_string_range(
                self.raw(),
                c.as_ptr(),
                row0 as u64,
                nrows as u64,
                &mut buf,
                &mut len,
            )
        })?;
        Ok(unsafe { take_strings(buf, len) })
    }

    // ---- bulk array access

    /// Write `nrows` cells of shape `cell_shape` (casacore order) starting at `row0`, from one
    /// buffer of `nrows * prod(cell_shape)` elements, in one call.
    pub fn put_arrays<T: Element>(
        &mut self,
        col: &str,
        row0: usize,
        nrows: usize,
        cell_shape: &[usize],
        data: &[T],
    ) -> Result<()> {
        let expected = nrows * cell_shape.iter().product::<usize>();
        if data.len() != expected {
            return Err(shape_err(format!(
                "column {col}: buffer holds {} elements, {nrows} cells of {cell_shape:?} need {expected}",
                data.len()
            )));
        }
        let c = cstr(col)?;
        let s = shape_i64(cell_shape);
        // SAFETY: live handle; data holds nrows * prod(shape) elements of T.
        check(unsafe {
            ffi::ccs_put_array_range(
                self.raw(),
                c.as_ptr(),
                T::DTYPE,
                row0 as u64,
                nrows as u64,
                s.len() as c_int,
                s.as_ptr(),
                data.as_ptr() as *const c_void,
            )
        })
    }

    /// Read `nrows` cells of shape `cell_shape` starting at `row0` into `out`.
    pub fn get_arrays_into<T: Element>(
        &self,
        col: &str,
        row0: usize,
        nrows: usize,
        cell_shape: &[usize],
        out: &mut [T],
    ) -> Result<()> {
        let expected = nrows * cell_shape.iter().product::<usize>();
        if out.len() != expected {
            return Err(shape_err(format!(
                "column {col}: buffer holds {} elements, {nrows} cells of {cell_shape:?} need {expected}",
                out.len()
            )));
        }
        if self.read_rows_direct(col, row0, nrows, cell_shape, out)? {
            return Ok(());
        }
        let c = cstr(col)?;
        let s = shape_i64(cell_shape);
        // SAFETY: live handle; out holds nrows * prod(shape) elements of T.
        check(unsafe {
            ffi::ccs_get_array_range(
                self.raw(),
                c.as_ptr(),
                T::DTYPE,
                row0 as u64,
                nrows as u64,
                s.len() as c_int,
                s.as_ptr(),
                out.as_mut_ptr() as *mut c_void,
            )
        })
    }

    pub fn get_arrays<T: Element>(
        &self,
        col: &str,
        row0: usize,
        nrows: usize,
        cell_shape: &[usize],
    ) -> Result<Vec<T>> {
        let mut v = vec![T::default(); nrows * cell_shape.iter().product::<usize>()];
        self.get_arrays_into(col, row0, nrows, cell_shape, &mut v)?;
        Ok(v)
    }

    pub fn put_string_arrays<S: AsRef<str>>(
        &mut self,
        col: &str,
        row0: usize,
        nrows: usize,
        cell_shape: &[usize],
        data: &[S],
    ) -> Result<()> {
        let expected = nrows * cell_shape.iter().product::<usize>();
        if data.len() != expected {
            return Err(shape_err(format!(
                "column {col}: {} strings given, {nrows} cells of {cell_shape:?} need {expected}",
                data.len()
            )));
        }
        let c = cstr(col)?;
        let s = shape_i64(cell_shape);
        let owned = cstrings(data)?;
        let ptrs: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
        // SAFETY: live handle; ptrs holds nrows * prod(shape) valid C strings.
        check(unsafe {
            ffi::ccs_put_string_array_range(
                self.raw(),
                c.as_ptr(),
                row0 as u64,
                nrows as u64,
                s.len() as c_int,
                s.as_ptr(),
                ptrs.as_ptr(),
            )
        })
    }

    pub fn get_string_arrays(
        &self,
        col: &str,
        row0: usize,
        nrows: usize,
        cell_shape: &[usize],
    ) -> Result<Vec<String>> {
        let c = cstr(col)?;
        let s = shape_i64(cell_shape);
        let (mut buf, mut len) = (ptr::null_mut(), 0usize);
        // SAFETY: live handle; buffer ownership passes to take_strings.
        check(unsafe {
            ffi::ccs_get_string_array_range(
                self.raw(),
                c.as_ptr(),
                row0 as u64,
                nrows as u64,
                s.len() as c_int,
                s.as_ptr(),
                &mut buf,
                &mut len,
            )
        })?;
        Ok(unsafe { take_strings(buf, len) })
    }

    // ---- keywords. `col` None = table keywords; `path` may walk nested records ("MEASINFO.Ref").

    /// Field names of the keyword set (`path` None) or of the record at `path`.
    pub fn keyword_names(&self, col: Option<&str>, path: Option<&str>) -> Result<Vec<String>> {
        let c = opt_cstr(col)?;
        let p = opt_cstr(path)?;
        let (mut buf, mut len, mut count) = (ptr::null_mut(), 0usize, 0usize);
        // SAFETY: live handle; buffer ownership passes to take_strings.
        check(unsafe {
            ffi::ccs_kw_names(
                self.raw(),
                opt_ptr(&c),
                opt_ptr(&p),
                &mut buf,
                &mut len,
                &mut count,
            )
        })?;
        Ok(unsafe { take_strings(buf, len) })
    }

    /// Read a keyword; `Ok(None)` when it does not exist.
    pub fn keyword(&self, col: Option<&str>, path: &str) -> Result<Option<KeywordValue>> {
        let c = opt_cstr(col)?;
        let p = cstr(path)?;
        let (mut dtype, mut is_array, mut n) = (0, 0, 0u64);
        // SAFETY: live handle, valid C strings.
        check(unsafe {
            ffi::ccs_kw_info(
                self.raw(),
                opt_ptr(&c),
                p.as_ptr(),
                &mut dtype,
                &mut is_array,
                &mut n,
            )
        })?;
        if dtype == 0 {
            return Ok(None);
        }
        let (cp, pp) = (opt_ptr(&c), p.as_ptr());
        let n = n as usize;
        // SAFETY (all blocks below): live handle, valid C strings, out-buffers sized from kw_info.
        let v = match (DataType::from_code(dtype), is_array != 0) {
            (DataType::Bool, false) => {
                let mut b = false;
                check(unsafe {
                    ffi::ccs_kw_get_scalar(
                        self.raw(),
                        cp,
                        pp,
                        ffi::CCS_BOOL,
                        &mut b as *mut bool as *mut c_void,
                    )
                })?;
                KeywordValue::Bool(b)
            }
            (DataType::Int, false) => {
                let mut v = 0i32;
                check(unsafe {
                    ffi::ccs_kw_get_scalar(
                        self.raw(),
                        cp,
                        pp,
                        ffi::CCS_INT,
                        &mut v as *mut i32 as *mut c_void,
                    )
                })?;
                KeywordValue::Int(v)
            }
            (DataType::Float, false) => {
                let mut v = 0f32;
                check(unsafe {
                    ffi::ccs_kw_get_scalar(
                        self.raw(),
                        cp,
                        pp,
                        ffi::CCS_FLOAT,
                        &mut v as *mut f32 as *mut c_void,
                    )
                })?;
                KeywordValue::Float(v)
            }
            (DataType::Double, false) => {
                let mut v = 0f64;
                check(unsafe {
                    ffi::ccs_kw_get_scalar(
                        self.raw(),
                        cp,
                        pp,
                        ffi::CCS_DOUBLE,
                        &mut v as *mut f64 as *mut c_void,
                    )
                })?;
                KeywordValue::Double(v)
            }
            (DataType::String, false) => {
                let (mut buf, mut len) = (ptr::null_mut(), 0usize);
                check(unsafe { ffi::ccs_kw_get_string(self.raw(), cp, pp, &mut buf, &mut len) })?;
                KeywordValue::String(unsafe { take_strings(buf, len) }.pop().unwrap_or_default())
            }
            (DataType::Int, true) => {
                let mut v = vec![0i32; n];
                check(unsafe {
                    ffi::ccs_kw_get_array(
                        self.raw(),
                        cp,
                        pp,
                        ffi::CCS_INT,
                        v.as_mut_ptr() as *mut c_void,
                        n as u64,
                    )
                })?;
                KeywordValue::IntArray(v)
            }
            (DataType::Float, true) => {
                let mut v = vec![0f32; n];
                check(unsafe {
                    ffi::ccs_kw_get_array(
                        self.raw(),
                        cp,
                        pp,
                        ffi::CCS_FLOAT,
                        v.as_mut_ptr() as *mut c_void,
                        n as u64,
                    )
                })?;
                KeywordValue::FloatArray(v)
            }
            (DataType::Double, true) => {
                let mut v = vec![0f64; n];
                check(unsafe {
                    ffi::ccs_kw_get_array(
                        self.raw(),
                        cp,
                        pp,
                        ffi::CCS_DOUBLE,
                        v.as_mut_ptr() as *mut c_void,
                        n as u64,
                    )
                })?;
                KeywordValue::DoubleArray(v)
            }
            (DataType::String, true) => {
                let (mut buf, mut len, mut count) = (ptr::null_mut(), 0usize, 0usize);
                check(unsafe {
                    ffi::ccs_kw_get_string_array(self.raw(), cp, pp, &mut buf, &mut len, &mut count)
                })?;
                KeywordValue::StringArray(unsafe { take_strings(buf, len) })
            }
            (DataType::Record, _) => KeywordValue::Record(self.keyword_names(col, Some(path))?),
            (DataType::Table, _) => KeywordValue::Table,
            _ => KeywordValue::Other,
        };
        Ok(Some(v))
    }

    /// Define (or replace) a keyword; intermediate records in `path` are created.
    pub fn put_keyword(
        &mut self,
        col: Option<&str>,
        path: &str,
        value: &KeywordValue,
    ) -> Result<()> {
        let c = opt_cstr(col)?;
        let p = cstr(path)?;
        let (cp, pp) = (opt_ptr(&c), p.as_ptr());
        let t = self.raw();
        // SAFETY (all arms): live handle, valid C strings, value buffers of the stated length.
        match value {
            KeywordValue::Bool(v) => check(unsafe { ffi::ccs_kw_put_scalar(t, cp, pp, ffi::CCS_BOOL, v as *const bool as *const c_void) }),
            KeywordValue::Int(v) => check(unsafe { ffi::ccs_kw_put_scalar(t, cp, pp, ffi::CCS_INT, v as *const i32 as *const c_void) }),
            KeywordValue::Float(v) => check(unsafe { ffi::ccs_kw_put_scalar(t, cp, pp, ffi::CCS_FLOAT, v as *const f32 as *const c_void) }),
            KeywordValue::Double(v) => check(unsafe { ffi::ccs_kw_put_scalar(t, cp, pp, ffi::CCS_DOUBLE, v as *const f64 as *const c_void) }),
            KeywordValue::String(s) => {
                let s = cstr(s)?;
                check(unsafe { ffi::ccs_kw_put_string(t, cp, pp, s.as_ptr()) })
            }
            KeywordValue::IntArray(v) => {
                check(unsafe { ffi::ccs_kw_put_array(t, cp, pp, ffi::CCS_INT, v.as_ptr() as *const c_void, v.len() as u64) })
            }
            KeywordValue::FloatArray(v) => {
                check(unsafe { ffi::ccs_kw_put_array(t, cp, pp, ffi::CCS_FLOAT, v.as_ptr() as *const c_void, v.len() as u64) })
            }
            KeywordValue::DoubleArray(v) => {
                check(unsafe { ffi::ccs_kw_put_array(t, cp, pp, ffi::CCS_DOUBLE, v.as_ptr() as *const c_void, v.len() as u64) })
            }
            KeywordValue::StringArray(v) => {
                let owned = cstrings(v)?;
                let ptrs: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr()).collect();
                check(unsafe { ffi::ccs_kw_put_string_array(t, cp, pp, ptrs.as_ptr(), ptrs.len() as u64) })
            }
            KeywordValue::Record(_) | KeywordValue::Table | KeywordValue::Other => Err(CasaError {
                kind: ErrorKind::Argument,
                message: format!("keyword {path}: records, tables and other types cannot be written directly (write their fields by path)"),
            }),
        }
    }

    /// Remove a keyword if it exists.
    pub fn remove_keyword(&mut self, col: Option<&str>, path: &str) -> Result<()> {
        let c = opt_cstr(col)?;
        let p = cstr(path)?;
        // SAFETY: live handle, valid C strings.
        check(unsafe { ffi::ccs_kw_remove(self.raw(), opt_ptr(&c), p.as_ptr()) })
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: we own the handle. Errors on this path cannot be reported; use close().
        unsafe {
            ffi::ccs_table_close(self.raw());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_table_is_an_error_not_an_abort() {
        let err = Table::open(Path::new("/nonexistent/contimg/x.ms"), false).unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert!(
            err.message.contains("/nonexistent/contimg/x.ms"),
            "{}",
            err.message
        );
    }

    #[test]
    fn create_ms_and_bulk_io() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.ms");
        let layout = MsLayout {
            ncorr: 2,
            nchan: 3,
            data: true,
            weight_spectrum: true,
            model_data: false,
            corrected_data: false,
            tile_rows_vis: 4,
            tile_rows_flag: 4,
            tile_rows_uvw: 4,
            tile_rows_weight: 4,
        };
        let mut t = Table::create_ms(&path, &layout).unwrap();
        t.add_rows(5).unwrap();
        let data: Vec<Complex32> = (0..30)
            .map(|i| Complex32::new(i as f32, -(i as f32)))
            .collect();
        t.put_arrays("DATA", 0, 5, &[2, 3], &data).unwrap();
        let e = t.put_arrays("DATA", 0, 5, &[3, 2], &data).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert!(e.message.contains("DATA"), "{}", e.message);
        let e = t
            .put_arrays::<f32>("DATA", 0, 1, &[2, 3], &[0.0; 6])
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Type);
        t.put_scalars("ANTENNA1", 0, &[1, 2, 3, 4, 5]).unwrap();
        t.put_keyword(
            Some("DATA"),
            "X.y.z",
            &KeywordValue::DoubleArray(vec![1.0, 2.0]),
        )
        .unwrap();
        t.close().unwrap();

        let t = Table::open(&path, false).unwrap();
        assert_eq!(t.n_rows().unwrap(), 5);
        assert_eq!(
            t.get_arrays::<Complex32>("DATA", 1, 3, &[2, 3]).unwrap(),
            data[6..24].to_vec()
        );
        assert_eq!(
            t.get_scalars::<i32>("ANTENNA1", 2, 3).unwrap(),
            vec![3, 4, 5]
        );
        assert_eq!(
            t.keyword(Some("DATA"), "X.y.z").unwrap(),
            Some(KeywordValue::DoubleArray(vec![1.0, 2.0]))
        );
        assert_eq!(
            t.keyword(None, "MS_VERSION").unwrap(),
            Some(KeywordValue::Float(2.0))
        );
        assert_eq!(t.keyword(None, "NOPE").unwrap(), None);
        assert_eq!(t.column_info("DATA").unwrap().fixed_shape, Some(vec![2, 3]));
        let ant = t.subtable("ANTENNA").unwrap();
        assert_eq!(ant.n_rows().unwrap(), 0);
        assert!(t.subtable("SOURCE").is_ok());
        assert_eq!(t.subtable("NOPE").unwrap_err().kind, ErrorKind::NotFound);
    }
}

// ---------------------------------------------------------------- additions for applycal

mod ffi_apply {
    use std::os::raw::{c_char, c_int};
    extern "C" {
        pub fn ccs_table_add_tiled_column_like(
            t: *mut super::ffi::ccs_table,
            name: *const c_char,
            like: *const c_char,
        ) -> c_int;
    }
}

impl Table {
    /// Add a fixed-shape complex array column `name` (e.g. CORRECTED_DATA) in its own
    /// TiledColumnStMan, with the cell and tile shape of the existing column `like` (e.g. DATA).
    pub fn add_tiled_column_like(&mut self, name: &str, like: &str) -> Result<()> {
        let n = cstr(name)?;
        let l = cstr(like)?;
        // SAFETY: live handle, valid C strings.
        check(unsafe { ffi_apply::ccs_table_add_tiled_column_like(self.raw(), n.as_ptr(), l.as_ptr()) })
    }
}

// ---------------------------------------------------------------- additions for calibrate

mod ffi_calibrate {
    use std::os::raw::{c_char, c_int};
    extern "C" {
        pub fn ccs_table_create_empty(
            path: *const c_char,
            info_type: *const c_char,
            info_subtype: *const c_char,
            out: *mut *mut super::ffi::ccs_table,
        ) -> c_int;
        pub fn ccs_table_copy_subtable(
            t: *mut super::ffi::ccs_table,
            src_path: *const c_char,
            name: *const c_char,
        ) -> c_int;
    }
}

impl Table {
    /// Create a new table with no columns and no rows at `path` (which must not exist), with
    /// table info type and subType (e.g. `"Calibration"`, `"B Jones"`). Columns are added with
    /// [`Table::add_column`].
    pub fn create_empty(path: &Path, info_type: &str, info_subtype: &str) -> Result<Table> {
        let p = path_cstr(path)?;
        let ty = cstr(info_type)?;
        let st = cstr(info_subtype)?;
        let mut out = ptr::null_mut();
        // SAFETY: valid C strings; on success the shim hands us ownership of the handle.
        check(unsafe { ffi_calibrate::ccs_table_create_empty(p.as_ptr(), ty.as_ptr(), st.as_ptr(), &mut out) })?;
        Table::from_raw(out)
    }

    /// Deep-copy the table at `src` into this table's directory as `name` and define it as
    /// the subtable keyword `name` (e.g. an MS's ANTENNA into a caltable).
    pub fn copy_subtable(&mut self, src: &Path, name: &str) -> Result<()> {
        let s = path_cstr(src)?;
        let n = cstr(name)?;
        // SAFETY: live handle, valid C strings.
        check(unsafe { ffi_calibrate::ccs_table_copy_subtable(self.raw(), s.as_ptr(), n.as_ptr()) })
    }
}

// ---------------------------------------------------------------- storage managers

mod ffi_dm {
    use std::os::raw::{c_char, c_int};
    extern "C" {
        pub fn ccs_table_data_managers(
            t: *const super::ffi::ccs_table,
            out: *mut *mut c_char,
            len: *mut usize,
            count: *mut usize,
        ) -> c_int;
    }
}

/// One data manager of a table: its files are `table.f<seqnr>` and `table.f<seqnr>_*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataManager {
    pub seqnr: u32,
    /// casacore's type name, e.g. "TiledColumnStMan", "StandardStMan".
    pub dm_type: String,
    pub name: String,
    pub columns: Vec<String>,
}

/// The data manager that a file of a table directory belongs to, for casacore's hypercube files
/// `table.f<seqnr>_TSM<k>`; `None` for every other name (headers, `table.dat`, subtables).
pub fn tiled_data_file_seqnr(name: &str) -> Option<u32> {
    let (seqnr, k) = name.strip_prefix("table.f")?.split_once("_TSM")?;
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    if digits(seqnr) && digits(k) {
        seqnr.parse().ok()
    } else {
        None
    }
}

impl Table {
    /// The table's data managers and the columns each one stores.
    pub fn data_managers(&self) -> Result<Vec<DataManager>> {
        let (mut buf, mut len, mut count) = (ptr::null_mut(), 0usize, 0usize);
        // SAFETY: live handle; buffer ownership passes to take_strings.
        check(unsafe { ffi_dm::ccs_table_data_managers(self.raw(), &mut buf, &mut len, &mut count) })?;
        // SAFETY: buf/len come from the shim's pack_strings.
        let lines = unsafe { take_strings(buf, len) };
        lines
            .iter()
            .map(|l| {
                let mut f = l.split('\t');
                let seqnr = f.next().and_then(|s| s.parse().ok());
                let (Some(seqnr), Some(dm_type), Some(name)) = (seqnr, f.next(), f.next()) else {
                    return Err(shape_err(format!("unreadable data manager description {l:?}")));
                };
                Ok(DataManager { seqnr, dm_type: dm_type.into(), name: name.into(), columns: f.map(str::to_owned).collect() })
            })
            .collect()
    }
}

// ---------------------------------------------------------------- direct reads of tiled rows

mod ffi_tiling {
    use std::os::raw::{c_char, c_int};
    extern "C" {
        pub fn ccs_table_column_tiling(
            t: *const super::ffi::ccs_table,
            col: *const c_char,
            out: *mut *mut c_char,
            len: *mut usize,
            count: *mut usize,
        ) -> c_int;
    }
}

impl Table {
    /// casacore's description of how `col` is tiled; `None` when its manager is not tiled.
    fn column_tiling(&self, col: &str) -> Result<Option<rowfile::Tiling>> {
        let c = cstr(col)?;
        let (mut buf, mut len, mut count) = (ptr::null_mut(), 0usize, 0usize);
        // SAFETY: live handle; buffer ownership passes to take_strings.
        check(unsafe { ffi_tiling::ccs_table_column_tiling(self.raw(), c.as_ptr(), &mut buf, &mut len, &mut count) })?;
        // SAFETY: buf/len come from the shim's pack_strings.
        let lines = unsafe { take_strings(buf, len) };
        Ok(lines.first().and_then(|l| rowfile::Tiling::parse(l)))
    }

    /// Whether whole cells of `col`, read as `T`, come straight from the column's file (see
    /// `rowfile`) rather than through casacore's tile cache.
    pub fn reads_directly<T: Element>(&self, col: &str) -> Result<bool> {
        Ok(self.with_row_file::<T, _>(col, |_| ())?.is_some())
    }

    /// `f` of the column's row file when `col` read as `T` may be read from it; `None` when
    /// casacore must read it. Located once per column and type.
    fn with_row_file<T: Element, R>(&self, col: &str, f: impl FnOnce(&rowfile::RowFile) -> R) -> Result<Option<R>> {
        // Written tiles may still be in casacore's cache; also when another handle in this
        // process opened the same table writable (casacore shares one table object).
        if !T::FILE_BYTES || !rowfile::enabled() || self.is_writable()? {
            return Ok(None);
        }
        let key = (col.to_owned(), T::DTYPE);
        if !self.row_files.borrow().contains_key(&key) {
            let same_type = self.column_info(col).is_ok_and(|i| i.dtype.code() == T::DTYPE);
            let located = match same_type {
                true => {
                    let n_rows = self.n_rows()?;
                    self.column_tiling(col)?.and_then(|t| rowfile::RowFile::locate(&t, n_rows, std::mem::size_of::<T>()))
                }
                false => None,
            };
            self.row_files.borrow_mut().insert(key.clone(), located);
        }
        Ok(self.row_files.borrow().get(&key).and_then(Option::as_ref).map(f))
    }

    /// Reads the rows from the column's file where it may; `false` when casacore must.
    fn read_rows_direct<T: Element>(&self, col: &str, row0: usize, nrows: usize, cell_shape: &[usize], out: &mut [T]) -> Result<bool> {
        let read = self.with_row_file::<T, _>(col, |f| {
            if !f.serves(row0, nrows, cell_shape) {
                return Ok(false);
            }
            // SAFETY: T is a plain number type (FILE_BYTES), every byte pattern of which is a
            // value; the slice covers exactly out's memory.
            let bytes = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut u8, std::mem::size_of_val(out)) };
            f.read(row0, bytes).map(|()| true)
        })?;
        match read {
            None => Ok(false),
            Some(r) => r.map_err(|e| CasaError {
                kind: ErrorKind::Casacore,
                message: format!("column {col}: reading rows {row0}..{} from its file: {e}", row0 + nrows),
            }),
        }
    }
}
