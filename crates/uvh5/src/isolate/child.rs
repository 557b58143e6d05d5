//! The checking process itself: forking it, talking to it, and what it does.
//!
//! The child is a copy of a possibly many-threaded process (Node, rayon) with only the forking
//! thread left in it, so it runs only code that needs no other thread and takes no lock another
//! thread may have held at the fork (it would stay held forever): no rayon, no printing
//! (stdout's lock), no panic-hook changes (the hook's lock; see `install_panic_hook`), no
//! environment access. The fork happens while holding hdf5-metno's global lock, so no other
//! thread is half-way through a libhdf5 call at that instant; the child keeps that (reentrant)
//! lock for its whole life and leaves with `_exit`, which runs no `atexit` handler and flushes
//! nothing, so it never touches the parent's open files or stdio buffers.
//!
//! Parent and child talk over a Unix socket pair, in frames: the parent sends a request (a
//! little-endian u32 length, then the file's path), the child answers each with a report (one
//! byte — `O` ok, `E` error, `P` panic — a u32 length, then the payload). A socket rather than
//! pipes so that writes can say `MSG_NOSIGNAL`: a write to a child that has died is an error,
//! never a SIGPIPE (which libFuzzer's process, for one, does not ignore).

use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::error::Result;

/// A report longer than this is garbage (error messages are a few hundred bytes).
const MAX_REPORT: usize = 16 << 20;

/// What the child answered for one file.
pub(super) enum Answer {
    Report { kind: u8, payload: Vec<u8> },
    /// The child closed its end (it died) before a whole report.
    Died,
    /// No whole report by the deadline.
    TimedOut,
}

/// How a child that will answer no more ended.
pub(super) struct End {
    pub timed_out: bool,
    /// The wait status, or None if the child was reaped by someone else (SIGCHLD ignored).
    pub status: Option<libc::c_int>,
}

/// A checking child, seen from the parent. Killed and reaped when dropped.
pub(super) struct Child {
    pid: libc::pid_t,
    /// The parent's end of the socket pair (the child's is closed here).
    sock: RawFd,
    /// Bytes received but not yet taken as a whole report.
    received: Vec<u8>,
    reaped: Option<Option<libc::c_int>>,
}

/// The child's end of the socket, for the panic hook.
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);

impl Child {
    /// Forks a child that answers each request with `work(path)`.
    pub fn fork(memory_budget: u64, work: &mut dyn FnMut(&Path) -> Result<()>) -> std::io::Result<Child> {
        install_panic_hook();
        // Socket pair and fork under the libhdf5 lock, and the child's end closed here before
        // the lock is released: no other fork of ours inherits that end (which would hide this
        // child's death from us for as long as that other child lived).
        hdf5::sync::sync(|| unsafe {
            let mut fds = [-1 as RawFd; 2];
            if libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let [ours, theirs] = fds;
            match libc::fork() {
                -1 => {
                    let e = std::io::Error::last_os_error();
                    libc::close(ours);
                    libc::close(theirs);
                    Err(e)
                }
                0 => {
                    libc::close(ours);
                    #[cfg(fuzzing)]
                    if let Some(set) = __sanitizer_set_death_callback {
                        // An ASan report in the child must not make libFuzzer save a crash
                        // artifact from the child: the parent reports it as a corrupt file.
                        set(None);
                    }
                    child_main(theirs, memory_budget, work)
                }
                pid => {
                    libc::close(theirs);
                    Ok(Child { pid, sock: ours, received: Vec::new(), reaped: None })
                }
            }
        })
    }

    /// Asks the child to check `path`; false if it can no longer be asked (it died).
    pub fn request(&mut self, path: &Path) -> bool {
        let bytes = path.as_os_str().as_bytes();
        let Ok(len) = u32::try_from(bytes.len()) else { return false };
        send_all(self.sock, &len.to_le_bytes()) && send_all(self.sock, bytes)
    }

