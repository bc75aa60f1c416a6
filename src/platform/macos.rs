//! What only macOS has: `PT_DENY_ATTACH`.

/// Asks the kernel to refuse any debugger's attach to kvenv (and to end
/// kvenv if one is attached): what macOS has for `PR_SET_DUMPABLE`. Used
/// only while kvenv stays the command's parent (`--watch`): it is never
/// set before exec, where the command would keep it.
pub(crate) fn deny_attach() {
    const PT_DENY_ATTACH: nix::libc::c_int = 31;
    // SAFETY: PT_DENY_ATTACH takes no pid, address or data, and only sets a
    // flag on the calling process.
    #[allow(unsafe_code)]
    let denied = unsafe { nix::libc::ptrace(PT_DENY_ATTACH, 0, std::ptr::null_mut(), 0) };
    if denied != 0 {
        tracing::warn!("could not set PT_DENY_ATTACH");
    }
}
