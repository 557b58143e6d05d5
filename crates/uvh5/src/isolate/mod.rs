//! Runs libhdf5 on an untrusted file in a forked child process before this process does.
//!
//! libhdf5 1.10 trusts the structures it reads: fuzzing finds corrupt files on which it
//! dereferences NULL, reads past heap buffers or asks for a terabyte (see
//! `fuzz/regressions/uvh5_file/libhdf5-crash-*`). Guarding each of those from outside is not
//! realistic, and in-process such a file kills the whole service (Node included). So each file
//! is first opened, and its data first read, by a copy of this process made with `fork()`: if
//! libhdf5 crashes, hangs or runs away with memory there, the copy dies or is killed and the
//! caller gets a [`Uvh5Error::Corrupt`] naming the file; if it reports a clean error, the caller
//! gets that error unchanged; only if it succeeds does this process do the same calls itself.
//! libhdf5 is deterministic, so the same calls on the same bytes take the same paths here.
//!
//! A group's files are checked by one child, in order, working ahead of this process
//! (`in_child_each`): while this process opens one file, the child checks the next. A fresh
//! copy of a process pays a page fault for every page it writes (its memory is shared
//! copy-on-write with the parent's), which made a child's open three times slower than the
//! parent's; one child per group pays that once, and on two cores its work overlaps ours.
//! How the child is made and talked to is in `child.rs`.

mod child;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Result, Uvh5Error};
use child::{Answer, Child, End};

/// How long the child may take over one file before it is taken to hang (a libhdf5 loop on a
/// corrupt file). Generous: opening a DSA-110 file takes tens of milliseconds, reading a
/// compressed one whole a second or two. Under the fuzzer (inputs of at most 40 kB) 2 s, so
/// that the up to four children of one input finish inside libFuzzer's own `-timeout=10`.
#[cfg(not(fuzzing))]
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
#[cfg(fuzzing)]
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Address space the child may add to what it inherits. A legitimate file needs its header
/// arrays (read whole: at most the file's size), one block of reads (at most 32 MiB per
/// dataset), libhdf5's chunk caches (1 MiB per dataset) and, for a compressed dataset, one
/// decompressed chunk (HDF5 caps a chunk at 4 GiB): 6 GiB plus twice the (largest) file covers
/// that. A corrupt file that asks for more fails an allocation in the child instead of driving
/// the machine into swap or the OOM killer. Under the fuzzer the budget is 1 GiB, under
/// libFuzzer's 2 GiB malloc limit, so a bomb fails in the child rather than tripping
/// libFuzzer's malloc hook there (which would write a crash artifact from the child).
#[cfg(not(fuzzing))]
const MEMORY_BASE: u64 = 6 << 30;
#[cfg(fuzzing)]
const MEMORY_BASE: u64 = 1 << 30;

/// How many files the child may be asked for ahead of the one this process waits on: enough
/// to keep it busy while this process opens a file, few enough that a crash wastes little.
const AHEAD: usize = 2;

/// Isolation on unless `CONTIMG_UVH5_NO_ISOLATE=1`.
pub(crate) fn enabled_by_default() -> bool {
    std::env::var_os("CONTIMG_UVH5_NO_ISOLATE").is_none_or(|v| v.is_empty() || v == "0")
}

/// `CONTIMG_UVH5_VET_TIMEOUT_S` (seconds, may be fractional), else `DEFAULT_TIMEOUT`.
fn timeout_from_env() -> Duration {
    std::env::var("CONTIMG_UVH5_VET_TIMEOUT_S")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64)
}

/// Runs `work` (libhdf5 calls on `path`) in a forked child and returns what it returned: Ok,
/// or its error unchanged. A crash, hang or abort of the child is [`Uvh5Error::Corrupt`].
/// `doing` says what the child was doing, for messages ("opening it").
pub(crate) fn in_child(path: &Path, doing: &str, work: impl FnOnce() -> Result<()>) -> Result<()> {
    let mut work = Some(work);
    let mut outcomes = in_child_each(&[path], doing, |_| work.take().map_or(Ok(()), |w| w()), |_, r| r);
    outcomes.pop().unwrap_or(Ok(()))
}

