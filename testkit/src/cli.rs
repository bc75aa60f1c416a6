//! Fake `az` and `azd` executables in a temporary folder to put first on PATH.
//! They print what the real tools print for `az account get-access-token -o json`
//! and `azd auth token -o json`, with a token the fake vault accepts, and log
//! their arguments.

use crate::TokenBook;
use std::path::{Path, PathBuf};

pub struct FakeCli {
    dir: PathBuf,
    tokens: TokenBook,
}

impl FakeCli {
    /// Creates `dir/bin` (for PATH) with nothing in it yet.
    pub fn new(dir: &Path, tokens: TokenBook) -> FakeCli {
        let dir = dir.join("fake-cli");
        std::fs::create_dir_all(dir.join("bin")).expect("fake CLI folder");
        FakeCli { dir, tokens }
    }

    /// The folder to put first on PATH.
    pub fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// `PATH` with the fake tools first, then `rest`.
    pub fn path(&self, rest: &str) -> String {
        format!("{}:{rest}", self.bin().display())
    }

    /// An `az` that is signed in.
    pub fn az_signed_in(&self) {
        let token = self.tokens.issue();
        self.write(
            "az",
            &format!(
                "printf '%s\\n' '{{\"accessToken\": \"{token}\", \"expiresOn\": \"2099-01-01 00:00:00.000000\", \"expires_on\": 4070908800, \"subscription\": \"00000000-0000-0000-0000-000000000000\", \"tenant\": \"72f988bf-86f1-41af-91ab-2d7cd011db47\", \"tokenType\": \"Bearer\"}}'"
            ),
        );
    }

    /// An `az.cmd` that is signed in, as the Azure CLI installs itself on
    /// Windows (a batch file), for kvenv.exe under Wine.
    pub fn az_cmd_signed_in(&self) {
        let token = self.tokens.issue();
        let log = self.dir.join("az.log");
        let script = format!(
            "@echo off\r\necho %*>> \"Z:{}\"\r\necho {{\"accessToken\": \"{token}\", \"expiresOn\": \"2099-01-01 00:00:00.000000\", \"expires_on\": 4070908800, \"subscription\": \"00000000-0000-0000-0000-000000000000\", \"tenant\": \"72f988bf-86f1-41af-91ab-2d7cd011db47\", \"tokenType\": \"Bearer\"}}\r\n",
            log.display().to_string().replace('/', "\\")
        );
        std::fs::write(self.bin().join("az.cmd"), script).expect("write fake az.cmd");
    }

    /// An `az` that is installed but not signed in.
    pub fn az_signed_out(&self) {
        self.write(
            "az",
            "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1",
        );
    }

    /// An `azd` that is signed in.
    pub fn azd_signed_in(&self) {
        let token = self.tokens.issue();
        self.write(
            "azd",
            &format!("printf '%s\\n' '{{\"token\": \"{token}\", \"expiresOn\": \"2099-01-01T00:00:00Z\"}}'"),
        );
    }

    /// An `azd` that is installed but not signed in.
    pub fn azd_signed_out(&self) {
        self.write(
            "azd",
            "echo '{\"type\":\"consoleMessage\",\"timestamp\":\"2026-11-26T12:00:00Z\",\"data\":{\"message\":\"\\nERROR: not logged in, run `azd auth login` to login\\n\"}}' >&2; exit 1",
        );
    }

    /// The argument lines the fake tools were called with, one per call.
    pub fn calls(&self, tool: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.join(format!("{tool}.log")))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn write(&self, tool: &str, body: &str) {
        let log = self.dir.join(format!("{tool}.log"));
        let script = format!("#!/bin/sh\necho \"$*\" >> '{}'\n{body}\n", log.display());
        let path = self.bin().join(tool);
        std::fs::write(&path, script).expect("write fake tool");
        #[cfg(unix)]
        std::fs::set_permissions(
            &path,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )
        .expect("chmod fake tool");
    }
}
