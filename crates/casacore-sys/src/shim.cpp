// contimg casacore shim: see include/shim.h for the conventions.
//
// Every extern "C" function body runs inside guard(), which catches every C++ exception and turns
// it into an error code plus a thread-local message. Nothing may unwind into Rust.
//
// A try/catch is not enough on a full (or failing) disk: casacore 3.5 writes the last buffer of
// every AipsIO file (table.dat, the storage managers' headers) in ~RegularFileIO, a destructor,
// and an exception leaving a destructor calls std::terminate (SIGABRT) whatever catches it. It
// happens in BaseTable::writeEnd's ios.close() during Table::flush, when any write inside
// PlainTable::putFile unwinds through its AipsIO, and in the flush that ~PlainTable does for a
// writable table. So every call that may make casacore write (see write_guard):
//   - first checks the file system has room for everything the table may still write (the dirty
//     tiles of its caches plus a fixed reserve for the small files) and fails with
//     CCS_ERR_NOSPACE before casacore writes a byte when it has not;
//   - on any failure marks the table and its subtables "do not write" (BaseTable::doNotWrite), so
//     that no later flush and no destructor tries to write into the same full disk again. The
//     handle is then broken: writes and flushes fail at once, close only frees it.

#include "shim.h"

#include <casacore/casa/Arrays/Array.h>
#include <casacore/casa/Arrays/ArrayUtil.h>
#include <casacore/casa/Arrays/IPosition.h>
#include <casacore/casa/Arrays/Slicer.h>
#include <casacore/casa/Arrays/Vector.h>
#include <casacore/casa/BasicSL/Complex.h>
#include <casacore/casa/BasicSL/String.h>
#include <casacore/ms/MeasurementSets/MSSource.h>
#include <casacore/ms/MeasurementSets/MeasurementSet.h>
#include <casacore/tables/DataMan/IncrementalStMan.h>
#include <casacore/tables/DataMan/StandardStMan.h>
#include <casacore/tables/DataMan/TiledColumnStMan.h>
#include <casacore/tables/DataMan/TiledStManAccessor.h>
#include <casacore/tables/Tables/ArrColDesc.h>
#include <casacore/tables/Tables/BaseTable.h>
#include <casacore/tables/Tables/ArrayColumn.h>
#include <casacore/tables/Tables/ColumnDesc.h>
#include <casacore/tables/Tables/ScaColDesc.h>
#include <casacore/tables/Tables/ScalarColumn.h>
#include <casacore/tables/Tables/SetupNewTab.h>
#include <casacore/tables/Tables/Table.h>
#include <casacore/tables/Tables/TableColumn.h>
#include <casacore/tables/Tables/TableDesc.h>
#include <casacore/tables/Tables/TableInfo.h>
#include <casacore/tables/Tables/TableLock.h>
#include <casacore/tables/Tables/TableRecord.h>

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <complex>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace casacore;

struct ccs_table {
  std::unique_ptr<Table> table;
  // Set when a write failed: the table is marked not to be written again (see write_guard).
  bool broken = false;
  std::string broken_why;
};

