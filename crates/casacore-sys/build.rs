//! Compiles `src/shim.cpp` (C++17) and links it against the system casacore.
//!
//! casacore is found with pkg-config (`casacore.pc`, shipped by Debian's `casacore-dev`). Only the
//! libraries the shim uses are linked (tables, measurement sets and their dependencies), not every
//! library the .pc file lists (it also names casacore's Python bindings).
//! `CASACORE_INCLUDE_DIR` / `CASACORE_LIB_DIR` override pkg-config for non-standard installs.

use std::env;
use std::path::PathBuf;

const LIBS: &[&str] = &["casa_ms", "casa_measures", "casa_tables", "casa_casa"];

fn main() {
    println!("cargo:rerun-if-changed=src/shim.cpp");
    println!("cargo:rerun-if-changed=include/shim.h");
    println!("cargo:rerun-if-env-changed=CASACORE_INCLUDE_DIR");
    println!("cargo:rerun-if-env-changed=CASACORE_LIB_DIR");

    let mut include_dirs: Vec<PathBuf> = Vec::new();
    let mut lib_dirs: Vec<PathBuf> = Vec::new();
    if let Ok(dir) = env::var("CASACORE_INCLUDE_DIR") {
        include_dirs.push(dir.into());
    }
    if let Ok(dir) = env::var("CASACORE_LIB_DIR") {
        lib_dirs.push(dir.into());
    }
    if include_dirs.is_empty() || lib_dirs.is_empty() {
        match pkg_config::Config::new()
            .cargo_metadata(false)
            .probe("casacore")
        {
            Ok(lib) => {
                include_dirs.extend(lib.include_paths);
                lib_dirs.extend(lib.link_paths);
            }
            Err(e) => println!(
                "cargo:warning=pkg-config could not find casacore ({e}); trying the default paths. \
                 Install casacore-dev (Debian/Ubuntu) or set CASACORE_INCLUDE_DIR/CASACORE_LIB_DIR."
            ),
        }
    }

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .file("src/shim.cpp")
        .include("include")
        .warnings(true)
        // casacore's headers trigger many of these; they are not ours to fix.
        .flag_if_supported("-Wno-deprecated-declarations")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-deprecated-copy")
        .flag_if_supported("-Wno-class-memaccess");
    for dir in &include_dirs {
        build.include(dir);
    }
    build.compile("casacore_shim");

    for dir in &lib_dirs {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    for lib in LIBS {
        println!("cargo:rustc-link-lib=dylib={lib}");
    }
    println!(
        "cargo:include={}",
        env::current_dir().unwrap().join("include").display()
    );
}
