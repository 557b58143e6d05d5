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
//! The child is a copy of a possibly many-threaded process (Node, rayon) with only the forking
//! thread left in it, so it runs only code that needs no other thread and takes no lock another
//! thread may have held at the fork (it would stay held forever): no rayon, no printing
//! (stdout's lock), no panic-hook changes (the hook's lock; see `install_panic_hook`), no
//! environment access. The fork happens while holding hdf5-metno's global lock, so no other thread is
//! half-way through a libhdf5 call at that instant; the child keeps that (reentrant) lock for
//! its whole life and leaves with `_exit`, which runs no `atexit` handler and flushes nothing,
//! so it never touches the parent's open files or stdio buffers.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Result, Uvh5Error};

/// How long the child may take before it is taken to hang (a libhdf5 loop on a corrupt file).
/// Generous: opening a DSA-110 file takes tens of milliseconds, reading a compressed one whole
/// a second or two. Under the fuzzer (inputs of at most 40 kB) 2 s, so that the up to four
/// children of one input finish inside libFuzzer's own `-timeout=10`.
#[cfg(not(fuzzing))]
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
#[cfg(fuzzing)]
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Address space the child may add to what it inherits. A legitimate file needs its header
/// arrays (read whole: at most the file's size), one block of reads (at most 32 MiB per
/// dataset), libhdf5's chunk caches (1 MiB per dataset) and, for a compressed dataset, one
/// decompressed chunk (HDF5 caps a chunk at 4 GiB): 6 GiB plus twice the file covers that. A
/// corrupt file that asks for more fails an allocation in the child instead of driving the
/// machine into swap or the OOM killer. Under the fuzzer the budget is 1 GiB, under libFuzzer's
/// 2 GiB malloc limit, so a bomb fails in the child rather than tripping libFuzzer's malloc
/// hook there (which would write a crash artifact from the child).
#[cfg(not(fuzzing))]
const MEMORY_BASE: u64 = 6 << 30;
#[cfg(fuzzing)]
const MEMORY_BASE: u64 = 1 << 30;

/// A report longer than this is garbage (error messages are a few hundred bytes).
const MAX_REPORT: usize = 16 << 20;

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
    in_child_within(path, doing, timeout_from_env(), work)
}

fn in_child_within(path: &Path, doing: &str, timeout: Duration, work: impl FnOnce() -> Result<()>) -> Result<()> {
    let file_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let child = Child::fork(MEMORY_BASE.saturating_add(file_len.saturating_mul(2)), work)
        .map_err(|e| Uvh5Error::io(path, format!("starting a process to check the file before {doing} (fork)"), e))?;
    let ended = child.wait(timeout);
    judge(path, doing, timeout, ended)
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

/// The child process, seen from the parent.
struct Child {
    pid: libc::pid_t,
    /// Read end of the pipe the child writes its report to.
    report: File,
}

/// How the child ended.
struct Ended {
    report: Vec<u8>,
    timed_out: bool,
    /// The wait status, or None if the child was reaped by someone else (SIGCHLD ignored).
    status: Option<libc::c_int>,
}

/// Write end of the report pipe, for the panic hook in the child.
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);

impl Child {
    fn fork(memory_budget: u64, work: impl FnOnce() -> Result<()>) -> std::io::Result<Child> {
        install_panic_hook();
        // Pipe and fork under the libhdf5 lock, and the parent's write end closed before the
        // lock is released: no other fork of ours can inherit that write end (which would
        // delay our end-of-file until that other child ended too).
        hdf5::sync::sync(|| unsafe {
            let mut fds = [-1 as RawFd; 2];
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let [read_end, write_end] = fds;
            match libc::fork() {
                -1 => {
                    let e = std::io::Error::last_os_error();
                    libc::close(read_end);
                    libc::close(write_end);
                    Err(e)
                }
                0 => {
                    libc::close(read_end);
                    #[cfg(fuzzing)]
                    if let Some(set) = __sanitizer_set_death_callback {
                        // An ASan report in the child must not make libFuzzer save a crash
                        // artifact from the child: the parent reports it as a corrupt file.
                        set(None);
                    }
                    child_main(write_end, memory_budget, work)
                }
                pid => {
                    libc::close(write_end);
                    Ok(Child { pid, report: File::from_raw_fd(read_end) })
                }
            }
        })
    }

    /// Collects the child's report and its exit, killing it if it has not exited by the
    /// timeout; always reaps it.
    fn wait(mut self, timeout: Duration) -> Ended {
        let deadline = Instant::now() + timeout;
        let (report, closed) = self.read_report(deadline);
        // The child closes the pipe by exiting. If it has not (the deadline passed, or the
        // pipe failed), or still runs at the deadline after closing it, it is killed: reaping
        // must not wait for ever.
        let exited = if closed { reap_by(self.pid, deadline) } else { None };
        let (status, timed_out) = match exited {
            Some(status) => (status, false),
            None => {
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
                (reap(self.pid), Instant::now() >= deadline)
            }
        };
        Ended { report, timed_out, status }
    }

