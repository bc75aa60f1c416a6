//! The integration-test kit: runs the real `kvenv` binary against the loopback
//! fakes with a clean environment, and checks every run for leaks: no secret
//! value, token or identity header may appear in kvenv's stdout or stderr.

#![allow(dead_code, unreachable_pub)]

use kvenv_testkit::{FakeAzure, FakeCli, FakeVault, IdentityKind};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

pub struct Kit {
    pub azure: FakeAzure,
    /// Fake `az` and `azd`, first on every run's PATH (absent until a test writes them).
    pub cli: FakeCli,
}

impl Kit {
    pub fn new() -> Kit {
        Kit::with(IdentityKind::AppService)
    }

    pub fn with(kind: IdentityKind) -> Kit {
        let azure = FakeAzure::start(kind);
        let cli = FakeCli::new(azure.dir(), azure.tokens.clone());
        Kit { azure, cli }
    }

    /// `kvenv run` with `vault` answering for `NAME.vault.azure.net` (a host
    /// under the cloud's suffix, pinned with `--resolve`), and `--ca-file`.
    pub fn run_suffix(&self, vault: &FakeVault, name: &str) -> Run<'_> {
        let port = vault.port();
        self.bare().args([
            "run".to_string(),
            "--ca-file".into(),
            self.azure.ca_file().display().to_string(),
            "--resolve".into(),
            format!("{name}.vault.azure.net=127.0.0.1:{port}"),
        ])
    }

    /// `kvenv run` pointed at the fakes: clean environment with PATH, the
    /// identity endpoint variables, `--allow-host` and `--ca-file`.
    pub fn run(&self) -> Run<'_> {
        let mut run = self.bare();
        run.args = vec![
            "run".into(),
            "--allow-host".into(),
            self.azure.vault.host(),
            "--ca-file".into(),
            self.azure.ca_file().display().to_string(),
        ];
        run
    }

    /// `kvenv render` pointed at the fakes; add the template (and `-o`) as arguments.
    pub fn run_render(&self) -> Run<'_> {
        let mut run = self.run();
        run.args[0] = "render".into();
        run
    }

    /// `kvenv check` pointed at the fakes: use with [`Run::go_check`].
    pub fn check(&self) -> Run<'_> {
        let mut run = self.run();
        run.args[0] = "check".into();
        run
    }

    /// `kvenv` with only the clean environment (no flags).
    pub fn bare(&self) -> Run<'_> {
        // Only the system folders, after the fake `az`/`azd` folder, so that a
        // developer's real `az` is never run by a test.
        let mut env: Vec<(String, String)> = vec![("PATH".into(), self.cli.path("/usr/bin:/bin"))];
        env.extend(self.azure.identity_env());
        Run {
            kit: self,
            env,
            args: Vec::new(),
            command: Vec::new(),
            probe: None,
            stdin: Vec::new(),
            extra_secrets: Vec::new(),
            stdout_is_output: false,
            cwd: None,
        }
    }

    /// Every value that must never appear in kvenv's own output.
    fn forbidden(&self) -> Vec<String> {
        let mut all = self.azure.vault.values();
        all.extend(self.azure.store.values());
        all.extend(self.azure.tokens.issued());
        all.push(self.azure.identity.identity_header().to_string());
        all
    }
}

#[must_use]
pub struct Run<'k> {
    kit: &'k Kit,
    env: Vec<(String, String)>,
    args: Vec<String>,
    command: Vec<String>,
    probe: Option<PathBuf>,
    stdin: Vec<u8>,
    extra_secrets: Vec<String>,
    stdout_is_output: bool,
    cwd: Option<PathBuf>,
}

pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// What the command saw, when run with [`Run::probe`]; `None` if it never ran.
    pub child_env: Option<HashMap<String, Vec<u8>>>,
}

impl Outcome {
    pub fn child(&self, name: &str) -> Option<String> {
        self.child_env
            .as_ref()
            .expect("the command did not run")
            .get(name)
            .map(|v| String::from_utf8(v.clone()).unwrap())
    }

    pub fn assert_code(&self, code: i32) -> &Outcome {
        assert_eq!(self.code, Some(code), "exit code; stderr:\n{}", self.stderr);
        self
    }
}

