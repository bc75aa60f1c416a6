//! Azure Arc's challenge: the agent answers a token request with 401 naming a
//! key file that only its group can read; the file's content authorizes the
//! retry. kvenv reads such a file only where the agent keeps them, only if it
//! is a regular file (never a link), and only up to 4 KiB.

/// Where the Arc agent keeps its challenge files on Linux; no other file is read.
pub(super) const TOKEN_FOLDER: &str = "/var/opt/azcmagent/tokens";
use std::path::{Path, PathBuf};

/// The agent's key files are small; anything larger is not one.
const KEY_MAX: u64 = 4096;

/// Reads the secret the Arc agent's challenge points at: a `.key` file
/// directly inside the agent's token folder, itself a regular file (a symbolic
/// link is refused, whatever it points at), at most 4 KiB.
pub(super) fn read_key(
    challenge: &str,
    folder: &Path,
) -> Result<crate::secret::SecretBytes, ArcChallenge> {
    let realm = challenge
        .trim()
        .strip_prefix("Basic realm=")
        .ok_or(ArcChallenge::NoRealm)?
        .trim_matches('"');
    let path = Path::new(realm);
    let in_folder = path.parent() == Some(folder)
        && path.file_name().is_some_and(|n| n != ".." && n != ".")
        && path.extension().and_then(|e| e.to_str()) == Some("key");
    if !in_folder {
        return Err(ArcChallenge::OutsideFolder(folder.to_path_buf()));
    }
    crate::files::read_regular(path, KEY_MAX, crate::files::Links::Refuse)
        .map(crate::secret::SecretBytes::new)
        .map_err(|error| ArcChallenge::Unreadable {
            path: path.to_path_buf(),
            error,
        })
}

/// Why the Arc agent's challenge was not answered.
#[derive(Debug, thiserror::Error)]
pub(super) enum ArcChallenge {
    #[error("the Azure Arc endpoint sent no 'Basic realm=' challenge")]
    NoRealm,
    #[error("the Azure Arc challenge file is not a .key file in {}; refusing to read it", .0.display())]
    OutsideFolder(PathBuf),
    #[error("the Azure Arc challenge file {}: {error}", crate::error::printable(&.path.display().to_string()))]
    Unreadable {
        path: PathBuf,
        error: crate::files::FileError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_key_must_be_a_small_key_file_in_the_agent_folder() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("abc.key");
        std::fs::write(&key, "arc-secret").unwrap();
        let ok = read_key(&format!("Basic realm={}", key.display()), dir.path());
        assert_eq!(ok.unwrap().expose(), b"arc-secret");
        for bad in [
            "Bearer realm=/x".to_string(),
            format!("Basic realm={}/../abc.key", dir.path().display()),
            format!("Basic realm={}/abc.txt", dir.path().display()),
            "Basic realm=/etc/shadow".to_string(),
        ] {
            assert!(read_key(&bad, dir.path()).is_err(), "{bad}");
        }
        let big = dir.path().join("big.key");
        std::fs::write(&big, vec![b'x'; 5000]).unwrap();
        let err = read_key(&format!("Basic realm={}", big.display()), dir.path()).unwrap_err();
        assert!(err.to_string().contains("larger"), "{err}");
        // A symbolic link is refused whatever it points at: /dev/zero, or a
        // file outside the folder.
        #[cfg(unix)]
        for target in ["/dev/zero", "/etc/hostname"] {
            let link = dir.path().join("link.key");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(target, &link).unwrap();
            let err = read_key(&format!("Basic realm={}", link.display()), dir.path()).unwrap_err();
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
    }
}
