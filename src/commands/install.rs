//! `kvenv install DIR`: the running binary copied to `DIR/kvenv`, mode 0755,
//! through a temporary file in DIR renamed over the target, so that the
//! target is either the old file or the whole new one, and a symbolic link
//! there is replaced, never followed. Nothing is resolved and nothing printed.

use crate::error::{At, Error};
use std::io::Write;
use std::path::Path;

/// The binary's own bytes are at most this large (it is about 5 MB).
const BINARY_MAX: u64 = 256 << 20;

pub(crate) fn install(dir: &Path) -> Result<(), Error> {
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(Error::usage(At::file("install", dir), "not a directory")),
        Err(e) => return Err(Error::usage(At::file("install", dir), e.to_string())),
    }
    let fail =
        |what: &str, e: std::io::Error| Error::internal(format!("install {shown}: {what}"), e);
    // The running image itself, whatever its name or whether it still has one.
    let running =
        crate::platform::running_binary().map_err(|e| fail("cannot find the running kvenv", e))?;
    let binary = crate::files::read_regular(&running, BINARY_MAX, crate::files::Links::Follow)
        .map_err(|e| {
            Error::internal(format!("install {shown}: cannot read the running kvenv"), e)
        })?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".kvenv-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| fail("cannot create a file there", e))?;
    tmp.write_all(&binary).map_err(|e| fail("writing", e))?;
    crate::platform::make_executable(tmp.as_file()).map_err(|e| fail("chmod", e))?;
    tmp.as_file().sync_all().map_err(|e| fail("sync", e))?;
    tmp.persist(dir.join("kvenv"))
        .map_err(|e| fail("replacing kvenv there", e.error))?;
    Ok(())
}