impl<'k> Run<'k> {
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn envs<I: IntoIterator<Item = (K, V)>, K: AsRef<str>, V: Into<String>>(
        mut self,
        vars: I,
    ) -> Self {
        for (k, v) in vars {
            self = self.env(k.as_ref(), v);
        }
        self
    }

    pub fn without_env(mut self, name: &str) -> Self {
        self.env.retain(|(k, _)| k != name);
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The command kvenv runs after `--`.
    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(mut self, command: I) -> Self {
        self.command = command.into_iter().map(Into::into).collect();
        self
    }

    /// The command writes its whole environment to a file the test reads back.
    pub fn probe(mut self) -> Self {
        let file = self
            .kit
            .azure
            .dir()
            .join(format!("probe-{}", fastrand_name()));
        self.command = vec![
            "sh".into(),
            "-c".into(),
            "env -0 > \"$1\"".into(),
            "sh".into(),
            file.display().to_string(),
        ];
        self.probe = Some(file);
        self
    }

    pub fn stdin(mut self, input: &[u8]) -> Self {
        self.stdin = input.to_vec();
        self
    }

    /// `kvenv render` without `-o`: stdout is the rendered template, so only
    /// stderr is swept for secrets.
    pub fn stdout_is_output(mut self) -> Self {
        self.stdout_is_output = true;
        self
    }

    pub fn cwd(mut self, dir: &std::path::Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// Another value that must not leak (say, a client secret in the environment).
    pub fn secret(mut self, value: &str) -> Self {
        self.extra_secrets.push(value.into());
        self
    }

    pub fn go(self) -> Outcome {
        let mut cmd = kvenv_command();
        cmd.args(&self.args);
        if !self.command.is_empty() {
            cmd.arg("--").args(&self.command);
        }
        self.finish(cmd)
    }

    /// Turns a `run()` builder into `kvenv export` with the same flags.
    pub fn go_export(self) -> Outcome {
        self.go_export_args(&[])
    }

    /// `kvenv export` with the same flags, then `vars` as its VAR arguments.
    pub fn go_export_args(mut self, vars: &[&str]) -> Outcome {
        self.args[0] = "export".into();
        self.args.extend(vars.iter().map(|v| v.to_string()));
        self.go()
    }

    /// As [`Run::go`], with the command right after the arguments, no `--`.
    pub fn go_without_dashes(self) -> Outcome {
        let mut cmd = kvenv_command();
        cmd.args(&self.args).args(&self.command);
        self.finish(cmd)
    }

    /// Workload identity against the fake Entra ID, with `assertion` as the
    /// federated token file's content; the App Service identity taken away.
    pub fn workload_identity(self, assertion: &str) -> Self {
        let file = self
            .kit
            .azure
            .dir()
            .join(format!("federated-token-{}", fastrand_name()));
        std::fs::write(&file, assertion).unwrap();
        let authority = self.kit.azure.entra.authority();
        self.secret(assertion)
            .without_env("IDENTITY_ENDPOINT")
            .without_env("IDENTITY_HEADER")
            .args(["--credential", "workload-identity"])
            .env("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string())
            .env("AZURE_CLIENT_ID", "wi-client-id")
            .env("AZURE_TENANT_ID", "wi-tenant")
            .env("AZURE_AUTHORITY_HOST", authority)
    }

    /// Turns a `run()` builder into `kvenv check` with the same flags.
    pub fn go_check(mut self) -> Outcome {
        self.args[0] = "check".into();
        self.go()
    }

    /// Runs `script` with `sh -c` (with this run's environment) instead of
    /// kvenv directly, for tests that set up process state first.
    pub fn go_shell(self, script: &str) -> Outcome {
        let mut cmd = assert_cmd::Command::new("sh");
        cmd.args(["-c", script]);
        self.finish(cmd)
    }

    /// Runs kvenv from a shell that first runs `prefix` (`umask 0777`,
    /// `ulimit -v ...`), then execs kvenv with this run's arguments.
    pub fn go_after(self, prefix: &str) -> Outcome {
        self.go_within(&[], prefix)
    }

    /// As [`Run::go_after`], with the shell itself started by `launcher`
    /// (`unshare -m`, say).
    pub fn go_within(self, launcher: &[&str], prefix: &str) -> Outcome {
        let mut cmd = match launcher {
            [program, args @ ..] => {
                let mut cmd = assert_cmd::Command::new(program);
                cmd.args(args).arg("sh");
                cmd
            }
            [] => assert_cmd::Command::new("sh"),
        };
        cmd.args(["-c", &format!("{prefix}; exec \"$@\""), "sh"])
            .args(kvenv())
            .args(&self.args);
        if !self.command.is_empty() {
            cmd.arg("--").args(&self.command);
        }
        self.finish(cmd)
    }

    /// Runs kvenv to its end from a shell that first runs `prefix` (`trap ''
    /// PIPE`, say), with kvenv's stderr going to `stderr` and stdout to
    /// /dev/null: its exit code, `None` if a signal ended it.
    pub fn go_with_stderr(self, prefix: &str, stderr: std::process::Stdio) -> Option<i32> {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", &format!("{prefix}; exec \"$@\""), "sh"])
            .args(kvenv())
            .args(&self.args);
        if !self.command.is_empty() {
            cmd.arg("--").args(&self.command);
        }
        cmd.env_clear()
            .envs(launcher_env())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr);
        let mut child = cmd.spawn().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            assert!(std::time::Instant::now() < deadline, "kvenv did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts kvenv in the background (for `run --watch`); its stdout and
    /// stderr go to files, read with [`Running::stderr`].
    pub fn spawn(self) -> Running<'k> {
        self.spawn_after("true")
    }

