//! A named table handle whose every call reports *which* table and column failed.

use casacore_sys::{Element, KeywordValue, Table};

use crate::error::{MsError, Op};

pub(crate) struct Tab {
    pub t: Table,
    pub name: String,
}

impl Tab {
    pub fn new(t: Table, name: impl Into<String>) -> Tab {
        Tab {
            t,
            name: name.into(),
        }
    }

    pub fn sub(&self, name: &str) -> Result<Tab, MsError> {
        let t = self
            .t
            .subtable(name)
            .op(|| format!("open subtable {name}"))?;
        Ok(Tab::new(t, name))
    }

    pub fn n_rows(&self) -> Result<usize, MsError> {
        self.t
            .n_rows()
            .op(|| format!("count rows of {}", self.name))
    }

    pub fn add_rows(&mut self, n: usize) -> Result<(), MsError> {
        self.t
            .add_rows(n)
            .op(|| format!("add {n} rows to {}", self.name))
    }

    pub fn has_column(&self, col: &str) -> Result<bool, MsError> {
        self.t
            .has_column(col)
            .op(|| format!("list columns of {}", self.name))
    }

    // ---- writes (whole columns from row `row0`)

    pub fn put<T: Element>(&mut self, col: &str, row0: usize, v: &[T]) -> Result<(), MsError> {
        self.t
            .put_scalars(col, row0, v)
            .op(|| format!("put {}.{col} rows {row0}..{}", self.name, row0 + v.len()))
    }

    pub fn put_str<S: AsRef<str>>(
        &mut self,
        col: &str,
        row0: usize,
        v: &[S],
    ) -> Result<(), MsError> {
        self.t
            .put_strings(col, row0, v)
            .op(|| format!("put {}.{col} rows {row0}..{}", self.name, row0 + v.len()))
    }

    /// `data` holds `nrows` cells of `cell` (casacore order).
    pub fn put_arr<T: Element>(
        &mut self,
        col: &str,
        row0: usize,
        nrows: usize,
        cell: &[usize],
        data: &[T],
    ) -> Result<(), MsError> {
        let expected = nrows * cell.iter().product::<usize>();
        if data.len() != expected {
            return Err(MsError::Shape {
                what: format!("{}.{col}", self.name),
                expected,
                got: data.len(),
            });
        }
        self.t.put_arrays(col, row0, nrows, cell, data).op(|| {
            format!(
                "put {}.{col} rows {row0}..{} (cell {cell:?})",
                self.name,
                row0 + nrows
            )
        })
    }

    pub fn put_str_arr<S: AsRef<str>>(
        &mut self,
        col: &str,
        row0: usize,
        nrows: usize,
        cell: &[usize],
        data: &[S],
    ) -> Result<(), MsError> {
        self.t
            .put_string_arrays(col, row0, nrows, cell, data)
            .op(|| {
                format!(
                    "put {}.{col} rows {row0}..{} (cell {cell:?})",
                    self.name,
                    row0 + nrows
                )
            })
    }

    pub fn put_kw(
        &mut self,
        col: Option<&str>,
        path: &str,
        v: KeywordValue,
    ) -> Result<(), MsError> {
        self.t.put_keyword(col, path, &v).op(|| {
            format!(
                "set keyword {} of {}{}",
                path,
                self.name,
                col.map(|c| format!(".{c}")).unwrap_or_default()
            )
        })
    }

    pub fn add_column(
        &mut self,
        name: &str,
        dtype: casacore_sys::DataType,
        array: Option<(usize, Option<&[usize]>)>,
    ) -> Result<(), MsError> {
        self.t
            .add_column(name, dtype, array)
            .op(|| format!("add column {}.{name}", self.name))
    }

    pub fn close(self) -> Result<(), MsError> {
        let name = self.name;
        self.t.close().op(|| format!("close {name}"))
    }

    // ---- reads

    pub fn get<T: Element>(&self, col: &str, row0: usize, n: usize) -> Result<Vec<T>, MsError> {
        self.t
            .get_scalars(col, row0, n)
            .op(|| format!("get {}.{col} rows {row0}..{}", self.name, row0 + n))
    }

    pub fn get_into<T: Element>(
        &self,
        col: &str,
        row0: usize,
        out: &mut [T],
    ) -> Result<(), MsError> {
        self.t
            .get_scalars_into(col, row0, out)
            .op(|| format!("get {}.{col} rows {row0}..{}", self.name, row0 + out.len()))
    }

    pub fn get_str(&self, col: &str, row0: usize, n: usize) -> Result<Vec<String>, MsError> {
        self.t
            .get_strings(col, row0, n)
            .op(|| format!("get {}.{col} rows {row0}..{}", self.name, row0 + n))
    }

    pub fn get_arr_into<T: Element>(
        &self,
        col: &str,
        row0: usize,
        nrows: usize,
        cell: &[usize],
        out: &mut [T],
    ) -> Result<(), MsError> {
        let expected = nrows * cell.iter().product::<usize>();
        if out.len() != expected {
            return Err(MsError::Shape {
                what: format!("{}.{col}", self.name),
                expected,
                got: out.len(),
            });
        }
        self.t.get_arrays_into(col, row0, nrows, cell, out).op(|| {
            format!(
                "get {}.{col} rows {row0}..{} (cell {cell:?})",
                self.name,
                row0 + nrows
            )
        })
    }

    /// One cell of an array column of any shape; empty when the cell is undefined.
    pub fn cell<T: Element>(&self, col: &str, row: usize) -> Result<Vec<T>, MsError> {
        match self
            .t
            .cell_shape(col, row)
            .op(|| format!("shape of {}.{col} row {row}", self.name))?
        {
            None => Ok(Vec::new()),
            Some(shape) => self
                .t
                .get_arrays(col, row, 1, &shape)
                .op(|| format!("get {}.{col} row {row}", self.name)),
        }
    }

    pub fn cell_str(&self, col: &str, row: usize) -> Result<Vec<String>, MsError> {
        match self
            .t
            .cell_shape(col, row)
            .op(|| format!("shape of {}.{col} row {row}", self.name))?
        {
            None => Ok(Vec::new()),
            Some(shape) => self
                .t
                .get_string_arrays(col, row, 1, &shape)
                .op(|| format!("get {}.{col} row {row}", self.name)),
        }
    }

    pub fn kw(&self, col: Option<&str>, path: &str) -> Result<Option<KeywordValue>, MsError> {
        self.t.keyword(col, path).op(|| {
            format!(
                "read keyword {} of {}{}",
                path,
                self.name,
                col.map(|c| format!(".{c}")).unwrap_or_default()
            )
        })
    }

    pub fn kw_string(&self, col: Option<&str>, path: &str) -> Result<Option<String>, MsError> {
        Ok(match self.kw(col, path)? {
            Some(KeywordValue::String(s)) => Some(s),
            _ => None,
        })
    }
}