namespace {

thread_local std::string g_last_error;

// An error raised by the shim itself, carrying its return code.
struct ShimError : std::exception {
  int code;
  std::string msg;
  ShimError(int c, std::string m) : code(c), msg(std::move(m)) {}
  const char *what() const noexcept override { return msg.c_str(); }
};

[[noreturn]] void fail(int code, const std::string &msg) { throw ShimError(code, msg); }

// casacore reports I/O failures as AipsError with strerror() in the message; recover the cause so
// that callers can say "disk full" or "read-only file system" instead of "casacore error".
int classify(const std::string &msg) {
  for (int e : {ENOSPC, EDQUOT})
    if (msg.find(std::strerror(e)) != std::string::npos) return CCS_ERR_NOSPACE;
  if (msg.find(std::strerror(EROFS)) != std::string::npos) return CCS_ERR_READONLY;
  return CCS_ERR_CASACORE;
}

template <class F> int guard(F &&f) noexcept {
  try {
    f();
    return CCS_OK;
  } catch (const ShimError &e) {
    g_last_error = e.msg;
    return e.code;
  } catch (const std::bad_alloc &) {
    g_last_error = "out of memory (a C++ allocation failed)";
    return CCS_ERR_NOMEM;
  } catch (const std::exception &e) {
    g_last_error = e.what();
    return classify(g_last_error);
  } catch (...) {
    g_last_error = "unknown C++ exception";
    return CCS_ERR_CASACORE;
  }
}

void need(const void *p, const char *what) {
  if (p == nullptr) fail(CCS_ERR_ARG, std::string("null pointer: ") + what);
}

Table &tab(const ccs_table *t) {
  if (t == nullptr || !t->table) fail(CCS_ERR_ARG, "null table handle");
  return *t->table;
}

// ---- full disks (see the comment at the top) ----

// casacore keeps the "do not write" switch on BaseTable, behind Table's private baseTablePtr();
// shouldNotWrite() is protected. An explicit template instantiation may name private members
// (C++17 [temp.explicit]/14), which is the standard-conforming way to reach them without
// patching casacore.
template <class Tag, typename Tag::type M> struct Expose {
  friend typename Tag::type get(Tag) { return M; }
};
struct TableBasePtr {
  using type = BaseTable *(Table::*)() const;
  friend type get(TableBasePtr);
};
struct BaseShouldNotWrite {
  using type = Bool (BaseTable::*)() const;
  friend type get(BaseShouldNotWrite);
};
template struct Expose<TableBasePtr, &Table::baseTablePtr>;
template struct Expose<BaseShouldNotWrite, &BaseTable::shouldNotWrite>;

BaseTable *base_of(const Table &t) { return (t.*get(TableBasePtr()))(); }
bool write_disabled(const Table &t) { return (base_of(t)->*get(BaseShouldNotWrite()))(); }

// Room kept free for what a flush writes besides the cached tiles: table.dat, storage manager
// headers, the lock file, the SSM/ISM buckets and the subtables (a few MB for a DSA-110 MS).
// The environment variable lets tests exercise the check without filling gigabytes.
uint64_t reserve_bytes() {
  static const uint64_t r = [] {
    const char *v = std::getenv("CONTIMG_CASACORE_RESERVE_BYTES");
    if (v != nullptr && *v != '\0') return uint64_t(std::strtoull(v, nullptr, 10));
    return uint64_t(16) << 20;
  }();
  return r;
}

// Upper bound of the bytes the tile caches of `t` hold (and may write at the next flush).
uint64_t cached_tile_bytes(const Table &t) {
  uint64_t total = 0;
  Record info = t.dataManagerInfo();
  for (uInt i = 0; i < info.nfields(); i++) {
    const Record &dm = info.subRecord(i);
    String type = dm.asString("TYPE");
    if (!type.startsWith("Tiled")) continue;
    ROTiledStManAccessor acc(t, dm.asString("NAME"));
    for (uInt h = 0; h < acc.nhypercubes(); h++) total += uint64_t(acc.getCacheSize(h)) * acc.getBucketSize(h);
  }
  return total;
}

uint64_t free_bytes(const std::string &dir) {
  struct statvfs st;
  if (statvfs(dir.c_str(), &st) != 0) return UINT64_MAX; // cannot tell: let casacore try
  return uint64_t(st.f_bavail) * st.f_frsize;
}

std::string mb(uint64_t b) {
  std::ostringstream os;
  os.precision(1);
  os << std::fixed << double(b) / 1e6 << " MB";
  return os.str();
}

// Fails (before casacore writes anything) when the file system holding `dir` has less room than
// `pending` bytes plus the reserve.
void ensure_space(const std::string &dir, uint64_t pending, const std::string &what) {
  uint64_t need = pending + reserve_bytes();
  uint64_t have = free_bytes(dir);
  if (have < need)
    fail(CCS_ERR_NOSPACE, what + ": " + std::strerror(ENOSPC) + " (" + mb(have) + " free in " + dir +
                              ", writing the table safely needs " + mb(need) + ")");
}

// `incoming`: the bytes the call itself hands to casacore. A put may evict (write) as many bytes
// of full tiles as it brings in, on top of what the caches already hold; counting them keeps the
// reserve free for the small files that the destructors write whatever happens (an SSM's
// StManArrayFile flushes its buffer in ~StManArrayFile, even for a table marked doNotWrite).
void ensure_space(const Table &t, uint64_t incoming) {
  if (!t.isWritable()) return;
  uint64_t pending = cached_tile_bytes(t);
  pending = pending > UINT64_MAX - incoming ? UINT64_MAX : pending + incoming;
  ensure_space(std::string(t.tableName()), pending, std::string(t.tableName()));
}

// Bytes of `nrows` values (cells of `cell_shape`) of `dtype`, saturating; 0 for arguments the
// call will refuse anyway.
uint64_t put_bytes(int dtype, uint64_t nrows, int ndim, const int64_t *cell_shape) {
  uint64_t elem = 0;
  switch (dtype) {
  case CCS_BOOL: elem = sizeof(Bool); break;
  case CCS_INT: elem = sizeof(Int); break;
  case CCS_FLOAT: elem = sizeof(Float); break;
  case CCS_DOUBLE: elem = sizeof(Double); break;
  case CCS_COMPLEX: elem = sizeof(Complex); break;
  case CCS_DCOMPLEX: elem = sizeof(DComplex); break;
  case CCS_INT64: elem = sizeof(Int64); break;
  default: return 0;
  }
  unsigned __int128 total = (unsigned __int128)elem * nrows;
  if (ndim > 0 && cell_shape != nullptr)
    for (int i = 0; i < ndim && i < CCS_MAX_NDIM; i++) {
      if (cell_shape[i] < 0) return 0;
      total *= uint64_t(cell_shape[i]);
      if (total > UINT64_MAX) return UINT64_MAX;
    }
  return total > UINT64_MAX ? UINT64_MAX : uint64_t(total);
}

// Tell casacore never to write `t` and its subtables again: neither a flush nor a destructor.
void abandon(const Table &t, int depth = 0) noexcept {
  try {
    if (t.isNull()) return;
    base_of(t)->doNotWrite();
    if (depth > 2) return;
    const TableRecord &kw = t.keywordSet();
    for (uInt i = 0; i < kw.nfields(); i++)
      if (kw.dataType(i) == TpTable) abandon(kw.asTable(i), depth + 1);
  } catch (...) {
    // Best effort: the main table is already marked.
  }
}

// guard() for a call that may write to `t`: refuses a broken handle, checks for room first, and
// breaks the handle when anything fails after casacore may have started writing.
template <class F> int write_guard(ccs_table *t, const char *op, F &&f, uint64_t incoming = 0) noexcept {
  bool started = false;
  int rc = guard([&] {
    Table &tb = tab(t);
    if (t->broken || write_disabled(tb))
      fail(CCS_ERR_BROKEN, std::string(op) + " on " + std::string(tb.tableName()) +
                               ": the table is no longer written after an earlier failure" +
                               (t->broken_why.empty() ? std::string() : " (" + t->broken_why + ")"));
    ensure_space(tb, incoming);
    started = true;
    f(tb);
  });
  if (rc != CCS_OK && t != nullptr && t->table && (started || rc == CCS_ERR_NOSPACE) && rc != CCS_ERR_BROKEN &&
      rc != CCS_ERR_ARG && rc != CCS_ERR_SHAPE && rc != CCS_ERR_TYPE && rc != CCS_ERR_NOTFOUND) {
    t->broken = true;
    t->broken_why = g_last_error;
    abandon(*t->table);
  }
  return rc;
}

std::string shape_str(const IPosition &s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); i++) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

const char *dtype_name(int dt) {
  switch (dt) {
  case CCS_BOOL: return "Bool";
  case CCS_INT: return "Int";
  case CCS_FLOAT: return "Float";
  case CCS_DOUBLE: return "Double";
  case CCS_COMPLEX: return "Complex";
  case CCS_DCOMPLEX: return "DComplex";
  case CCS_STRING: return "String";
  case CCS_RECORD: return "Record";
  case CCS_TABLE: return "Table";
  case CCS_INT64: return "Int64";
  default: return "other";
  }
}

int from_casa(DataType dt, bool *is_array) {
  bool arr = false;
  int out = CCS_OTHER;
  switch (dt) {
  case TpBool: out = CCS_BOOL; break;
  case TpInt: out = CCS_INT; break;
  case TpFloat: out = CCS_FLOAT; break;
  case TpDouble: out = CCS_DOUBLE; break;
  case TpComplex: out = CCS_COMPLEX; break;
  case TpDComplex: out = CCS_DCOMPLEX; break;
  case TpString: out = CCS_STRING; break;
  case TpInt64: out = CCS_INT64; break;
  case TpRecord: out = CCS_RECORD; break;
  case TpTable: out = CCS_TABLE; break;
  case TpArrayBool: out = CCS_BOOL; arr = true; break;
  case TpArrayInt: out = CCS_INT; arr = true; break;
  case TpArrayFloat: out = CCS_FLOAT; arr = true; break;
  case TpArrayDouble: out = CCS_DOUBLE; arr = true; break;
  case TpArrayComplex: out = CCS_COMPLEX; arr = true; break;
  case TpArrayDComplex: out = CCS_DCOMPLEX; arr = true; break;
  case TpArrayString: out = CCS_STRING; arr = true; break;
  case TpArrayInt64: out = CCS_INT64; arr = true; break;
  default: break;
  }
  if (is_array) *is_array = arr;
  return out;
}

// Copy strings into one malloc'ed buffer of NUL-terminated strings.
void pack_strings(const std::vector<std::string> &v, char **out, size_t *len) {
  size_t total = 0;
  for (const auto &s : v) total += s.size() + 1;
  char *buf = static_cast<char *>(std::malloc(total ? total : 1));
  if (buf == nullptr) throw std::bad_alloc();
  size_t off = 0;
  for (const auto &s : v) {
    std::memcpy(buf + off, s.data(), s.size());
    off += s.size();
    buf[off++] = '\0';
  }
  *out = buf;
  *len = total;
}

const ColumnDesc &column_desc(const Table &t, const char *col) {
  need(col, "column name");
  const TableDesc &td = t.tableDesc();
  if (!td.isColumn(col))
    fail(CCS_ERR_NOTFOUND, std::string("no column ") + col + " in table " + std::string(t.tableName()));
  return td.columnDesc(col);
}