    /// As [`Run::spawn`], from a shell that first runs `prefix` and then
    /// execs kvenv (same PID).
    pub fn spawn_after(self, prefix: &str) -> Running<'k> {
        let err = self
            .kit
            .azure
            .dir()
            .join(format!("err-{}", fastrand_name()));
        let stderr = std::fs::File::create(&err).unwrap();
        self.spawn_with_stderr(prefix, stderr.into(), err)
    }

    /// As [`Run::spawn_after`], with kvenv's stderr going to `stderr`
    /// (`err`: where [`Running::stderr`] reads, if anywhere).
    pub fn spawn_with_stderr(
        self,
        prefix: &str,
        stderr: std::process::Stdio,
        err: PathBuf,
    ) -> Running<'k> {
        let out = self
            .kit
            .azure
            .dir()
            .join(format!("out-{}", fastrand_name()));
        // kvenv keeps a signal it was started with ignored, by design; under
        // `nohup` the tests would inherit SIGHUP ignored and could not send it.
        let mut cmd = std::process::Command::new("env");
        if default_signals_supported() {
            cmd.arg("--default-signal=HUP");
        }
        cmd.args(["sh", "-c", &format!("{prefix}; exec \"$@\""), "sh"])
            .args(kvenv())
            .args(&self.args);
        if !self.command.is_empty() {
            cmd.arg("--").args(&self.command);
        }
        cmd.env_clear()
            .envs(launcher_env())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(stderr);
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        let child = cmd.spawn().unwrap();
        Running {
            run: self,
            child,
            out,
            err,
        }
    }

    /// Runs kvenv on a pseudo-terminal of the test's own (stdin, stdout and
    /// stderr): what came out on the terminal, the exit code, and the
    /// terminal's settings before and after.
    pub fn go_on_terminal(self) -> OnTerminal {
        self.go_on_terminal_typing(b"")
    }

    /// As [`Run::go_on_terminal`], typing `typed` at the terminal once the
    /// output shows `ready`.
    pub fn go_on_terminal_typing(self, typed: &[u8]) -> OnTerminal {
        use std::io::{Read, Write};
        let pty = nix::pty::openpty(None, None).unwrap();
        let before = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
        let mut cmd = std::process::Command::new(kvenv()[0].clone());
        cmd.args(&kvenv()[1..]).args(&self.args);
        if !self.command.is_empty() {
            cmd.arg("--").args(&self.command);
        }
        let io = |fd: &std::os::fd::OwnedFd| std::process::Stdio::from(fd.try_clone().unwrap());
        cmd.env_clear()
            .envs(launcher_env())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(io(&pty.slave))
            .stdout(io(&pty.slave))
            .stderr(io(&pty.slave));
        let mut child = cmd.spawn().unwrap();
        // The command holds copies of the slave until it is dropped.
        drop(cmd);
        let mut master = std::fs::File::from(pty.master);
        let mut keyboard = master.try_clone().unwrap();
        let typed = typed.to_vec();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            // EIO once no one holds the slave; the test's own copy closes
            // after the wait below.
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let seen_ready = all.windows(5).any(|w| w == b"ready");
                all.extend_from_slice(&buf[..n]);
                if !typed.is_empty() && !seen_ready && all.windows(5).any(|w| w == b"ready") {
                    keyboard.write_all(&typed).unwrap();
                }
            }
            all
        });
        let status = child.wait().unwrap();
        let after = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
        drop(pty.slave);
        let output = reader.join().unwrap();
        let text = String::from_utf8_lossy(&output).into_owned();
        self.sweep(&text, "");
        OnTerminal {
            code: status.code(),
            output: text,
            same_settings: format!("{before:?}") == format!("{after:?}"),
            before: format!("{before:?}"),
            after: format!("{after:?}"),
        }
    }

    /// The leak sweep every run goes through: no configured value, issued
    /// token, identity header or extra secret in kvenv's own output.
    fn sweep(&self, stdout: &str, stderr: &str) {
        let mut forbidden = self.kit.forbidden();
        forbidden.extend(self.extra_secrets.iter().cloned());
        for value in forbidden.iter().filter(|v| !v.is_empty()) {
            assert!(
                self.stdout_is_output || !stdout.contains(value.as_str()),
                "kvenv's stdout holds a secret or token:\n{stdout}"
            );
            assert!(
                !stderr.contains(value.as_str()),
                "kvenv's stderr holds a secret or token:\n{stderr}"
            );
        }
    }

    fn finish(self, mut cmd: assert_cmd::Command) -> Outcome {
        cmd.env_clear()
            .envs(launcher_env())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd.write_stdin(self.stdin.clone())
            .timeout(Duration::from_secs(60));
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        self.sweep(&stdout, &stderr);
        let child_env = self.probe.as_ref().and_then(|file| {
            let bytes = std::fs::read(file).ok()?;
            std::fs::remove_file(file).ok();
            Some(
                bytes
                    .split(|b| *b == 0)
                    .filter(|e| !e.is_empty())
                    .map(|e| {
                        let at = e.iter().position(|b| *b == b'=').unwrap();
                        (
                            String::from_utf8(e[..at].to_vec()).unwrap(),
                            e[at + 1..].to_vec(),
                        )
                    })
                    .collect(),
            )
        });
        Outcome {
            code: status.code(),
            stdout,
            stderr,
            child_env,
        }
    }
}