/// Runs `work(path)` for each of `paths`, in order, in one forked child (a new one after a
/// crash or hang, for the files after it), and calls `then(i, outcome)` in this process for
/// each file as soon as the child is done with it, while the child goes on with the next.
/// Each outcome is as `in_child` gives it.
pub(crate) fn in_child_each<P: AsRef<Path>, T>(
    paths: &[P],
    doing: &str,
    work: impl FnMut(&Path) -> Result<()>,
    then: impl FnMut(usize, Result<()>) -> T,
) -> Vec<T> {
    each_within(paths, doing, timeout_from_env(), work, then)
}

fn each_within<P: AsRef<Path>, T>(
    paths: &[P],
    doing: &str,
    timeout: Duration,
    mut work: impl FnMut(&Path) -> Result<()>,
    mut then: impl FnMut(usize, Result<()>) -> T,
) -> Vec<T> {
    let largest = paths.iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).max().unwrap_or(0);
    let budget = MEMORY_BASE.saturating_add(largest.saturating_mul(2));
    let mut out = Vec::with_capacity(paths.len());
    let mut child: Option<Child> = None;
    // Requests sent to the current child: files `i..sent`.
    let mut sent = 0;
    // When the child could start on file `i`: when it was made, or answered for `i - 1`.
    let mut since = Instant::now();
    for (i, path) in paths.iter().map(AsRef::as_ref).enumerate() {
        if child.is_none() {
            match Child::fork(budget, &mut work) {
                Ok(c) => (child, sent, since) = (Some(c), i, Instant::now()),
                Err(e) => {
                    let e = Uvh5Error::io(path, format!("starting a process to check the file before {doing} (fork)"), e);
                    out.push(then(i, Err(e)));
                    continue;
                }
            }
        }
        let c = child.as_mut().expect("a child was just made");
        while sent < paths.len() && sent < i + 1 + AHEAD && c.request(paths[sent].as_ref()) {
            sent += 1;
        }
        let deadline = since + timeout;
        let answer = c.answer(deadline);
        since = Instant::now();
        let outcome = match answer {
            Answer::Report { kind: b'O', payload } if payload.is_empty() => Ok(()),
            Answer::Report { kind: b'E', payload } => Err(error_from_bytes(&payload, path).unwrap_or_else(|| Uvh5Error::Corrupt {
                path: path.to_owned(),
                detail: format!("{doing} failed in a separate process, which sent an unreadable error"),
            })),
            Answer::Report { kind: b'P', payload } => panic!(
                "{}: panicked {doing} in the isolated process: {}",
                path.display(),
                String::from_utf8_lossy(&payload)
            ),
            // Garbage (no report of ours looks like this): the child is killed at once (by
            // dropping it) rather than waited for.
            Answer::Report { .. } => {
                drop(child.take());
                Err(Uvh5Error::Corrupt {
                    path: path.to_owned(),
                    detail: format!("{doing} failed in a separate process, which sent an unreadable report"),
                })
            }
            // The child died or hung: it answers no more. A dead one is reaped (it has closed
            // its end and is exiting), a hung one killed now.
            gone @ (Answer::Died | Answer::TimedOut) => {
                let c = child.take().expect("a child was just used");
                let end = c.end(if matches!(gone, Answer::TimedOut) { Instant::now() } else { deadline });
                Err(failure(path, doing, timeout, end))
            }
        };
        out.push(then(i, outcome));
    }
    out
}

/// An error as bytes (JSON without its path, which the receiver knows and which JSON could
/// not carry if it were not UTF-8): how the child reports one, and how a file keeps the
/// outcome of its data check (`Uvh5Error` holds an `io::Error`, which is not `Clone`).
pub(crate) fn error_to_bytes(mut e: Uvh5Error) -> Vec<u8> {
    e.path_mut().clear();
    serde_json::to_vec(&e).unwrap_or_default()
}

/// The error `error_to_bytes` wrote, naming `path` again.
pub(crate) fn error_from_bytes(bytes: &[u8], path: &Path) -> Option<Uvh5Error> {
    let mut e: Uvh5Error = serde_json::from_slice(bytes).ok()?;
    *e.path_mut() = path.to_owned();
    Some(e)
}