// Check the column is a scalar of dtype and the row range is inside the table.
void check_scalar(const Table &t, const char *col, int dtype, uint64_t row0, uint64_t n) {
  const ColumnDesc &cd = column_desc(t, col);
  int have = from_casa(cd.dataType(), nullptr);
  if (!cd.isScalar() || have != dtype)
    fail(CCS_ERR_TYPE, std::string("column ") + col + " is " + (cd.isScalar() ? "a scalar " : "an array ") +
                           dtype_name(have) + " column, not a scalar " + dtype_name(dtype) + " column");
  if (row0 + n > t.nrow())
    fail(CCS_ERR_SHAPE, std::string("column ") + col + ": rows [" + std::to_string(row0) + ", " +
                            std::to_string(row0 + n) + ") outside table of " + std::to_string(t.nrow()) +
                            " rows");
}

IPosition make_shape(int ndim, const int64_t *shape) {
  if (ndim < 1 || ndim > CCS_MAX_NDIM) fail(CCS_ERR_ARG, "cell ndim must be 1.." + std::to_string(CCS_MAX_NDIM));
  need(shape, "cell shape");
  IPosition s(ndim);
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0) fail(CCS_ERR_ARG, "negative cell shape");
    s[i] = shape[i];
  }
  return s;
}

// Check the column is an array of dtype whose cells in [row0, row0+n) have shape `cell`.
// Fixed-shape columns are checked against the description; for variable-shape columns a put sets
// the shape (casacore does it per cell) and a get checks the first and last cell of the range
// (casacore itself rejects ranges whose cell shapes vary).
void check_array(const Table &t, const char *col, int dtype, uint64_t row0, uint64_t n,
                 const IPosition &cell, bool for_get) {
  const ColumnDesc &cd = column_desc(t, col);
  int have = from_casa(cd.dataType(), nullptr);
  if (!cd.isArray() || have != dtype)
    fail(CCS_ERR_TYPE, std::string("column ") + col + " is " + (cd.isScalar() ? "a scalar " : "an array ") +
                           dtype_name(have) + " column, not an array " + dtype_name(dtype) + " column");
  if (row0 + n > t.nrow())
    fail(CCS_ERR_SHAPE, std::string("column ") + col + ": rows [" + std::to_string(row0) + ", " +
                            std::to_string(row0 + n) + ") outside table of " + std::to_string(t.nrow()) +
                            " rows");
  if (cd.ndim() > 0 && size_t(cd.ndim()) != cell.size())
    fail(CCS_ERR_SHAPE, std::string("column ") + col + ": cells have " + std::to_string(cd.ndim()) +
                            " axes, caller gave shape " + shape_str(cell));
  if (cd.isFixedShape()) {
    if (!cd.shape().isEqual(cell))
      fail(CCS_ERR_SHAPE, std::string("column ") + col + ": cell shape is " + shape_str(cd.shape()) +
                              " (casacore order), caller gave " + shape_str(cell));
  } else if (for_get && n > 0) {
    TableColumn tc(t, col);
    for (uint64_t r : {row0, row0 + n - 1}) {
      if (!tc.isDefined(r))
        fail(CCS_ERR_SHAPE, std::string("column ") + col + ": cell at row " + std::to_string(r) + " is undefined");
      IPosition s = tc.shape(r);
      if (!s.isEqual(cell))
        fail(CCS_ERR_SHAPE, std::string("column ") + col + ": cell at row " + std::to_string(r) + " has shape " +
                                shape_str(s) + ", caller gave " + shape_str(cell));
    }
  }
}

Slicer row_slicer(uint64_t row0, uint64_t n) { return Slicer(IPosition(1, row0), IPosition(1, n)); }

IPosition full_shape(const IPosition &cell, uint64_t n) {
  IPosition s(cell.size() + 1);
  for (size_t i = 0; i < cell.size(); i++) s[i] = cell[i];
  s[cell.size()] = n;
  return s;
}

template <class T> void put_scalar_t(Table &t, const char *col, uint64_t row0, uint64_t n, const void *buf) {
  ScalarColumn<T> c(t, col);
  Vector<T> v(IPosition(1, n), const_cast<T *>(static_cast<const T *>(buf)), SHARE);
  c.putColumnRange(row_slicer(row0, n), v);
}

template <class T> void get_scalar_t(const Table &t, const char *col, uint64_t row0, uint64_t n, void *buf) {
  ScalarColumn<T> c(t, col);
  Vector<T> v(IPosition(1, n), static_cast<T *>(buf), SHARE);
  c.getColumnRange(row_slicer(row0, n), v, False);
}

template <class T>
void put_array_t(Table &t, const char *col, uint64_t row0, uint64_t n, const IPosition &cell, const void *buf) {
  ArrayColumn<T> c(t, col);
  Array<T> a(full_shape(cell, n), const_cast<T *>(static_cast<const T *>(buf)), SHARE);
  c.putColumnRange(row_slicer(row0, n), a);
}

template <class T>
void get_array_t(const Table &t, const char *col, uint64_t row0, uint64_t n, const IPosition &cell, void *buf) {
  ArrayColumn<T> c(t, col);
  Array<T> a(full_shape(cell, n), static_cast<T *>(buf), SHARE);
  c.getColumnRange(row_slicer(row0, n), a, False);
  // getColumnRange fills the given storage when the shapes conform; make sure it did not
  // silently re-point the array elsewhere.
  if (a.data() != static_cast<T *>(buf)) fail(CCS_ERR_CASACORE, "casacore did not fill the caller's buffer");
}

// ---- keyword helpers ----

std::vector<std::string> split_path(const char *path) {
  need(path, "keyword path");
  std::vector<std::string> parts;
  std::string cur;
  for (const char *p = path; *p; p++) {
    if (*p == '.') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += *p;
    }
  }
  parts.push_back(cur);
  for (const auto &s : parts)
    if (s.empty()) fail(CCS_ERR_ARG, std::string("bad keyword path '") + path + "'");
  return parts;
}

bool has_col(const char *col) { return col != nullptr && *col != '\0'; }

// Run f(record, last_name) on the (read-write) record holding the last path element, creating
// intermediate records as needed.
template <class F> void with_rw_kw(Table &t, const char *col, const char *path, F &&f) {
  std::vector<std::string> parts = split_path(path);
  std::unique_ptr<TableColumn> tc;
  TableRecord *rec;
  if (has_col(col)) {
    column_desc(t, col);
    tc.reset(new TableColumn(t, col));
    rec = &tc->rwKeywordSet();
  } else {
    rec = &t.rwKeywordSet();
  }
  for (size_t i = 0; i + 1 < parts.size(); i++) {
    const std::string &name = parts[i];
    if (rec->isDefined(name) && rec->dataType(name) != TpRecord) rec->removeField(name);
    if (!rec->isDefined(name)) rec->defineRecord(name, TableRecord());
    rec = &rec->rwSubRecord(name);
  }
  f(*rec, parts.back());
}

// Run f(record, last_name) on the record holding the last path element; f is not called (and
// false returned) when any element is missing.
template <class F> bool with_ro_kw(const Table &t, const char *col, const char *path, F &&f) {
  std::vector<std::string> parts = split_path(path);
  std::unique_ptr<TableColumn> tc;
  const TableRecord *rec;
  if (has_col(col)) {
    column_desc(t, col);
    tc.reset(new TableColumn(t, col));
    rec = &tc->keywordSet();
  } else {
    rec = &t.keywordSet();
  }
  for (size_t i = 0; i + 1 < parts.size(); i++) {
    const std::string &name = parts[i];
    if (!rec->isDefined(name) || rec->dataType(name) != TpRecord) return false;
    rec = &rec->subRecord(name);
  }
  if (!rec->isDefined(parts.back())) return false;
  f(*rec, parts.back());
  return true;
}

