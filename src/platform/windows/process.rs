//! What Windows has, or has no need of, for kvenv's own process: the
//! environment as it stands, no SIGPIPE, no descriptor limits, crash
//! dialogs and heap dumps off, and no in-memory files for templates.

use crate::error::{At, Error};
use crate::secret::SecretBytes;

/// kvenv's environment as it stands, every entry as `NAME=VALUE\0` in
/// WTF-8 (UTF-8 for every valid UTF-16 string); the hidden per-drive
/// entries (`=C:=C:\dir`) too.
pub(crate) fn raw_environment() -> Vec<SecretBytes> {
    std::env::vars_os()
        .map(|(name, value)| {
            let mut entry = SecretBytes::with_capacity(name.len() + value.len() + 2);
            entry.push(name.as_encoded_bytes());
            entry.push(b"=");
            entry.push(value.as_encoded_bytes());
            entry.push(b"\0");
            entry
        })
        .collect()
}

/// The OS string for `bytes` (UTF-8; anything else, which only an unpaired
/// surrogate in the environment gives, is replaced).
pub(crate) fn os_string(bytes: &[u8]) -> std::ffi::OsString {
    String::from_utf8_lossy(bytes).into_owned().into()
}

/// Nothing to hold: a Windows process without a standard handle gets none
/// of kvenv's.
pub(crate) fn hold_closed_standard_descriptors() {}

/// Windows has no SIGPIPE: a write to a closed pipe fails with an error.
pub(crate) fn block_sigpipe_in_this_thread() {}

/// See [`block_sigpipe_in_this_thread`].
pub(crate) fn sigpipe_blocked_here() -> bool {
    true
}

/// Runs `work` here: there is no SIGPIPE to keep away.
pub(crate) fn without_sigpipe<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    work()
}

/// Handles are not limited the way descriptors are.
pub(crate) fn out_of_descriptors(_error: &std::io::Error) -> bool {
    false
}

/// See [`out_of_descriptors`].
pub(crate) fn descriptor_limit() -> Option<u64> {
    None
}

/// An environment block has no fixed limit on Windows but each variable's
/// 32,767 characters; kvenv keeps the same 32 MiB ceiling as elsewhere.
pub(crate) fn exec_budget() -> usize {
    32 << 20
}

/// Crash dialogs and Windows Error Reporting's heap dumps off for kvenv.
pub(crate) struct Hardening;

impl Hardening {
    /// No critical-error or fault dialog (`SetErrorMode`), and no heap in a
    /// crash report (`WerSetFlags` with `WER_FAULT_REPORTING_FLAG_NOHEAP`):
    /// kvenv's secrets live on the heap.
    pub(crate) fn engage() -> Hardening {
        use windows_sys::Win32::System::Diagnostics::Debug::{
            SetErrorMode, SEM_FAILCRITICALERRORS, SEM_NOGPFAULTERRORBOX,
        };
        use windows_sys::Win32::System::ErrorReporting::{
            WerSetFlags, WER_FAULT_REPORTING_FLAG_NOHEAP,
        };
        // SAFETY: both only set flags of the calling process.
        #[allow(unsafe_code)]
        unsafe {
            SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
            WerSetFlags(WER_FAULT_REPORTING_FLAG_NOHEAP);
        }
        Hardening
    }

    /// Nothing more while kvenv supervises.
    pub(crate) fn supervising(&self) {}

    // The command gets its own error mode (`CREATE_DEFAULT_ERROR_MODE`), and
    // there is no exec to put anything back for.
}

/// Whether `--template` can be delivered here: not on Windows, where kvenv
/// has no in-memory file to give the command and never writes to disk.
pub(crate) fn templates_supported() -> bool {
    false
}

/// Never made on Windows (see [`templates_supported`]).
pub(crate) struct KeptFile;

impl KeptFile {
    /// See [`templates_supported`].
    pub(crate) fn number(&self) -> i32 {
        -1
    }
}

fn no_templates(name: &str) -> Error {
    Error::usage(
        At::file("template", name),
        "templates are not available on Windows: kvenv has no in-memory file to give the command there, and never writes a secret to disk",
    )
}

/// See [`templates_supported`].
pub(crate) fn left_to_command(name: &str, _content: &SecretBytes) -> Result<i32, Error> {
    Err(no_templates(name))
}

/// See [`templates_supported`].
pub(crate) fn kept(name: &str, _content: &SecretBytes) -> Result<KeptFile, Error> {
    Err(no_templates(name))
}

/// See [`templates_supported`].
pub(crate) fn replace(_file: &KeptFile, _content: &SecretBytes) -> Result<(), Error> {
    Err(no_templates("?"))
}

/// See [`templates_supported`].
pub(crate) fn replaceable() -> bool {
    false
}