/// `http://127.0.0.1:PORT` where nothing listens.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn fastrand_name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether the machine has what a test needs. When it does not, the test is
/// skipped with one line saying what is missing and which package brings it
/// (listed again when the test binary exits), or, with `KVENV_TEST_STRICT=1`
/// (CI), fails.
pub fn need(available: bool, test: &str, missing: &str) -> bool {
    if available {
        return true;
    }
    let line = format!("SKIPPED {test}: {missing}\n");
    assert!(
        std::env::var_os("KVENV_TEST_STRICT").is_none_or(|v| v.is_empty() || v == "0"),
        "{} (KVENV_TEST_STRICT is set, so nothing may be skipped)",
        line.trim_end()
    );
    record_skip(line);
    false
}

/// For a test that a script of its own runs (CI runs it there): skipped here
/// with one line saying which, in strict mode too.
pub fn run_by(script_ran_it: bool, test: &str, script: &str) -> bool {
    if !script_ran_it {
        record_skip(format!("SKIPPED {test}: run by {script}\n"));
    }
    script_ran_it
}

fn record_skip(line: String) {
    use std::io::Write;
    // Straight to the file descriptor (the test harness captures eprintln!),
    // and in one write, so that tests skipping at once do not interleave.
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Ok(mut skipped) = SKIPPED.lock() {
        skipped.push(line.trim_end().to_string());
    }
    #[allow(unsafe_code)] // the only way to run code when the harness is done
    REPORT.call_once(|| {
        // SAFETY: `report_skipped` is a plain `extern "C"` function that only
        // reads a static and writes to stderr; registered once.
        unsafe {
            nix::libc::atexit(report_skipped);
        }
    });
}

/// The tests skipped in this run, for [`report_skipped`].
static SKIPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
static REPORT: std::sync::Once = std::sync::Once::new();