template <class F> void need_kw(const Table &t, const char *col, const char *path, F &&f) {
  if (!with_ro_kw(t, col, path, f))
    fail(CCS_ERR_NOTFOUND, std::string("no keyword ") + (path ? path : "") + (has_col(col) ? " in column " : "") +
                               (has_col(col) ? col : "") + " of table " + std::string(t.tableName()));
}

// Replace a field whose type differs (TableRecord::define refuses to change a field's type).
void prepare_define(TableRecord &rec, const std::string &name, DataType dt) {
  if (rec.isDefined(name) && rec.dataType(name) != dt) rec.removeField(name);
}

void check_kw_type(const TableRecord &rec, const std::string &name, int dtype, bool want_array) {
  bool is_arr = false;
  int have = from_casa(rec.dataType(name), &is_arr);
  bool numeric_ok = (dtype == CCS_DOUBLE || dtype == CCS_FLOAT) &&
                    (have == CCS_DOUBLE || have == CCS_FLOAT || have == CCS_INT || have == CCS_INT64);
  bool int_ok = dtype == CCS_INT && (have == CCS_INT);
  if (is_arr != want_array || !(have == dtype || numeric_ok || int_ok))
    fail(CCS_ERR_TYPE, "keyword " + name + " is " + (is_arr ? "an array of " : "") + dtype_name(have) + ", not " +
                           (want_array ? "an array of " : "") + dtype_name(dtype));
}

} // namespace

// ===================================================================================== C ABI

