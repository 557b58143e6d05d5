/*
 * contimg casacore shim: a deliberately small C ABI over casacore's table system.
 *
 * Why a hand-written C surface instead of bindgen over casacore's C++ headers: casacore is a
 * template-heavy C++ library whose exceptions must never unwind into Rust. Every function here
 * catches every C++ exception and reports it as a return code plus a thread-local message, so the
 * Rust side only ever sees plain integers, pointers and byte buffers.
 *
 * Conventions
 * - Every function returning int returns CCS_OK (0) on success or one of the CCS_ERR_* codes; on
 *   failure ccs_last_error() returns a message describing it (valid until the next shim call on
 *   the same thread).
 * - Row numbers and counts are uint64_t (casacore's rownr_t).
 * - Array cell shapes are given in casacore order (first axis varies fastest, Fortran order), e.g.
 *   [ncorr, nchan] for a visibility cell; a buffer holding nrows such cells is therefore C-order
 *   [row][chan][corr]. The shim compares the shape the caller declares with the column's and fails
 *   with CCS_ERR_SHAPE on mismatch; it never guesses.
 * - Buffers of bulk data are wrapped, not copied (casacore StorageInitPolicy::SHARE).
 * - Variable-size results (strings, name lists) are returned as a malloc'ed buffer holding
 *   NUL-terminated strings back to back; free it with ccs_free().
 * - A write that fails (or would run into a full disk) breaks the handle: casacore is told never to
 *   write that table (or its subtables) again, later writes and flushes fail with CCS_ERR_BROKEN,
 *   and close only frees the handle. What is on disk is then incomplete and must be discarded.
 * - Keyword paths: "NAME" addresses a keyword of the table or column; "MEASINFO.Ref" walks into
 *   nested records (created on put when missing).
 */
#ifndef CONTIMG_CASACORE_SHIM_H
#define CONTIMG_CASACORE_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes. */
#define CCS_OK 0
#define CCS_ERR_CASACORE 1 /* an exception thrown by casacore (or the C++ runtime) */
#define CCS_ERR_SHAPE 2    /* declared cell shape or row range does not match the table */
#define CCS_ERR_TYPE 3     /* column / keyword has another data type than requested */
#define CCS_ERR_ARG 4      /* invalid argument (null pointer, unknown dtype, …) */
#define CCS_ERR_NOTFOUND 5 /* no such column / keyword / subtable */
#define CCS_ERR_NOSPACE 6  /* the file system is full (or too full to write the table safely) */
#define CCS_ERR_READONLY 7 /* the file system is read-only */
#define CCS_ERR_NOMEM 8    /* a C++ allocation failed */
#define CCS_ERR_BROKEN 9   /* an earlier write to this table failed; it is no longer written */

/* Element types. */
#define CCS_BOOL 1
#define CCS_INT 2 /* 32-bit */
#define CCS_FLOAT 3
#define CCS_DOUBLE 4
#define CCS_COMPLEX 5  /* 2 x float */
#define CCS_DCOMPLEX 6 /* 2 x double */
#define CCS_STRING 7
#define CCS_RECORD 8
#define CCS_TABLE 9
#define CCS_INT64 10
#define CCS_OTHER 99

#define CCS_MAX_NDIM 8

typedef struct ccs_table ccs_table;

/* Layout of the MAIN table of a new MeasurementSet. Every [ncorr, nchan] column has that fixed
 * cell shape and lives in its own TiledColumnStMan hypercube with tile [ncorr, nchan, rows]. */
typedef struct ccs_ms_layout {
  int32_t ncorr;
  int32_t nchan;
  int32_t with_data;            /* DATA (complex) */
  int32_t with_weight_spectrum; /* WEIGHT_SPECTRUM (float) */
  int32_t with_model_data;      /* MODEL_DATA (complex) */
  int32_t with_corrected_data;  /* CORRECTED_DATA (complex) */
  uint64_t tile_rows_vis;       /* rows per tile for DATA/MODEL_DATA/CORRECTED_DATA/WEIGHT_SPECTRUM */
  uint64_t tile_rows_flag;      /* rows per tile for FLAG */
  uint64_t tile_rows_uvw;       /* rows per tile for UVW */
  uint64_t tile_rows_weight;    /* rows per tile for WEIGHT and SIGMA */
} ccs_ms_layout;

const char *ccs_last_error(void);
void ccs_free(void *p);

/* ---- tables ---- */
/* Create a new MeasurementSet (fails if path exists): required MAIN columns + the optional ones
 * in layout, all default subtables plus SOURCE, MS_VERSION 2.0. Opened read-write. */
int ccs_ms_create(const char *path, const ccs_ms_layout *layout, ccs_table **out);
/* Open an existing table; writable != 0 opens it for update. */
int ccs_table_open(const char *path, int writable, ccs_table **out);
/* Open the subtable stored in table keyword `name` (e.g. "ANTENNA"), in the parent's mode. */
int ccs_table_open_subtable(const ccs_table *parent, const char *name, ccs_table **out);
/* Flush (if writable and not broken) and free the handle. The handle is freed even when an error
 * is returned. */