/// Runs when the test binary exits, after the harness's summary: every test
/// that was skipped, one line each, so that a green run on a laptop says what
/// it did not cover.
extern "C" fn report_skipped() {
    use std::io::Write;
    let lines = SKIPPED.lock().map(|l| l.clone()).unwrap_or_default();
    let mut out = std::io::stderr().lock();
    let _ = writeln!(
        out,
        "\nTests skipped on this machine (KVENV_TEST_STRICT=1 makes these failures):"
    );
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
}

/// Whether this process runs as root (some properties can only be set up so).
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Whether `program` is on PATH.
pub fn installed(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// kvenv running in the background.
/// What [`Run::go_on_terminal`] saw.
pub struct OnTerminal {
    pub code: Option<i32>,
    pub output: String,
    pub same_settings: bool,
    pub before: String,
    pub after: String,
}

pub struct Running<'k> {
    run: Run<'k>,
    child: std::process::Child,
    out: PathBuf,
    err: PathBuf,
}

impl Running<'_> {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` to kvenv.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).unwrap();
    }

    /// What kvenv printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Whether kvenv is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits (at most `limit`) for kvenv to end, then sweeps its output for leaks.
    pub fn wait(mut self, limit: Duration) -> Outcome {
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "kvenv did not end within {limit:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = std::fs::read_to_string(&self.out).unwrap_or_default();
        let stderr = self.stderr();
        self.run.sweep(&stdout, &stderr);
        Outcome {
            code: status.code(),
            stdout,
            stderr,
            child_env: None,
        }
    }
}

/// The kvenv under test, as the words that start it: this build's binary, or
/// `KVENV_TEST_BINARY` (a cross build, `scripts/cross.sh`), behind
/// `KVENV_TEST_LAUNCHER` when set (`qemu-aarch64-static`).
pub fn kvenv() -> Vec<std::ffi::OsString> {
    let mut words: Vec<std::ffi::OsString> = std::env::var("KVENV_TEST_LAUNCHER")
        .unwrap_or_default()
        .split_whitespace()
        .map(Into::into)
        .collect();
    words.push(
        std::env::var_os("KVENV_TEST_BINARY")
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| assert_cmd::cargo::cargo_bin!("kvenv").into()),
    );
    words
}

/// What the launcher itself needs from the tests' environment (Wine's
/// `WINEPREFIX`, say), named in `KVENV_TEST_LAUNCHER_ENV` (comma-separated).
pub fn launcher_env() -> Vec<(String, String)> {
    std::env::var("KVENV_TEST_LAUNCHER_ENV")
        .unwrap_or_default()
        .split(',')
        .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
        .collect()
}

/// [`kvenv`] as a command to add arguments to.
pub fn kvenv_command() -> assert_cmd::Command {
    let words = kvenv();
    let mut cmd = assert_cmd::Command::new(&words[0]);
    cmd.args(&words[1..]);
    cmd
}

/// A background kvenv the test did not wait for (it failed first) is ended
/// with it: SIGTERM (kvenv stops its command), then SIGKILL.
impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(self.pid());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `env --default-signal` (GNU coreutils 8.31 and later) is here.
fn default_signals_supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        std::process::Command::new("env")
            .args(["--default-signal=HUP", "true"])
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A pipe whose reader is already gone: writing to it raises SIGPIPE or EPIPE.
pub fn broken_pipe() -> std::process::Stdio {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    write.into()
}

/// A pipe whose reader the test closes when it likes (drop the first).
pub fn pipe() -> (std::os::fd::OwnedFd, std::process::Stdio) {
    let (read, write) = nix::unistd::pipe().unwrap();
    (read, write.into())
}

/// The ways a stderr can be broken, with the SIGPIPE dispositions kvenv may
/// be started with: (what it is, the shell prefix, the stderr).
pub fn broken_stderrs() -> Vec<(&'static str, &'static str, std::process::Stdio)> {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
            .into()
    };
    vec![
        ("a closed pipe, SIGPIPE default", "true", broken_pipe()),
        (
            "a closed pipe, SIGPIPE ignored",
            "trap '' PIPE",
            broken_pipe(),
        ),
        ("/dev/full, SIGPIPE default", "true", full()),
        ("/dev/full, SIGPIPE ignored", "trap '' PIPE", full()),
        ("fd 2 closed", "exec 2>&-", std::process::Stdio::null()),
    ]
}

/// The lines of a file a command appends to (none if it is not there yet).
pub fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits up to `limit` for `check` to hold, polling.
pub fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}
