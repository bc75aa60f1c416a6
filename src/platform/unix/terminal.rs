//! The command's output under `--mask`: a pseudo-terminal for each of
//! kvenv's stdout and stderr that is a terminal (one shared when both are
//! the same terminal), a pipe for each that is not; kvenv reads the other
//! ends. With a pseudo-terminal on stdout and a terminal on stdin, kvenv's
//! terminal goes raw and what is typed is relayed; it is put back when the
//! [`Wired`] ends (every exit path but SIGKILL).

use crate::error::Error;
use nix::sys::termios::{self, SetArg, Termios};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// What the command's standard descriptors become (the child's side).
pub(crate) struct ChildIo {
    /// A pseudo-terminal's slave, by path: opened by the child after it
    /// starts a session, so that it becomes its controlling terminal.
    tty: Option<std::path::PathBuf>,
    /// Which descriptors (0, 1, 2) the slave becomes.
    on_tty: Vec<RawFd>,
    /// Pipes' write ends: (the child's descriptor, ours to give).
    pipes: Vec<(RawFd, OwnedFd)>,
    /// Kept open until the child has started, so the master does not see
    /// the slave closed before the child opens it.
    _slave: Option<OwnedFd>,
}

impl ChildIo {
    /// Adds the file actions that set up the child's descriptors.
    pub(super) fn actions(
        &self,
        actions: &mut nix::spawn::PosixSpawnFileActions,
        flags: &mut nix::spawn::PosixSpawnFlags,
    ) -> nix::Result<()> {
        if let (Some(path), Some(first)) = (&self.tty, self.on_tty.first()) {
            // A new session; opening the slave then makes it the controlling
            // terminal (Ctrl+C, job control, /dev/tty). macOS would need
            // TIOCSCTTY, which spawn cannot do: the command gets the terminal
            // without controlling it.
            #[cfg(target_os = "linux")]
            {
                *flags |= nix::spawn::PosixSpawnFlags::from_bits_retain(
                    nix::libc::POSIX_SPAWN_SETSID as _,
                );
            }
            #[cfg(not(target_os = "linux"))]
            let _ = &flags;
            actions.add_open(
                *first,
                path.as_path(),
                nix::fcntl::OFlag::O_RDWR,
                nix::sys::stat::Mode::empty(),
            )?;
            for fd in &self.on_tty[1..] {
                actions.add_dup2(*first, *fd)?;
            }
        }
        for (fd, pipe) in &self.pipes {
            actions.add_dup2(pipe.as_raw_fd(), *fd)?;
        }
        Ok(())
    }
}

/// kvenv's side: what it reads the command's output from, where it
/// relays what is typed, and its terminal's settings to put back.
pub(crate) struct Wired {
    /// The command's stdout and stderr to read (`None`: not redirected).
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    /// Where what is typed at kvenv's terminal goes (the master).
    pub typed: Option<File>,
    /// The pseudo-terminal's master, for window sizes.
    master: Option<OwnedFd>,
    raw: Option<(File, Termios)>,
}

impl Drop for Wired {
    fn drop(&mut self) {
        if let Some((tty, saved)) = &self.raw {
            let _ = termios::tcsetattr(tty, SetArg::TCSADRAIN, saved);
        }
    }
}

nix::ioctl_read_bad!(get_winsize, nix::libc::TIOCGWINSZ, nix::pty::Winsize);
nix::ioctl_write_ptr_bad!(set_winsize, nix::libc::TIOCSWINSZ, nix::pty::Winsize);