extern "C" {

const char *ccs_last_error(void) { return g_last_error.c_str(); }

void ccs_free(void *p) { std::free(p); }

int ccs_ms_create(const char *path, const ccs_ms_layout *layout, ccs_table **out) {
  return guard([&] {
    need(path, "path");
    need(layout, "layout");
    need(out, "out");
    *out = nullptr;
    const ccs_ms_layout &L = *layout;
    if (L.ncorr < 1 || L.nchan < 1) fail(CCS_ERR_ARG, "ncorr and nchan must be >= 1");
    auto rows = [](uint64_t r) -> ssize_t { return r < 1 ? 1 : ssize_t(r); };
    IPosition cell(2, L.ncorr, L.nchan);

    TableDesc td = MS::requiredTableDesc();
    // Fixed cell shapes: every row of this MS has the same [ncorr, nchan] cell, and a fixed shape
    // lets TiledColumnStMan store the column as one hypercube without per-row shape records.
    td.rwColumnDesc(MS::columnName(MS::FLAG)).setShape(cell);
    td.rwColumnDesc(MS::columnName(MS::WEIGHT)).setShape(IPosition(1, L.ncorr));
    td.rwColumnDesc(MS::columnName(MS::SIGMA)).setShape(IPosition(1, L.ncorr));
    std::vector<std::string> vis;
    if (L.with_data) {
      MS::addColumnToDesc(td, MS::DATA, cell, ColumnDesc::FixedShape);
      vis.push_back(MS::columnName(MS::DATA));
    }
    if (L.with_weight_spectrum) {
      MS::addColumnToDesc(td, MS::WEIGHT_SPECTRUM, cell, ColumnDesc::FixedShape);
      vis.push_back(MS::columnName(MS::WEIGHT_SPECTRUM));
    }
    if (L.with_model_data) {
      MS::addColumnToDesc(td, MS::MODEL_DATA, cell, ColumnDesc::FixedShape);
      vis.push_back(MS::columnName(MS::MODEL_DATA));
    }
    if (L.with_corrected_data) {
      MS::addColumnToDesc(td, MS::CORRECTED_DATA, cell, ColumnDesc::FixedShape);
      vis.push_back(MS::columnName(MS::CORRECTED_DATA));
    }

    struct Tiled {
      std::string col;
      IPosition tile;
    };
    std::vector<Tiled> tiled;
    for (const auto &c : vis) tiled.push_back({c, IPosition(3, L.ncorr, L.nchan, rows(L.tile_rows_vis))});
    tiled.push_back({"FLAG", IPosition(3, L.ncorr, L.nchan, rows(L.tile_rows_flag))});
    tiled.push_back({"UVW", IPosition(2, 3, rows(L.tile_rows_uvw))});
    tiled.push_back({"WEIGHT", IPosition(2, L.ncorr, rows(L.tile_rows_weight))});
    tiled.push_back({"SIGMA", IPosition(2, L.ncorr, rows(L.tile_rows_weight))});
    for (const auto &c : tiled)
      td.defineHypercolumn("Tiled" + c.col, c.tile.size(), Vector<String>(1, String(c.col)));

    // Room for the empty MS (a few hundred kB) and the reserve its first flush needs.
    std::string parent(path);
    parent = parent.find('/') == std::string::npos ? "." : parent.substr(0, parent.rfind('/'));
    if (parent.empty()) parent = "/";
    // casacore's own message for a directory it cannot make ("does not exist and cannot be
    // created") drops errno; say why.
    if (access(parent.c_str(), W_OK) != 0) {
      int e = errno;
      fail(e == EROFS ? CCS_ERR_READONLY : CCS_ERR_CASACORE,
           std::string("create ") + path + ": cannot write in " + parent + ": " + std::strerror(e));
    }
    ensure_space(parent, 0, std::string("create ") + path);

    SetupNewTable setup(path, td, Table::NewNoReplace);
    // Columns that change rarely (once per integration or never) cost almost nothing in
    // IncrementalStMan, which stores a value only when it changes.
    IncrementalStMan ism("ISMData");
    setup.bindAll(ism);
    // Columns that change every row go to StandardStMan.
    StandardStMan ssm("SSMData");
    for (const char *c : {"ANTENNA1", "ANTENNA2", "DATA_DESC_ID", "FLAG_ROW", "FLAG_CATEGORY"})
      setup.bindColumn(c, ssm);
    for (const auto &c : tiled) setup.bindColumn(c.col, TiledColumnStMan("Tiled" + c.col, c.tile));

    // The writer is the only user of a new MS (it is written in a staging area and moved into
    // place), so it holds a permanent lock instead of re-acquiring one on every access.
    std::unique_ptr<MeasurementSet> ms(new MeasurementSet(setup, TableLock(TableLock::PermanentLocking), 0, False));
    // If anything below throws, the half-made MS must not be written by its destructors (the
    // caller removes the directory).
    struct AbandonOnThrow {
      std::unique_ptr<MeasurementSet> &ms;
      bool armed = true;
      ~AbandonOnThrow() {
        if (armed && ms) abandon(*ms);
      }
    } abandon_on_throw{ms};
    ms->createDefaultSubtables(Table::New);
    {
      SetupNewTable src(ms->sourceTableName(), MSSource::requiredTableDesc(), Table::New);
      ms->rwKeywordSet().defineTable(MS::keywordName(MS::SOURCE), Table(src));
    }
    ms->initRefs();
    ms->rwKeywordSet().define("MS_VERSION", Float(2.0));
    {
      // MS v2: FLAG_CATEGORY names its categories in the CATEGORY keyword (CASA's default set).
      TableColumn fc(*ms, "FLAG_CATEGORY");
      Vector<String> cats(3);
      cats[0] = "FLAG_CMD";
      cats[1] = "ORIGINAL";
      cats[2] = "USER";
      fc.rwKeywordSet().define("CATEGORY", cats);
    }
    auto *h = new ccs_table;
    abandon_on_throw.armed = false;
    h->table.reset(ms.release());
    *out = h;
  });
}

int ccs_table_open(const char *path, int writable, ccs_table **out) {
  return guard([&] {
    need(path, "path");
    need(out, "out");
    *out = nullptr;
    if (!Table::isReadable(path)) fail(CCS_ERR_NOTFOUND, std::string("no readable table at ") + path);
    // Readers take no read locks (AutoNoReadLocking, python-casacore's 'autonoread'), so a
    // reader never waits on, nor blocks, a process that has the table open for writing.
    std::unique_ptr<Table> t(writable ? new Table(path, TableLock(TableLock::AutoLocking), Table::Update)
                                      : new Table(path, TableLock(TableLock::AutoNoReadLocking), Table::Old));
    auto *h = new ccs_table;
    h->table = std::move(t);
    *out = h;
  });
}

int ccs_table_open_subtable(const ccs_table *parent, const char *name, ccs_table **out) {
  return guard([&] {
    Table &p = tab(parent);
    need(name, "subtable name");
    need(out, "out");
    *out = nullptr;
    const TableRecord &kw = p.keywordSet();
    if (!kw.isDefined(name) || kw.dataType(name) != TpTable)
      fail(CCS_ERR_NOTFOUND, std::string("no subtable ") + name + " in " + std::string(p.tableName()));
    std::unique_ptr<Table> t(new Table(kw.asTable(name)));
    if (p.isWritable() && !t->isWritable()) t->reopenRW();
    auto *h = new ccs_table;
    h->table = std::move(t);
    *out = h;
  });
}

int ccs_table_close(ccs_table *t) {
  // Flush here, inside the guards, so that the destructor finds nothing left to write; when the
  // flush fails (or the handle is broken) the table is abandoned and the destructor writes nothing.
  int rc = CCS_OK;
  if (t != nullptr && t->table && t->table->isWritable() && !t->broken && !write_disabled(*t->table))
    rc = write_guard(t, "close", [&](Table &tb) { tb.flush(); });
  if (t != nullptr) {
    int rc2 = guard([&] { delete t; });
    if (rc == CCS_OK) rc = rc2;
  } else {
    rc = guard([&] { tab(t); });
  }
  return rc;
}

int ccs_table_flush(ccs_table *t) {
  return write_guard(t, "flush", [&](Table &tb) {
    if (tb.isWritable()) tb.flush();
  });
}

int ccs_table_nrows(const ccs_table *t, uint64_t *out) {
  return guard([&] {
    need(out, "out");
    *out = tab(t).nrow();
  });
}

int ccs_table_is_writable(const ccs_table *t, int *out) {
  return guard([&] {
    need(out, "out");
    *out = tab(t).isWritable() ? 1 : 0;
  });
}

int ccs_table_add_rows(ccs_table *t, uint64_t n) {
  return write_guard(t, "table_add_rows", [&](Table &tb) {
    if (n > 0) tb.addRow(n, False);
  });
}

int ccs_table_column_names(const ccs_table *t, char **out, size_t *len, size_t *count) {
  return guard([&] {
    need(out, "out");
    need(len, "len");
    need(count, "count");
    Vector<String> names = tab(t).tableDesc().columnNames();
    std::vector<std::string> v(names.begin(), names.end());
    *count = v.size();
    pack_strings(v, out, len);
  });
}

int ccs_column_info(const ccs_table *t, const char *col, int *dtype, int *ndim, int *fixed_shape, int64_t *shape) {
  return guard([&] {
    need(dtype, "dtype");
    need(ndim, "ndim");
    need(fixed_shape, "fixed_shape");
    need(shape, "shape");
    const ColumnDesc &cd = column_desc(tab(t), col);
    *dtype = from_casa(cd.dataType(), nullptr);
    *fixed_shape = 0;
    if (cd.isScalar()) {
      *ndim = 0;
      return;
    }
    *ndim = cd.ndim() > 0 ? cd.ndim() : -1;
    if (*ndim > CCS_MAX_NDIM) fail(CCS_ERR_SHAPE, std::string("column ") + col + " has too many axes");
    if (cd.isFixedShape() && cd.shape().size() > 0) {
      *fixed_shape = 1;
      *ndim = cd.shape().size();
      for (size_t i = 0; i < cd.shape().size(); i++) shape[i] = cd.shape()[i];
    }
  });
}

int ccs_cell_shape(const ccs_table *t, const char *col, uint64_t row, int *ndim, int64_t *shape) {
  return guard([&] {
    need(ndim, "ndim");
    need(shape, "shape");
    Table &tb = tab(t);
    const ColumnDesc &cd = column_desc(tb, col);
    if (!cd.isArray()) fail(CCS_ERR_TYPE, std::string("column ") + col + " is not an array column");
    if (row >= tb.nrow())
      fail(CCS_ERR_SHAPE, std::string("column ") + col + ": row " + std::to_string(row) + " outside table of " +
                              std::to_string(tb.nrow()) + " rows");
    TableColumn tc(tb, col);
    if (!tc.isDefined(row)) {
      *ndim = -1;
      return;
    }
    IPosition s = tc.shape(row);
    if (s.size() > CCS_MAX_NDIM) fail(CCS_ERR_SHAPE, std::string("column ") + col + " has too many axes");
    *ndim = s.size();
    for (size_t i = 0; i < s.size(); i++) shape[i] = s[i];
  });
}

int ccs_table_add_column(ccs_table *t, const char *name, int dtype, int ndim, const int64_t *shape) {
  return write_guard(t, "table_add_column", [&](Table &tb) {
    need(name, "column name");
    if (tb.tableDesc().isColumn(name)) fail(CCS_ERR_ARG, std::string("column ") + name + " already exists");
    IPosition shp;
    if (ndim > 0 && shape != nullptr) shp = make_shape(ndim, shape);
    auto add = [&](auto tag) {
      using T = decltype(tag);
      if (ndim == 0) {
        tb.addColumn(ScalarColumnDesc<T>(name));
      } else if (shape != nullptr) {
        tb.addColumn(ArrayColumnDesc<T>(name, shp, ColumnDesc::FixedShape));
      } else {
        tb.addColumn(ArrayColumnDesc<T>(name, ndim));
      }
    };
    switch (dtype) {
    case CCS_BOOL: add(Bool()); break;
    case CCS_INT: add(Int()); break;
    case CCS_FLOAT: add(Float()); break;
    case CCS_DOUBLE: add(Double()); break;
    case CCS_COMPLEX: add(Complex()); break;
    case CCS_DCOMPLEX: add(DComplex()); break;
    case CCS_STRING: add(String()); break;
    default: fail(CCS_ERR_ARG, "unsupported column dtype " + std::to_string(dtype));
    }
  });
}

int ccs_put_scalar_range(ccs_table *t, const char *col, int dtype, uint64_t row0, uint64_t nrows, const void *buf) {
  return write_guard(t, "put_scalar_range", [&](Table &tb) {
    check_scalar(tb, col, dtype, row0, nrows);
    if (nrows == 0) return;
    need(buf, "buffer");
    switch (dtype) {
    case CCS_BOOL: put_scalar_t<Bool>(tb, col, row0, nrows, buf); break;
    case CCS_INT: put_scalar_t<Int>(tb, col, row0, nrows, buf); break;
    case CCS_FLOAT: put_scalar_t<Float>(tb, col, row0, nrows, buf); break;
    case CCS_DOUBLE: put_scalar_t<Double>(tb, col, row0, nrows, buf); break;
    case CCS_COMPLEX: put_scalar_t<Complex>(tb, col, row0, nrows, buf); break;
    case CCS_DCOMPLEX: put_scalar_t<DComplex>(tb, col, row0, nrows, buf); break;
    default: fail(CCS_ERR_ARG, "unsupported dtype for ccs_put_scalar_range");
    }
  }, put_bytes(dtype, nrows, 0, nullptr));
}

int ccs_get_scalar_range(const ccs_table *t, const char *col, int dtype, uint64_t row0, uint64_t nrows, void *buf) {
  return guard([&] {
    Table &tb = tab(t);
    check_scalar(tb, col, dtype, row0, nrows);
    if (nrows == 0) return;
    need(buf, "buffer");
    switch (dtype) {
    case CCS_BOOL: get_scalar_t<Bool>(tb, col, row0, nrows, buf); break;
    case CCS_INT: get_scalar_t<Int>(tb, col, row0, nrows, buf); break;
    case CCS_FLOAT: get_scalar_t<Float>(tb, col, row0, nrows, buf); break;
    case CCS_DOUBLE: get_scalar_t<Double>(tb, col, row0, nrows, buf); break;
    case CCS_COMPLEX: get_scalar_t<Complex>(tb, col, row0, nrows, buf); break;
    case CCS_DCOMPLEX: get_scalar_t<DComplex>(tb, col, row0, nrows, buf); break;
    default: fail(CCS_ERR_ARG, "unsupported dtype for ccs_get_scalar_range");
    }
  });
}

int ccs_put_string_range(ccs_table *t, const char *col, uint64_t row0, uint64_t nrows, const char *const *strs) {
  return write_guard(t, "put_string_range", [&](Table &tb) {
    check_scalar(tb, col, CCS_STRING, row0, nrows);
    if (nrows == 0) return;
    need(strs, "strings");
    Vector<String> v(nrows);
    for (uint64_t i = 0; i < nrows; i++) {
      need(strs[i], "string");
      v[i] = strs[i];
    }
    ScalarColumn<String>(tb, col).putColumnRange(row_slicer(row0, nrows), v);
  });
}

int ccs_get_string_range(const ccs_table *t, const char *col, uint64_t row0, uint64_t nrows, char **out, size_t *len) {
  return guard([&] {
    need(out, "out");
    need(len, "len");
    Table &tb = tab(t);
    check_scalar(tb, col, CCS_STRING, row0, nrows);
    std::vector<std::string> v;
    if (nrows > 0) {
      Vector<String> s = ScalarColumn<String>(tb, col).getColumnRange(row_slicer(row0, nrows));
      v.assign(s.begin(), s.end());
    }
    pack_strings(v, out, len);
  });
}

int ccs_put_array_range(ccs_table *t, const char *col, int dtype, uint64_t row0, uint64_t nrows, int ndim,
                        const int64_t *cell_shape, const void *buf) {
  return write_guard(t, "put_array_range", [&](Table &tb) {
    IPosition cell = make_shape(ndim, cell_shape);
    check_array(tb, col, dtype, row0, nrows, cell, false);
    if (nrows == 0) return;
    need(buf, "buffer");
    switch (dtype) {
    case CCS_BOOL: put_array_t<Bool>(tb, col, row0, nrows, cell, buf); break;
    case CCS_INT: put_array_t<Int>(tb, col, row0, nrows, cell, buf); break;
    case CCS_FLOAT: put_array_t<Float>(tb, col, row0, nrows, cell, buf); break;
    case CCS_DOUBLE: put_array_t<Double>(tb, col, row0, nrows, cell, buf); break;
    case CCS_COMPLEX: put_array_t<Complex>(tb, col, row0, nrows, cell, buf); break;
    case CCS_DCOMPLEX: put_array_t<DComplex>(tb, col, row0, nrows, cell, buf); break;
    default: fail(CCS_ERR_ARG, "unsupported dtype for ccs_put_array_range");
    }
  }, put_bytes(dtype, nrows, ndim, cell_shape));
}

int ccs_get_array_range(const ccs_table *t, const char *col, int dtype, uint64_t row0, uint64_t nrows, int ndim,
                        const int64_t *cell_shape, void *buf) {
  return guard([&] {
    Table &tb = tab(t);
    IPosition cell = make_shape(ndim, cell_shape);
    check_array(tb, col, dtype, row0, nrows, cell, true);
    if (nrows == 0 || cell.product() == 0) return;
    need(buf, "buffer");
    switch (dtype) {
    case CCS_BOOL: get_array_t<Bool>(tb, col, row0, nrows, cell, buf); break;
    case CCS_INT: get_array_t<Int>(tb, col, row0, nrows, cell, buf); break;
    case CCS_FLOAT: get_array_t<Float>(tb, col, row0, nrows, cell, buf); break;
    case CCS_DOUBLE: get_array_t<Double>(tb, col, row0, nrows, cell, buf); break;
    case CCS_COMPLEX: get_array_t<Complex>(tb, col, row0, nrows, cell, buf); break;
    case CCS_DCOMPLEX: get_array_t<DComplex>(tb, col, row0, nrows, cell, buf); break;
    default: fail(CCS_ERR_ARG, "unsupported dtype for ccs_get_array_range");
    }
  });
}

int ccs_put_string_array_range(ccs_table *t, const char *col, uint64_t row0, uint64_t nrows, int ndim,
                               const int64_t *cell_shape, const char *const *strs) {
  return write_guard(t, "put_string_array_range", [&](Table &tb) {
    IPosition cell = make_shape(ndim, cell_shape);
    check_array(tb, col, CCS_STRING, row0, nrows, cell, false);
    if (nrows == 0) return;
    Array<String> a(full_shape(cell, nrows));
    size_t i = 0;
    if (a.nelements() > 0) need(strs, "strings");
    for (auto it = a.begin(); it != a.end(); ++it, ++i) {
      need(strs[i], "string");
      *it = strs[i];
    }
    ArrayColumn<String>(tb, col).putColumnRange(row_slicer(row0, nrows), a);
  });
}

int ccs_get_string_array_range(const ccs_table *t, const char *col, uint64_t row0, uint64_t nrows, int ndim,
                               const int64_t *cell_shape, char **out, size_t *len) {
  return guard([&] {
    need(out, "out");
    need(len, "len");
    Table &tb = tab(t);
    IPosition cell = make_shape(ndim, cell_shape);
    check_array(tb, col, CCS_STRING, row0, nrows, cell, true);
    std::vector<std::string> v;
    if (nrows > 0 && cell.product() > 0) {
      Array<String> a(full_shape(cell, nrows));
      ArrayColumn<String>(tb, col).getColumnRange(row_slicer(row0, nrows), a, False);
      v.assign(a.begin(), a.end());
    }
    pack_strings(v, out, len);
  });
}

// ---- keywords ----

int ccs_kw_info(const ccs_table *t, const char *col, const char *path, int *dtype, int *is_array, uint64_t *nelem) {
  return guard([&] {
    need(dtype, "dtype");
    need(is_array, "is_array");
    need(nelem, "nelem");
    *dtype = 0;
    *is_array = 0;
    *nelem = 0;
    with_ro_kw(tab(t), col, path, [&](const TableRecord &rec, const std::string &name) {
      bool arr = false;
      *dtype = from_casa(rec.dataType(name), &arr);
      *is_array = arr ? 1 : 0;
      *nelem = arr ? rec.shape(name).product() : 1;
      if (*dtype == CCS_RECORD) *nelem = rec.subRecord(name).nfields();
    });
  });
}

int ccs_kw_names(const ccs_table *t, const char *col, const char *path, char **out, size_t *len, size_t *count) {
  return guard([&] {
    need(out, "out");
    need(len, "len");
    need(count, "count");
    std::vector<std::string> names;
    auto collect = [&](const TableRecord &r) {
      for (uInt i = 0; i < r.nfields(); i++) names.push_back(r.name(i));
    };
    Table &tb = tab(t);
    if (path == nullptr || *path == '\0') {
      if (has_col(col)) {
        column_desc(tb, col);
        collect(TableColumn(tb, col).keywordSet());
      } else {
        collect(tb.keywordSet());
      }
    } else {
      need_kw(tb, col, path, [&](const TableRecord &rec, const std::string &name) {
        if (rec.dataType(name) != TpRecord) fail(CCS_ERR_TYPE, "keyword " + name + " is not a record");
        collect(rec.subRecord(name));
      });
    }
    *count = names.size();
    pack_strings(names, out, len);
  });
}

int ccs_kw_put_scalar(ccs_table *t, const char *col, const char *path, int dtype, const void *value) {
  return write_guard(t, "kw_put_scalar", [&](Table &tb) {
    need(value, "value");
    with_rw_kw(tb, col, path, [&](TableRecord &rec, const std::string &name) {
      switch (dtype) {
      case CCS_BOOL: prepare_define(rec, name, TpBool); rec.define(name, *static_cast<const Bool *>(value)); break;
      case CCS_INT: prepare_define(rec, name, TpInt); rec.define(name, *static_cast<const Int *>(value)); break;
      case CCS_FLOAT: prepare_define(rec, name, TpFloat); rec.define(name, *static_cast<const Float *>(value)); break;
      case CCS_DOUBLE: prepare_define(rec, name, TpDouble); rec.define(name, *static_cast<const Double *>(value)); break;
      default: fail(CCS_ERR_ARG, "unsupported dtype for ccs_kw_put_scalar");
      }
    });
  });
}

int ccs_kw_get_scalar(const ccs_table *t, const char *col, const char *path, int dtype, void *out) {
  return guard([&] {
    need(out, "out");
    need_kw(tab(t), col, path, [&](const TableRecord &rec, const std::string &name) {
      check_kw_type(rec, name, dtype, false);
      switch (dtype) {
      case CCS_BOOL: *static_cast<Bool *>(out) = rec.asBool(name); break;
      case CCS_INT: *static_cast<Int *>(out) = rec.asInt(name); break;
      case CCS_FLOAT: *static_cast<Float *>(out) = Float(rec.asDouble(name)); break;
      case CCS_DOUBLE: *static_cast<Double *>(out) = rec.asDouble(name); break;
      default: fail(CCS_ERR_ARG, "unsupported dtype for ccs_kw_get_scalar");
      }
    });
  });
}

int ccs_kw_put_string(ccs_table *t, const char *col, const char *path, const char *value) {
  return write_guard(t, "kw_put_string", [&](Table &tb) {
    need(value, "value");
    with_rw_kw(tb, col, path, [&](TableRecord &rec, const std::string &name) {
      prepare_define(rec, name, TpString);
      rec.define(name, String(value));
    });
  });
}

int ccs_kw_get_string(const ccs_table *t, const char *col, const char *path, char **out, size_t *len) {
  return guard([&] {
    need(out, "out");
    need(len, "len");
    need_kw(tab(t), col, path, [&](const TableRecord &rec, const std::string &name) {
      check_kw_type(rec, name, CCS_STRING, false);
      pack_strings({rec.asString(name)}, out, len);
    });
  });
}

int ccs_kw_put_array(ccs_table *t, const char *col, const char *path, int dtype, const void *values, uint64_t n) {
  return write_guard(t, "kw_put_array", [&](Table &tb) {
    if (n > 0) need(values, "values");
    with_rw_kw(tb, col, path, [&](TableRecord &rec, const std::string &name) {
      switch (dtype) {
      case CCS_INT: {
        prepare_define(rec, name, TpArrayInt);
        rec.define(name, Vector<Int>(std::vector<Int>(static_cast<const Int *>(values), static_cast<const Int *>(values) + n)));
        break;
      }
      case CCS_FLOAT: {
        prepare_define(rec, name, TpArrayFloat);
        rec.define(name, Vector<Float>(std::vector<Float>(static_cast<const Float *>(values), static_cast<const Float *>(values) + n)));
        break;
      }
      case CCS_DOUBLE: {
        prepare_define(rec, name, TpArrayDouble);
        rec.define(name, Vector<Double>(std::vector<Double>(static_cast<const Double *>(values), static_cast<const Double *>(values) + n)));
        break;
      }
      default: fail(CCS_ERR_ARG, "unsupported dtype for ccs_kw_put_array");
      }
    });
  });
}

int ccs_kw_get_array(const ccs_table *t, const char *col, const char *path, int dtype, void *out, uint64_t n) {
  return guard([&] {
    if (n > 0) need(out, "out");
    need_kw(tab(t), col, path, [&](const TableRecord &rec, const std::string &name) {
      check_kw_type(rec, name, dtype, true);
      uint64_t have = rec.shape(name).product();
      if (have != n)
        fail(CCS_ERR_SHAPE, "keyword " + name + " has " + std::to_string(have) + " elements, caller expected " +
                                std::to_string(n));
      switch (dtype) {
      case CCS_INT: {
        Array<Int> a = rec.toArrayInt(name);
        std::copy(a.begin(), a.end(), static_cast<Int *>(out));
        break;
      }
      case CCS_FLOAT: {
        Array<Float> a = rec.toArrayFloat(name);
        std::copy(a.begin(), a.end(), static_cast<Float *>(out));
        break;
      }
      case CCS_DOUBLE: {
        Array<Double> a = rec.toArrayDouble(name);
        std::copy(a.begin(), a.end(), static_cast<Double *>(out));
        break;
      }
      default: fail(CCS_ERR_ARG, "unsupported dtype for ccs_kw_get_array");
      }
    });
  });
}

int ccs_kw_put_string_array(ccs_table *t, const char *col, const char *path, const char *const *strs, uint64_t n) {
  return write_guard(t, "kw_put_string_array", [&](Table &tb) {
    if (n > 0) need(strs, "strings");
    Vector<String> v(n);
    for (uint64_t i = 0; i < n; i++) {
      need(strs[i], "string");
      v[i] = strs[i];
    }
    with_rw_kw(tb, col, path, [&](TableRecord &rec, const std::string &name) {
      prepare_define(rec, name, TpArrayString);
      rec.define(name, v);
    });
  });
}

int ccs_kw_get_string_array(const ccs_table *t, const char *col, const char *path, char **out, size_t *len,
                            size_t *count) {
  return guard([&] {
    need(out, "out");
    need(len, "len");
    need(count, "count");
    need_kw(tab(t), col, path, [&](const TableRecord &rec, const std::string &name) {
      check_kw_type(rec, name, CCS_STRING, true);
      Array<String> a = rec.asArrayString(name);
      std::vector<std::string> v(a.begin(), a.end());
      *count = v.size();
      pack_strings(v, out, len);
    });
  });
}

int ccs_kw_remove(ccs_table *t, const char *col, const char *path) {
  return write_guard(t, "kw_remove", [&](Table &tb) {
    // Only walk (and so never create) records that exist.
    if (!with_ro_kw(tb, col, path, [](const TableRecord &, const std::string &) {})) return;
    with_rw_kw(tb, col, path, [&](TableRecord &rec, const std::string &name) { rec.removeField(name); });
  });
}


// Adds a fixed-shape complex array column `name` in its own TiledColumnStMan with the tile shape
// of `like`'s hypercube (e.g. CORRECTED_DATA tiled like DATA, so that reading both in row blocks
// costs the same). Falls back to [cell..., 64 rows] when `like` is not tiled.
int ccs_table_add_tiled_column_like(ccs_table *t, const char *name, const char *like) {
  return write_guard(t, "table_add_tiled_column_like", [&](Table &tb) {
    need(name, "column name");
    need(like, "template column");
    if (tb.tableDesc().isColumn(name)) fail(CCS_ERR_ARG, std::string("column ") + name + " already exists");
    if (!tb.tableDesc().isColumn(like)) fail(CCS_ERR_ARG, std::string("no column ") + like);
    ArrayColumn<Complex> src(tb, like);
    IPosition cell = tb.tableDesc().columnDesc(like).shape();
    if (cell.empty()) {
      if (tb.nrow() == 0) fail(CCS_ERR_ARG, std::string("column ") + like + " has no fixed shape and no rows");
      cell = src.shape(0);
    }
    IPosition tile;
    try {
      ROTiledStManAccessor acc(tb, like, True);
      tile = acc.getTileShape(0);
    } catch (const std::exception &) {
      tile = IPosition();
    }
    if (tile.nelements() != cell.nelements() + 1) {
      tile = IPosition(cell.nelements() + 1);
      for (size_t i = 0; i < cell.nelements(); i++) tile[i] = cell[i];
      tile[cell.nelements()] = 64;
    }
    TableDesc td;
    td.addColumn(ArrayColumnDesc<Complex>(name, cell, ColumnDesc::FixedShape));
    std::string dm = std::string("Tiled") + name;
    td.defineHypercolumn(dm, tile.nelements(), Vector<String>(1, String(name)));
    tb.addColumn(td, TiledColumnStMan(dm, tile));
  });
}

} // extern "C"