/// The caller's error from how a child that gave no answer for `path` ended.
fn failure(path: &Path, doing: &str, timeout: Duration, end: End) -> Uvh5Error {
    let corrupt = |detail: String| Uvh5Error::Corrupt { path: path.to_owned(), detail };
    if end.timed_out {
        return corrupt(format!(
            "libhdf5 did not finish {doing} in {} s (in a separate process, now killed; \
             CONTIMG_UVH5_VET_TIMEOUT_S sets the limit)",
            timeout.as_secs_f64()
        ));
    }
    match end.status {
        Some(s) if libc::WIFSIGNALED(s) => {
            let sig = libc::WTERMSIG(s);
            let name = signal_name(sig);
            let sig = if name.is_empty() { format!("signal {sig}") } else { format!("signal {sig} ({name})") };
            if ["SIGSEGV", "SIGBUS", "SIGABRT", "SIGFPE", "SIGILL", "SIGSYS", "SIGTRAP"].contains(&name) {
                corrupt(format!("libhdf5 crashed with {sig} {doing} (in a separate process)"))
            } else {
                // Not a crash: someone (a shutdown, the OOM killer) killed it.
                Uvh5Error::io(
                    path,
                    format!("checking the file before {doing}"),
                    std::io::Error::other(format!("the checking process was killed by {sig}")),
                )
            }
        }
        Some(s) if libc::WIFEXITED(s) => corrupt(format!(
            "libhdf5 aborted {doing} (a separate process exited with status {} without finishing)",
            libc::WEXITSTATUS(s)
        )),
        _ => corrupt(format!("libhdf5 ended abnormally {doing} (a separate process ended without finishing)")),
    }
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGABRT => "SIGABRT",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGSYS => "SIGSYS",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGXCPU => "SIGXCPU",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn here() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")
    }

    #[test]
    fn the_childs_result_comes_back_unchanged() {
        let p = here();
        assert!(in_child(&p, "opening it", || Ok(())).is_ok());
        let e = in_child(&p, "opening it", || {
            Err(Uvh5Error::BadShape { path: p.clone(), name: "Data/visdata".into(), expected: "(2, 3, 4)".into(), got: vec![1, 2] })
        })
        .unwrap_err();
        assert!(matches!(e, Uvh5Error::BadShape { ref got, .. } if got == &[1, 2]), "{e:?}");
        assert_eq!(e.path(), p);
        let e = in_child(&p, "opening it", || {
            Err(Uvh5Error::io(&p, "read", std::io::Error::from_raw_os_error(libc::EIO)))
        })
        .unwrap_err();
        assert_eq!(e.code(), "UVH5_IO");
        assert_eq!(e.to_string(), format!("{}: read: {}", p.display(), std::io::Error::from_raw_os_error(libc::EIO)));
    }

    #[test]
    fn an_unreadable_report_kills_the_child_at_once() {
        // A frame of an unknown kind, then nothing: the parent must not wait out the 30 s
        // deadline for a child that is alive and waiting for its next request.
        let t = Instant::now();
        let p = here();
        let e = each_within(
            &[&p],
            "opening it",
            Duration::from_secs(30),
            |_| {
                child::send_raw(b"X\0\0\0\0");
                std::thread::sleep(Duration::from_secs(60));
                Ok(())
            },
            |_, r| r,
        )
        .pop()
        .unwrap()
        .unwrap_err();
        assert_eq!(e.code(), "UVH5_CORRUPT", "{e}");
        assert!(e.to_string().ends_with("opening it failed in a separate process, which sent an unreadable report"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    }

    #[test]
    fn a_crash_in_the_child_is_a_corrupt_file() {
        let p = here();
        let e = in_child(&p, "opening it", || {
            unsafe { libc::raise(libc::SIGSEGV) };
            Ok(())
        })
        .unwrap_err();
        assert_eq!(e.code(), "UVH5_CORRUPT");
        assert_eq!(
            e.to_string(),
            format!("{}: corrupt file: libhdf5 crashed with signal 11 (SIGSEGV) opening it (in a separate process)", p.display())
        );
    }

    #[test]
    fn a_hang_in_the_child_is_killed_and_reaped() {
        let t = Instant::now();
        let p = here();
        let mut left = String::from("?");
        let e = each_within(
            &[&p],
            "opening it",
            Duration::from_millis(300),
            |_| {
                std::thread::sleep(Duration::from_secs(30));
                Ok(())
            },
            |_, r| {
                left = children_of_this_thread();
                r
            },
        )
        .pop()
        .unwrap()
        .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        assert_eq!(e.code(), "UVH5_CORRUPT");
        assert!(e.to_string().contains("libhdf5 did not finish opening it in 0.3 s"), "{e}");
        // Killed and reaped before its outcome is passed on: no zombie left behind.
        assert_eq!(left.trim(), "", "children of this thread still in the process table");
    }

    /// The pids of the children this thread forked that are still in the process table
    /// (running or zombies), space-separated.
    fn children_of_this_thread() -> String {
        let tid = unsafe { libc::gettid() };
        std::fs::read_to_string(format!("/proc/{}/task/{tid}/children", std::process::id())).unwrap_or_else(|e| format!("{e}"))
    }

    #[test]
    fn one_child_checks_a_whole_group_in_order_and_a_crash_costs_one_file() {
        // Five "files": the third crashes the child, the fourth hangs it; the others report
        // which process checked them. A new child takes over after each loss, and each file's
        // outcome reaches `then` in order.
        let p = here();
        let names: Vec<PathBuf> = (0..6).map(|i| p.with_file_name(format!("f{i}"))).collect();
        let mut seen = Vec::new();
        let outcomes = each_within(
            &names,
            "opening it",
            Duration::from_secs(2),
            |path| {
                let me = unsafe { libc::getpid() };
                match path.file_name().unwrap().to_str().unwrap() {
                    "f2" => unsafe {
                        libc::raise(libc::SIGSEGV);
                    },
                    "f3" => std::thread::sleep(Duration::from_secs(30)),
                    _ => {}
                }
                Err(Uvh5Error::InvalidArgument { path: path.to_owned(), detail: format!("checked by {me}") })
            },
            |i, r| {
                seen.push(i);
                r.unwrap_err()
            },
        );
        assert_eq!(seen, [0, 1, 2, 3, 4, 5]);
        let by = |i: usize| outcomes[i].to_string().rsplit(' ').next().unwrap().to_owned();
        assert_eq!(outcomes[0].path(), names[0]);
        assert_eq!(by(0), by(1), "the same child checks files in turn");
        assert!(outcomes[2].to_string().contains("crashed with signal 11 (SIGSEGV)"), "{}", outcomes[2]);
        assert!(outcomes[3].to_string().contains("did not finish opening it in 2 s"), "{}", outcomes[3]);
        assert_eq!(by(4), by(5));
        assert_ne!(by(4), by(0), "a new child after the crash and the hang");
        assert_ne!(by(0), std::process::id().to_string());
    }

    #[test]
    fn a_panic_in_the_child_is_a_panic_here() {
        let p = here();
        let r = std::panic::catch_unwind(|| in_child(&p, "opening it", || panic!("boom {}", 42)));
        let payload = r.unwrap_err();
        let msg = payload.downcast_ref::<String>().unwrap();
        assert!(msg.contains("panicked opening it in the isolated process: boom 42 at"), "{msg}");
    }

    #[test]
    fn an_allocation_bomb_fails_in_the_child() {
        let p = here();
        let e = in_child(&p, "opening it", || {
            // 8 GiB, past the budget of 6 GiB. (malloc, not a Vec: Rust's handler for a failed
            // allocation prints a backtrace under RUST_BACKTRACE, taking a lock that a test
            // thread printing its own backtrace may have held at the fork.) Were the limit
            // missing, the memory would be mapped but never touched.
            let m = std::hint::black_box(unsafe { libc::malloc(8 << 30) });
            let failed = m.is_null();
            unsafe { libc::free(m) };
            Err(Uvh5Error::InvalidArgument { path: p.clone(), detail: format!("malloc failed: {failed}") })
        })
        .unwrap_err();
        assert!(e.to_string().ends_with("malloc failed: true"), "{e}");
    }
}