    /// Everything the child writes, until it closes the pipe (true) or the deadline passes or
    /// the pipe fails (false).
    fn read_report(&mut self, deadline: Instant) -> (Vec<u8>, bool) {
        let mut report = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (report, false);
            }
            let mut pfd = libc::pollfd { fd: self.report.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
            match unsafe { libc::poll(&mut pfd, 1, ms) } {
                0 => continue,
                n if n < 0 && interrupted() => continue,
                n if n < 0 => return (report, false),
                _ => {}
            }
            match self.report.read(&mut buf) {
                Ok(0) => return (report, true),
                Ok(n) if report.len() < MAX_REPORT => report.extend_from_slice(&buf[..n]),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return (report, false),
            }
        }
    }
}

fn interrupted() -> bool {
    std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
}

/// The child's wait status once it has exited, polling until `deadline`: Some(None) if it
/// was reaped by someone else (SIGCHLD ignored), None if it is still running.
fn reap_by(pid: libc::pid_t, deadline: Instant) -> Option<Option<libc::c_int>> {
    let mut pause = Duration::from_micros(20);
    loop {
        let mut status = 0;
        match unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } {
            r if r == pid => return Some(Some(status)),
            0 => {}
            _ if interrupted() => continue,
            _ => return Some(None),
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Waits for the (killed) child's exit: its wait status, or None if reaped by someone else.
fn reap(pid: libc::pid_t) -> Option<libc::c_int> {
    loop {
        let mut status = 0;
        match unsafe { libc::waitpid(pid, &mut status, 0) } {
            r if r == pid => return Some(status),
            _ if interrupted() => continue,
            _ => return None,
        }
    }
}

/// The child: set up, run `work`, write the report, `_exit`. Never returns, never unwinds
/// into the copy of the parent's stack below it.
unsafe fn child_main(report_fd: RawFd, memory_budget: u64, work: impl FnOnce() -> Result<()>) -> ! {
    default_signal_handlers();
    limit_resources(memory_budget);
    REPORT_FD.store(report_fd, Ordering::Relaxed);
    IN_CHILD.store(true, Ordering::Relaxed);
    let report = match std::panic::catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(())) => b"O".to_vec(),
        Ok(Err(e)) => [b"E".as_slice(), &error_to_bytes(e)].concat(),
        // Reported by the hook already, unless someone replaced it after ours.
        Err(_) if PANIC_REPORTED.load(Ordering::Relaxed) => Vec::new(),
        Err(payload) => format!("P{}", payload_message(payload.as_ref())).into_bytes(),
    };
    write_all(report_fd, &report);
    libc::_exit(0)
}

/// Set in the child only (its copy of memory).
static IN_CHILD: AtomicBool = AtomicBool::new(false);
static PANIC_REPORTED: AtomicBool = AtomicBool::new(false);

/// A panic is a bug of ours, not a corrupt file: in the child, the panic hook reports it
/// (before unwinding, or before the abort of a panic=abort build or of libFuzzer's own hook)
/// and the parent re-raises it, so it surfaces exactly as it would have without isolation.
/// The hook is installed once, in the parent, chained to the one it replaces (which it calls
/// everywhere but in the child): setting it in the child would take the hook's lock, which
/// another thread of the parent may have held at the fork and which then stays held forever.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CHILD.load(Ordering::Relaxed) {
                return previous(info);
            }
            let at = info.location().map(|l| format!(" at {l}")).unwrap_or_default();
            write_all(REPORT_FD.load(Ordering::Relaxed), format!("P{}{at}", payload_message(info.payload())).as_bytes());
            PANIC_REPORTED.store(true, Ordering::Relaxed);
        }));
    });
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// Every caught signal back to its default action: crash signals must kill the child (not run
/// the parent's handlers: libFuzzer's would save a crash artifact, and a handler that writes to
/// a pipe of the parent's — libuv's for SIGINT or SIGTERM — would hand the parent a signal it
/// never got). Ignored signals stay ignored (SIGPIPE: a write to a closed pipe is an error).
unsafe fn default_signal_handlers() {
    for sig in 1..=libc::SIGRTMAX() {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction != libc::SIG_IGN && old.sa_sigaction != libc::SIG_DFL {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
    let mut none: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut none);
    libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
}

/// Bounds what a corrupt file can make the child take: its address space (relative to what
/// it inherited, which for Node or under ASan is already many GiB of reservations), no core
/// dump of a copy of a possibly huge process, and first in line for the OOM killer.
unsafe fn limit_resources(memory_budget: u64) {
    let page = libc::sysconf(libc::_SC_PAGESIZE).max(4096) as u64;
    let inherited = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .map(|pages| pages * page);
    let mut lim: libc::rlimit = std::mem::zeroed();
    if let Some(inherited) = inherited {
        if libc::getrlimit(libc::RLIMIT_AS, &mut lim) == 0 {
            lim.rlim_cur = inherited.saturating_add(memory_budget).min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_AS, &lim);
        }
    }
    if libc::getrlimit(libc::RLIMIT_CORE, &mut lim) == 0 {
        lim.rlim_cur = 0;
        libc::setrlimit(libc::RLIMIT_CORE, &lim);
    }
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
}

fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && interrupted() {
            continue;
        } else {
            return;
        }
    }
}

/// The caller's result from how the child ended.
fn judge(path: &Path, doing: &str, timeout: Duration, ended: Ended) -> Result<()> {
    let corrupt = |detail: String| Err(Uvh5Error::Corrupt { path: path.to_owned(), detail });
    if ended.timed_out {
        return corrupt(format!(
            "libhdf5 did not finish {doing} in {} s (in a separate process, now killed; \
             CONTIMG_UVH5_VET_TIMEOUT_S sets the limit)",
            timeout.as_secs_f64()
        ));
    }
    match ended.report.split_first() {
        Some((b'O', [])) => return Ok(()),
        Some((b'E', json)) => {
            if let Some(e) = error_from_bytes(json, path) {
                return Err(e);
            }
        }
        Some((b'P', msg)) => panic!(
            "{}: panicked {doing} in the isolated process: {}",
            path.display(),
            String::from_utf8_lossy(msg)
        ),
        _ => {}
    }
    match ended.status {
        Some(s) if libc::WIFSIGNALED(s) => {
            let sig = libc::WTERMSIG(s);
            let name = signal_name(sig);
            let sig = if name.is_empty() { format!("signal {sig}") } else { format!("signal {sig} ({name})") };
            if ["SIGSEGV", "SIGBUS", "SIGABRT", "SIGFPE", "SIGILL", "SIGSYS", "SIGTRAP"].contains(&name) {
                corrupt(format!("libhdf5 crashed with {sig} {doing} (in a separate process)"))
            } else {
                // Not a crash: someone (a shutdown, the OOM killer) killed it.
                Err(Uvh5Error::io(
                    path,
                    format!("checking the file before {doing}"),
                    std::io::Error::other(format!("the checking process was killed by {sig}")),
                ))
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

// The sanitizer runtime's `__sanitizer_set_death_callback`, null when the fuzz build has no
// sanitizer (`cargo fuzz build -s none`). Weak, so such a build still links; not looked up with
// dlsym because the runtime is linked statically and does not export it.
#[cfg(fuzzing)]
extern "C" {
    #[linkage = "extern_weak"]
    static __sanitizer_set_death_callback: Option<unsafe extern "C" fn(Option<extern "C" fn()>)>;
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
        assert!(in_child_within(&p, "opening it", Duration::from_secs(30), || Ok(())).is_ok());
        let e = in_child_within(&p, "opening it", Duration::from_secs(30), || {
            Err(Uvh5Error::BadShape { path: p.clone(), name: "Data/visdata".into(), expected: "(2, 3, 4)".into(), got: vec![1, 2] })
        })
        .unwrap_err();
        assert!(matches!(e, Uvh5Error::BadShape { ref got, .. } if got == &[1, 2]), "{e:?}");
        assert_eq!(e.path(), p);
        let e = in_child_within(&p, "opening it", Duration::from_secs(30), || {
            Err(Uvh5Error::io(&p, "read", std::io::Error::from_raw_os_error(libc::EIO)))
        })
        .unwrap_err();
        assert_eq!(e.code(), "UVH5_IO");
        assert_eq!(e.to_string(), format!("{}: read: {}", p.display(), std::io::Error::from_raw_os_error(libc::EIO)));
    }

    #[test]
    fn a_crash_in_the_child_is_a_corrupt_file() {
        let p = here();
        let e = in_child_within(&p, "opening it", Duration::from_secs(30), || {
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
        let child = Child::fork(1 << 30, || {
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        })
        .unwrap();
        let pid = child.pid;
        let ended = child.wait(Duration::from_millis(300));
        assert!(ended.timed_out);
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        assert!(matches!(ended.status, Some(s) if libc::WIFSIGNALED(s) && libc::WTERMSIG(s) == libc::SIGKILL));
        // Reaped: no zombie left behind.
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        let e = judge(&here(), "opening it", Duration::from_millis(300), ended).unwrap_err();
        assert_eq!(e.code(), "UVH5_CORRUPT");
        assert!(e.to_string().contains("libhdf5 did not finish opening it in 0.3 s"), "{e}");
    }

    #[test]
    fn a_panic_in_the_child_is_a_panic_here() {
        let p = here();
        let r = std::panic::catch_unwind(|| in_child_within(&p, "opening it", Duration::from_secs(30), || panic!("boom {}", 42)));
        let payload = r.unwrap_err();
        let msg = payload.downcast_ref::<String>().unwrap();
        assert!(msg.contains("panicked opening it in the isolated process: boom 42 at"), "{msg}");
    }

    #[test]
    fn an_allocation_bomb_fails_in_the_child() {
        let p = here();
        let e = in_child_within(&p, "opening it", Duration::from_secs(30), || {
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