// ---------------------------------------------------------------- additions for calibrate

extern "C" {

// A new, empty table (no columns, no rows) at `path` with table info type/subType, e.g. a CASA
// caltable ("Calibration", "B Jones"); columns are added with ccs_table_add_column.
int ccs_table_create_empty(const char *path, const char *info_type, const char *info_subtype, ccs_table **out) {
  return guard([&] {
    need(path, "path");
    need(out, "out");
    *out = nullptr;
    SetupNewTable setup(path, TableDesc(), Table::NewNoReplace);
    std::unique_ptr<Table> t(new Table(setup, TableLock(TableLock::PermanentLocking), 0, False));
    TableInfo &info = t->tableInfo();
    if (info_type != nullptr) info.setType(info_type);
    if (info_subtype != nullptr) info.setSubType(info_subtype);
    t->flushTableInfo();
    auto *h = new ccs_table;
    h->table = std::move(t);
    *out = h;
  });
}

// Deep-copy table `src_path` (e.g. an MS subtable) to `<t>/<name>` and define it as the
// subtable keyword `name` of `t`.
int ccs_table_copy_subtable(ccs_table *t, const char *src_path, const char *name) {
  return write_guard(t, "table_copy_subtable", [&](Table &tb) {
    need(src_path, "source table");
    need(name, "subtable name");
    if (!Table::isReadable(src_path)) fail(CCS_ERR_NOTFOUND, std::string("no readable table at ") + src_path);
    Table src(src_path, TableLock(TableLock::AutoNoReadLocking), Table::Old);
    std::string dst = std::string(tb.tableName()) + "/" + name;
    src.deepCopy(dst, Table::New, True);
    tb.rwKeywordSet().defineTable(name, Table(dst, Table::Old));
  });
}

} // extern "C"