fn close_on_exec(fd: &OwnedFd) -> nix::Result<()> {
    nix::fcntl::fcntl(
        fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map(|_| ())
}

fn is_tty(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

fn window_size(fd: BorrowedFd<'_>) -> Option<nix::pty::Winsize> {
    let mut size = nix::pty::Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into `size`, which lives for
    // the call; `fd` is a borrowed, open descriptor.
    #[allow(unsafe_code)]
    let asked = unsafe { get_winsize(fd.as_raw_fd(), &mut size) };
    asked.ok()?;
    Some(size)
}

/// The same terminal: the same device.
fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    match (nix::sys::stat::fstat(a), nix::sys::stat::fstat(b)) {
        (Ok(x), Ok(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino && x.st_rdev == y.st_rdev,
        _ => false,
    }
}

/// Sets up the command's descriptors for the next start.
pub(crate) fn wire() -> Result<(ChildIo, Wired), Error> {
    let fail = |e: nix::Error| Error::internal("cannot set up the command's output for --mask", e);
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let out_tty = is_tty(stdout.as_fd());
    let err_tty = is_tty(stderr.as_fd());
    let mut child = ChildIo {
        tty: None,
        on_tty: Vec::new(),
        pipes: Vec::new(),
        _slave: None,
    };
    let mut wired = Wired {
        stdout: None,
        stderr: None,
        typed: None,
        master: None,
        raw: None,
    };
    if out_tty || err_tty {
        let term_fd = if out_tty {
            stdout.as_fd()
        } else {
            stderr.as_fd()
        };
        let settings = termios::tcgetattr(term_fd).ok();
        let size = window_size(term_fd);
        let pty = nix::pty::openpty(size.as_ref(), settings.as_ref()).map_err(fail)?;
        for fd in [&pty.master, &pty.slave] {
            close_on_exec(fd).map_err(fail)?;
        }
        let path = nix::unistd::ttyname(&pty.slave).map_err(fail)?;
        let shared = out_tty && err_tty && same_file(stdout.as_fd(), stderr.as_fd());
        let typed = is_tty(stdin.as_fd()) && out_tty;
        if typed {
            child.on_tty.push(0);
        }
        if out_tty {
            child.on_tty.push(1);
        }
        if !out_tty || shared {
            child.on_tty.push(2);
        }
        let master = File::from(pty.master);
        if typed {
            wired.typed = Some(
                master
                    .try_clone()
                    .map_err(|e| Error::internal("cannot relay the terminal", e))?,
            );
            let tty = File::from(
                stdin
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(|e| Error::internal("cannot relay the terminal", e))?,
            );
            if let Some(saved) = settings.clone() {
                let mut raw = saved.clone();
                termios::cfmakeraw(&mut raw);
                termios::tcsetattr(&tty, SetArg::TCSADRAIN, &raw).map_err(fail)?;
                wired.raw = Some((tty, saved));
            }
        }
        wired.master = Some(
            master
                .try_clone()
                .map_err(|e| Error::internal("cannot read the terminal", e))?
                .into(),
        );
        if out_tty {
            wired.stdout = Some(master);
        } else {
            wired.stderr = Some(master);
        }
        child.tty = Some(path);
        child._slave = Some(pty.slave);
    }
    for (fd, on_tty) in [
        (1, !child.on_tty.contains(&1)),
        (2, !child.on_tty.contains(&2)),
    ] {
        if !on_tty {
            continue;
        }
        // pipe, then close-on-exec (macOS has no pipe2): no thread of ours
        // starts a program in between.
        let (read, write) = nix::unistd::pipe().map_err(fail)?;
        for end in [&read, &write] {
            close_on_exec(end).map_err(fail)?;
        }
        child.pipes.push((fd, write));
        match fd {
            1 => wired.stdout = Some(File::from(read)),
            _ if wired.stderr.is_none() => wired.stderr = Some(File::from(read)),
            _ => {}
        }
    }
    Ok((child, wired))
}

impl Wired {
    /// Passes kvenv's terminal's size on to the pseudo-terminal (SIGWINCH).
    pub(crate) fn resize(&self) {
        let Some(master) = &self.master else { return };
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        let size = window_size(stdout.as_fd()).or_else(|| window_size(stderr.as_fd()));
        if let Some(size) = size {
            // SAFETY: TIOCSWINSZ reads one `winsize` from `size`, which lives
            // for the call; `master` is an open descriptor we own.
            #[allow(unsafe_code)]
            let _ = unsafe { set_winsize(master.as_raw_fd(), &size) };
        }
    }
}

/// Whether `--mask` can run here.
pub(crate) const MASK_SUPPORTED: bool = true;

/// Whether `signal` says the terminal's size changed.
pub(crate) fn resizes(signal: super::Signal) -> bool {
    signal == super::Signal::SIGWINCH
}