int ccs_table_close(ccs_table *t);
int ccs_table_flush(ccs_table *t);
int ccs_table_nrows(const ccs_table *t, uint64_t *out);
int ccs_table_is_writable(const ccs_table *t, int *out);
int ccs_table_add_rows(ccs_table *t, uint64_t n);
/* Column names, NUL-separated (count in *count). */
int ccs_table_column_names(const ccs_table *t, char **out, size_t *len, size_t *count);
/* Column description: dtype; ndim (0 = scalar, -1 = array of unknown dimensionality);
 * fixed_shape != 0 when every cell has `shape` (shape must hold CCS_MAX_NDIM entries). */
int ccs_column_info(const ccs_table *t, const char *col, int *dtype, int *ndim, int *fixed_shape,
                    int64_t *shape);
/* Shape of one cell of an array column; *ndim = -1 when the cell is undefined. */
int ccs_cell_shape(const ccs_table *t, const char *col, uint64_t row, int *ndim, int64_t *shape);
/* Add a column (StandardStMan) to a writable table: ndim 0 = scalar; shape NULL = variable shape. */
int ccs_table_add_column(ccs_table *t, const char *name, int dtype, int ndim, const int64_t *shape);

/* ---- bulk column access: rows [row0, row0 + nrows), one call ---- */
int ccs_put_scalar_range(ccs_table *t, const char *col, int dtype, uint64_t row0, uint64_t nrows,
                         const void *buf);
int ccs_get_scalar_range(const ccs_table *t, const char *col, int dtype, uint64_t row0,
                         uint64_t nrows, void *buf);
int ccs_put_string_range(ccs_table *t, const char *col, uint64_t row0, uint64_t nrows,
                         const char *const *strs);
int ccs_get_string_range(const ccs_table *t, const char *col, uint64_t row0, uint64_t nrows,
                         char **out, size_t *len);
/* buf holds nrows * prod(cell_shape) elements of dtype. */
int ccs_put_array_range(ccs_table *t, const char *col, int dtype, uint64_t row0, uint64_t nrows,
                        int ndim, const int64_t *cell_shape, const void *buf);
int ccs_get_array_range(const ccs_table *t, const char *col, int dtype, uint64_t row0,
                        uint64_t nrows, int ndim, const int64_t *cell_shape, void *buf);
/* strs holds nrows * prod(cell_shape) strings. */
int ccs_put_string_array_range(ccs_table *t, const char *col, uint64_t row0, uint64_t nrows,
                               int ndim, const int64_t *cell_shape, const char *const *strs);
int ccs_get_string_array_range(const ccs_table *t, const char *col, uint64_t row0, uint64_t nrows,
                               int ndim, const int64_t *cell_shape, char **out, size_t *len);

/* ---- keywords (col NULL or "" = table keywords) ---- */
/* *dtype = 0 when absent (returns CCS_OK); *is_array and *nelem describe arrays. */
int ccs_kw_info(const ccs_table *t, const char *col, const char *path, int *dtype, int *is_array,
                uint64_t *nelem);
/* Field names of the record at path (path NULL or "" = the keyword set itself). */
int ccs_kw_names(const ccs_table *t, const char *col, const char *path, char **out, size_t *len,
                 size_t *count);
int ccs_kw_put_scalar(ccs_table *t, const char *col, const char *path, int dtype, const void *value);
int ccs_kw_get_scalar(const ccs_table *t, const char *col, const char *path, int dtype, void *out);
int ccs_kw_put_string(ccs_table *t, const char *col, const char *path, const char *value);
int ccs_kw_get_string(const ccs_table *t, const char *col, const char *path, char **out,
                      size_t *len);
int ccs_kw_put_array(ccs_table *t, const char *col, const char *path, int dtype, const void *values,
                     uint64_t n);
int ccs_kw_get_array(const ccs_table *t, const char *col, const char *path, int dtype, void *out,
                     uint64_t n);
int ccs_kw_put_string_array(ccs_table *t, const char *col, const char *path,
                            const char *const *strs, uint64_t n);
int ccs_kw_get_string_array(const ccs_table *t, const char *col, const char *path, char **out,
                            size_t *len, size_t *count);
int ccs_kw_remove(ccs_table *t, const char *col, const char *path);
int ccs_table_add_tiled_column_like(ccs_table *t, const char *name, const char *like);
int ccs_table_create_empty(const char *path, const char *info_type, const char *info_subtype,
                           ccs_table **out);
int ccs_table_copy_subtable(ccs_table *t, const char *src_path, const char *name);
/* One string per data manager: "<SEQNR>\t<TYPE>\t<NAME>\t<column>..." (tab-separated). */
int ccs_table_data_managers(const ccs_table *t, char **out, size_t *len, size_t *count);
/* How a column in a tiled storage manager is stored, as one tab-separated string:
 * "<TYPE>\t<SEQNR>\t<number of hypercubes>\t<bucket bytes>\t<1 if little-endian>\t<table path>\t
 *  <first hypercube's shape, comma-separated>\t<its tile shape>"; no string (count 0) when the
 * column's manager is not tiled or has no hypercube yet. */
int ccs_table_column_tiling(const ccs_table *t, const char *col, char **out, size_t *len, size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* CONTIMG_CASACORE_SHIM_H */
