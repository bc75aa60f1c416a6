//! The command as kvenv's child under `run --watch`: in a job object that
//! ends it with kvenv, and in a process group of its own so that Ctrl+Break
//! can be sent to it alone.

use super::Signal;
use std::cell::RefCell;
use std::os::windows::io::AsRawHandle;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::System::Console::{GenerateConsoleCtrlEvent, CTRL_BREAK_EVENT};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};

/// A job object that ends every process in it when kvenv ends (its last
/// handle closes with kvenv).
pub(super) struct Job(HANDLE);

impl Job {
    /// A new job that ends every process in it when its last handle closes.
    fn new() -> Option<Job> {
        // SAFETY: plain Win32 calls on a handle this function owns; `limits`
        // is a zeroed struct of the size passed.
        #[allow(unsafe_code)]
        unsafe {
            let job = CreateJobObjectW(std::ptr::null(), std::ptr::null());
            if job.is_null() {
                return None;
            }
            let job = Job(job);
            let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
            limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
            let size = std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32;
            let set = SetInformationJobObject(
                job.0,
                JobObjectExtendedLimitInformation,
                (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                size,
            );
            (set != 0).then_some(job)
        }
    }

    /// A new job holding `child`; `None` where jobs are not available (the
    /// command still runs, but would outlive a killed kvenv). kvenv itself
    /// stays out of it: Wine's server fails when a process puts itself in a
    /// job, and `run --watch` ends one command's job to start the next.
    pub(super) fn holding(child: &std::process::Child) -> Option<Job> {
        let job = Job::new()?;
        // SAFETY: both handles are valid for the call.
        #[allow(unsafe_code)]
        let assigned =
            unsafe { AssignProcessToJobObject(job.0, child.as_raw_handle() as HANDLE) } != 0;
        assigned.then_some(job)
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: the handle came from CreateJobObjectW and is closed once.
        #[allow(unsafe_code)]
        unsafe {
            CloseHandle(self.0);
        }
    }
}

/// A started command (or none yet).
pub(crate) struct Child {
    process: RefCell<Option<std::process::Child>>,
    job: Option<Job>,
}

impl Child {
    pub(super) fn new(process: std::process::Child, job: Option<Job>) -> Child {
        Child {
            process: RefCell::new(Some(process)),
            job: job,
        }
    }

    /// No command started yet.
    pub(crate) fn none() -> Child {
        Child {
            process: RefCell::new(None),
            job: None,
        }
    }

    /// Whether a command was started.
    pub(crate) fn started(&self) -> bool {
        self.process.borrow().is_some()
    }

    /// Sends Ctrl+Break to the command's process group.
    pub(crate) fn signal(&self, _signal: Signal) {
        if let Some(process) = self.process.borrow().as_ref() {
            // SAFETY: sends a console event to a process group by its id.
            #[allow(unsafe_code)]
            unsafe {
                GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, process.id());
            }
        }
    }

    /// Ends the command now, with every process it started (its job), or
    /// the command alone where it has no job.
    pub(crate) fn kill(&self) {
        if let Some(job) = &self.job {
            // SAFETY: a job handle this Child owns.
            #[allow(unsafe_code)]
            let ended = unsafe { TerminateJobObject(job.0, 1) } != 0;
            if ended {
                return;
            }
        }
        if let Some(process) = self.process.borrow_mut().as_mut() {
            let _ = process.kill();
        }
    }

    /// The command's exit code once it has ended.
    pub(crate) fn ended(&self) -> Option<i32> {
        let mut process = self.process.borrow_mut();
        let status = process.as_mut()?.try_wait().ok()??;
        status.code()
    }
}

/// Windows has no SIGCHLD: the supervisor looks every 50 ms.
pub(crate) struct ChildEvents;

impl ChildEvents {
    pub(crate) fn listen() -> std::io::Result<ChildEvents> {
        Ok(ChildEvents)
    }

    pub(crate) async fn next(&mut self) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The console events kvenv passes on, as they arrive.
pub(crate) type Signals = futures::stream::SelectAll<futures::stream::BoxStream<'static, Signal>>;

/// Ctrl+Break asks the command to end.
pub(crate) fn asks_to_end(_signal: Signal) -> bool {
    true
}

/// The exit code of a command ended from the console: `STATUS_CONTROL_C_EXIT`.
pub(crate) fn signal_exit_code(_signal: Signal) -> i32 {
    0xC000_013A_u32 as i32
}