    /// The next report, waiting until `deadline`.
    pub fn answer(&mut self, deadline: Instant) -> Answer {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            if let Some((kind, payload)) = take_frame(&mut self.received) {
                return Answer::Report { kind, payload };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Answer::TimedOut;
            }
            let mut pfd = libc::pollfd { fd: self.sock, events: libc::POLLIN, revents: 0 };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
            match unsafe { libc::poll(&mut pfd, 1, ms) } {
                0 => continue,
                n if n < 0 && interrupted() => continue,
                n if n < 0 => return Answer::Died,
                _ => {}
            }
            match unsafe { libc::recv(self.sock, buf.as_mut_ptr().cast(), buf.len(), 0) } {
                0 => return Answer::Died,
                n if n > 0 => self.received.extend_from_slice(&buf[..n as usize]),
                _ if interrupted() => continue,
                _ => return Answer::Died,
            }
        }
    }

    /// Ends the child: waits for it to exit (it has died, or is dying) until `deadline`, then
    /// kills it; always reaps it. `timed_out`: it was killed because the deadline passed.
    pub fn end(mut self, deadline: Instant) -> End {
        let exited = reap_by(self.pid, deadline);
        let (status, timed_out) = match exited {
            Some(status) => (status, false),
            None => {
                unsafe { libc::kill(self.pid, libc::SIGKILL) };
                (reap(self.pid), Instant::now() >= deadline)
            }
        };
        self.reaped = Some(status);
        End { timed_out, status }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.reaped.is_none() {
            // Done with it (or unwinding): it holds nothing worth finishing.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            reap(self.pid);
        }
        unsafe { libc::close(self.sock) };
    }
}

/// A whole frame (kind, u32 length, payload) off the front of `buf`, if there is one.
fn take_frame(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    let head: [u8; 5] = buf.get(..5)?.try_into().ok()?;
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_REPORT {
        return Some((b'?', Vec::new())); // garbage: no report of ours is this long
    }
    let payload = buf.get(5..5 + len)?.to_vec();
    buf.drain(..5 + len);
    Some((head[0], payload))
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

/// The child: set up, then answer requests until the parent closes its end or a panic; then
/// `_exit`. Never returns, never unwinds into the copy of the parent's stack below it.
unsafe fn child_main(sock: RawFd, memory_budget: u64, work: &mut dyn FnMut(&Path) -> Result<()>) -> ! {
    default_signal_handlers();
    limit_resources(memory_budget);
    REPORT_FD.store(sock, Ordering::Relaxed);
    IN_CHILD.store(true, Ordering::Relaxed);
    while let Some(request) = recv_frame(sock) {
        let path = Path::new(OsStr::from_bytes(&request));
        match std::panic::catch_unwind(AssertUnwindSafe(|| work(path))) {
            Ok(Ok(())) => send_frame(sock, b'O', b""),
            Ok(Err(e)) => send_frame(sock, b'E', &super::error_to_bytes(e)),
            Err(payload) => {
                // Reported by the hook already, unless someone replaced it after ours.
                if !PANIC_REPORTED.load(Ordering::Relaxed) {
                    send_frame(sock, b'P', payload_message(payload.as_ref()).as_bytes());
                }
                break;
            }
        }
    }
    libc::_exit(0)
}

/// One request (u32 length, bytes), or None once the parent has closed its end.
fn recv_frame(sock: RawFd) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    recv_exact(sock, &mut len)?;
    let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
    recv_exact(sock, &mut bytes)?;
    Some(bytes)
}

fn recv_exact(sock: RawFd, mut buf: &mut [u8]) -> Option<()> {
    while !buf.is_empty() {
        match unsafe { libc::recv(sock, buf.as_mut_ptr().cast(), buf.len(), 0) } {
            n if n > 0 => buf = &mut buf[n as usize..],
            n if n < 0 && interrupted() => continue,
            _ => return None,
        }
    }
    Some(())
}

fn send_frame(sock: RawFd, kind: u8, payload: &[u8]) {
    let len = (payload.len().min(MAX_REPORT) as u32).to_le_bytes();
    let _ = send_all(sock, &[kind, len[0], len[1], len[2], len[3]]) && send_all(sock, &payload[..payload.len().min(MAX_REPORT)]);
}

/// Writes `bytes` to the parent as they are, from inside the child (for tests of how the
/// parent takes a malformed report).
#[cfg(test)]
pub(super) fn send_raw(bytes: &[u8]) {
    send_all(REPORT_FD.load(Ordering::Relaxed), bytes);
}

/// Sends all of `bytes`; false if the other end is gone.
fn send_all(sock: RawFd, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        let n = unsafe { libc::send(sock, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && interrupted() {
            continue;
        } else {
            return false;
        }
    }
    true
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
            send_frame(REPORT_FD.load(Ordering::Relaxed), b'P', format!("{}{at}", payload_message(info.payload())).as_bytes());
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
/// never got). Ignored signals stay ignored.
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

// The sanitizer runtime's `__sanitizer_set_death_callback`, null when the fuzz build has no
// sanitizer (`cargo fuzz build -s none`). Weak, so such a build still links; not looked up with
// dlsym because the runtime is linked statically and does not export it.
#[cfg(fuzzing)]
extern "C" {
    #[linkage = "extern_weak"]
    static __sanitizer_set_death_callback: Option<unsafe extern "C" fn(Option<extern "C" fn()>)>;
}

