//! `kvenv render`: a template with its references resolved, to stdout or
//! atomically to a regular file (mode 0600, whatever the umask).

use super::shared::{prepare, print, resolve, Mode, Resolved};
use crate::child::{too_large, TEMPLATE_RENDERED_MAX};
use crate::cli::RenderArgs;
use crate::error::{At, Error};
use crate::plan::Plan;
use crate::secret::SecretBytes;
use crate::sources;
use crate::vars::Vars;
use std::io::Write;
use std::path::Path;

/// `kvenv render`: the resolved template to stdout or, atomically, to a file.
pub(crate) fn render(args: RenderArgs, vars: Vars) -> Result<(), Error> {
    let (settings, _vars) = prepare(&args.common, vars)?;
    let destination = args.output.as_deref().filter(|p| *p != Path::new("-"));
    if let Some(path) = destination {
        check_destination(path)?;
    }
    let text = sources::template(&args.template)?;
    let plan = Plan::of(&[], &[(&args.template, &text)], settings.cloud);
    let Resolved {
        resolution, stale, ..
    } = resolve(
        &plan,
        &[],
        &crate::shape::Shapes::default(),
        &settings,
        Mode::Strict {
            keep_unresolved: args.keep_unresolved,
        },
        false,
    )?;
    super::shared::warn_stale(&stale, args.common.quiet);
    if plan.items[0].rendered_len(&resolution) > TEMPLATE_RENDERED_MAX {
        return Err(too_large(&args.template.display().to_string()));
    }
    let rendered = plan.items[0].render(&resolution);
    drop(resolution);
    match destination {
        None => print(|out| out.write_all(rendered.expose())),
        Some(path) => write_atomically(path, &rendered),
    }
}

/// `-o FILE` replaces FILE only if it is a regular file (or absent): never a
/// device such as `/dev/stdout`, a FIFO, a directory, or a symbolic link,
/// which a rename would replace instead of writing through.
pub(crate) fn check_destination(path: &Path) -> Result<(), Error> {
    use crate::platform::FileKind;
    let kind = match std::fs::symlink_metadata(path) {
        Ok(meta) => crate::platform::file_kind(&meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::usage(
                At::file("-o", path),
                format!("cannot be checked: {e}"),
            ))
        }
    };
    let what = match kind {
        FileKind::Regular => return Ok(()),
        FileKind::Symlink => "a symbolic link",
        FileKind::Directory => "a directory",
        FileKind::Fifo => "a FIFO",
        FileKind::Socket => "a socket",
        FileKind::Device | FileKind::Other => "a device",
    };
    Err(Error::usage(
        At::file("-o", path),
        format!("is {what}, not a regular file; refusing to replace it (use -o - for stdout)"),
    ))
}

/// Creates FILE with mode 0600 (whatever the umask) through a temporary file
/// in the same folder and a rename, so that FILE is either complete or untouched.
pub(crate) fn write_atomically(path: &Path, content: &SecretBytes) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| Error::usage(At::file("-o", path), format!("cannot write: {e}"));
    let mut tmp = tempfile::Builder::new()
        .prefix(".kvenv-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    // fchmod, so the umask plays no part.
    crate::platform::owner_only(tmp.as_file()).map_err(fail)?;
    if !crate::platform::OWNER_ONLY_FILES {
        crate::output::lines(&format!(
            "-o {}: written with its folder's permissions: kvenv cannot make a file owner-only here, so keep it in a folder only you can read",
            path.display()
        ));
    }
    tmp.write_all(content.expose()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    check_destination(path)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
