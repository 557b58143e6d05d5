//! Minimal `.npy` files (NumPy format 1.0, little-endian, C order): how the ducc0 oracle and the
//! benchmark hand arrays to Python and back.

use std::io::Write;
use std::path::Path;

pub fn write_npy(path: &Path, descr: &str, shape: &[usize], bytes: &[u8]) {
    let shape_s = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!("({})", shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    // Magic (6) + version (2) + header length (2) + header + newline: a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap_or_else(|e| panic!("{path:?}: {e}")));
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(bytes).unwrap();
}

/// Reads a float32/float64/complex64/complex128 `.npy` as f64 values (complex: interleaved).
pub fn read_npy(path: &Path) -> Vec<f64> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    let h = String::from_utf8_lossy(&b[10..10 + hl]).to_string();
    let data = &b[10 + hl..];
    if h.contains("<f8") || h.contains("<c16") {
        data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
    } else if h.contains("<f4") || h.contains("<c8") {
        data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect()
    } else {
        panic!("unexpected dtype in {path:?}: {h}")
    }
}

/// The bytes of a slice of plain numbers.
pub fn as_bytes<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: only used with plain numeric types (no padding, no pointers).
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}