// ---------------------------------------------------------------- storage managers

extern "C" {

// One string per data manager of `t`: "<SEQNR>\t<TYPE>\t<NAME>\t<column>\t<column>...". The
// files of data manager N are `table.fN` and `table.fN_*` (casacore's naming), so callers can
// tell which files hold which columns without parsing casacore's headers.
int ccs_table_data_managers(const ccs_table *t, char **out, size_t *len, size_t *count) {
  return guard([&] {
    need(out, "out");
    need(len, "len");
    need(count, "count");
    Record info = tab(t).dataManagerInfo();
    std::vector<std::string> v;
    for (uInt i = 0; i < info.nfields(); i++) {
      const Record &dm = info.subRecord(i);
      std::ostringstream os;
      os << dm.asInt("SEQNR") << '\t' << dm.asString("TYPE") << '\t' << dm.asString("NAME");
      Vector<String> cols = dm.asArrayString("COLUMNS");
      for (const String &c : cols) os << '\t' << c;
      v.push_back(os.str());
    }
    *count = v.size();
    pack_strings(v, out, len);
  });
}

int ccs_table_column_tiling(const ccs_table *t, const char *col, char **out, size_t *len, size_t *count) {
  return guard([&] {
    need(col, "col");
    need(out, "out");
    need(len, "len");
    need(count, "count");
    const Table &tb = tab(t);
    Record info = tb.dataManagerInfo();
    std::vector<std::string> v;
    for (uInt i = 0; i < info.nfields() && v.empty(); i++) {
      const Record &dm = info.subRecord(i);
      Vector<String> cols = dm.asArrayString("COLUMNS");
      if (std::find(cols.begin(), cols.end(), String(col)) == cols.end()) continue;
      String type = dm.asString("TYPE");
      if (!type.startsWith("Tiled") || !dm.isDefined("SPEC")) break;
      const Record &spec = dm.subRecord("SPEC");
      if (!spec.isDefined("HYPERCUBES")) break;
      const Record &cubes = spec.subRecord("HYPERCUBES");
      if (cubes.nfields() == 0) break;
      const Record &cube = cubes.subRecord(0);
      auto dims = [](const Vector<Int> &a) {
        std::ostringstream os;
        for (size_t k = 0; k < a.size(); k++) os << (k ? "," : "") << a[k];
        return os.str();
      };
      std::ostringstream os;
      os << type << '\t' << dm.asInt("SEQNR") << '\t' << cubes.nfields() << '\t' << cube.asInt("BucketSize") << '\t'
         << (tb.endianFormat() == Table::LittleEndian ? 1 : 0) << '\t' << tb.tableName() << '\t'
         << dims(cube.asArrayInt("CubeShape")) << '\t' << dims(cube.asArrayInt("TileShape"));
      v.push_back(os.str());
    }
    *count = v.size();
    pack_strings(v, out, len);
  });
}

} // extern "C"
