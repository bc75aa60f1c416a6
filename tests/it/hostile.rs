//! kvenv against peers and inputs that misbehave on purpose: a vault that asks
//! for another audience, resets after the handshake or never stops sending;
//! identity endpoints that do the same; odd ids; files that are FIFOs,
//! devices or links; `Retry-After: 0`. Every case ends in one clear line and
//! exit 125 (or the documented code), never a signal death, a hang or a leak.

use crate::support;

use kvenv_testkit::{Behaviour, Fault, HostileServer, IdentityKind};
use std::time::{Duration, Instant};
use support::Kit;

/// A `run` against a vault at `host` (allow-listed), referencing secret `s`.
fn against<'k>(kit: &'k Kit, host: &str) -> support::Run<'k> {
    kit.bare()
        .args(["run", "--allow-host", host, "--ca-file"])
        .arg(kit.azure.ca_file().display().to_string())
        .env(
            "S",
            format!("@Microsoft.KeyVault(SecretUri=https://{host}/secrets/s)"),
        )
}

fn tls(kit: &Kit) -> std::sync::Arc<rustls::ServerConfig> {
    kit.azure.ca.server_config_http1(&["localhost"])
}

/// Exited by itself (not by a signal) with `code`, printing one line about `S`.
fn one_line(out: &support::Outcome, code: i32, contains: &str) {
    assert_eq!(
        out.code,
        Some(code),
        "exit (None = killed by a signal); stderr:\n{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains(contains), "{}", out.stderr);
    assert!(out.child_env.is_none(), "the command must not have started");
}

// 1. An allow-listed host chose the token's audience through its challenge.
#[test]
fn a_challenge_for_another_audience_gets_no_token_at_all() {
    for resource in [
        "https://management.azure.com",
        "https://graph.microsoft.com",
        "https://storage.azure.com",
    ] {
        let kit = Kit::new();
        kit.azure.vault.set_secret("s", "audience-value-1");
        kit.azure.vault.fault("s", Fault::challenge(resource, 5));
        let out = kit
            .run()
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        one_line(&out, 125, "AccessToKeyVaultDenied: refused");
        assert!(out.stderr.contains(resource), "{}", out.stderr);
        // The identity was only ever asked for the vault audience.
        let identity = kit.azure.identity.requests();
        assert!(!identity.is_empty());
        assert!(
            identity
                .iter()
                .all(|r| r.param("resource") == Some("https://vault.azure.net")),
            "{identity:?}"
        );
    }
}

#[test]
fn a_service_principal_never_requests_another_audience() {
    let kit = Kit::with(IdentityKind::AppService);
    kit.azure.entra.app("app-1", "sp-secret-value-7");
    kit.azure.vault.set_secret("s", "sp-audience-value");
    kit.azure.vault.fault(
        "s",
        Fault::hostile_challenge("https://management.azure.com", 5),
    );
    let out = kit
        .run()
        .without_env("IDENTITY_ENDPOINT")
        .without_env("IDENTITY_HEADER")
        .envs([
            ("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("AZURE_CLIENT_ID", "app-1"),
            ("AZURE_CLIENT_SECRET", "sp-secret-value-7"),
        ])
        .env("AZURE_AUTHORITY_HOST", kit.azure.entra.authority())
        .secret("sp-secret-value-7")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    one_line(&out, 125, "AccessToKeyVaultDenied: refused");
    assert!(
        out.stderr.contains("management.azure.com"),
        "{}",
        out.stderr
    );
    assert!(kit.azure.vault.requests().iter().all(|r| !r.authorized));
    assert!(kit
        .azure
        .entra
        .requests()
        .iter()
        .all(|r| r.scope.as_deref() == Some("https://vault.azure.net/.default")));
}

// 2. A reset right after the TLS handshake killed kvenv with SIGPIPE.
#[test]
fn a_vault_that_resets_the_connection_is_one_line_not_a_signal() {
    let kit = Kit::new();
    for behaviour in [Behaviour::ResetAfterRequest, Behaviour::ResetAfterHandshake] {
        let server = HostileServer::start(Some(tls(&kit)), behaviour);
        // Resets are retried like any passing failure, so each run ends at --timeout.
        for _ in 0..3 {
            let out = against(&kit, &server.host())
                .args(["--timeout", "1"])
                .probe()
                .go();
            one_line(&out, 125, "S: ");
            let out = against(&kit, &server.host())
                .args(["--timeout", "1"])
                .go_check();
            assert_eq!(out.code, Some(1), "check; stderr:\n{}", out.stderr);
            assert!(
                out.stdout.contains("OtherReasons") || out.stdout.contains("FetchTimedOut"),
                "{}",
                out.stdout
            );
        }
        assert!(server.connections() >= 6);
    }
}

#[test]
fn an_identity_endpoint_that_resets_is_one_line_not_a_signal() {
    let kit = Kit::with(IdentityKind::Imds);
    kit.azure.vault.set_secret("s", "reset-identity-value");
    let server = HostileServer::start(None, Behaviour::ResetAfterHandshake);
    // Resets are retried like any passing failure, until --timeout.
    for _ in 0..3 {
        let out = kit
            .run()
            .args(["--credential", "managed-identity", "--timeout", "1"])
            .env(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                format!("http://{}", server.host()),
            )
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        one_line(&out, 125, "FetchTimedOut");
    }
    assert!(
        server.connections() >= 6,
        "retried: {}",
        server.connections()
    );
}

// 3. Bodies were buffered without limit (memory is measured in tests/bounded_memory.rs).
#[test]
fn an_endless_vault_body_is_cut_at_the_cap() {
    let kit = Kit::new();
    for behaviour in [Behaviour::EndlessBody, Behaviour::Declared(100 << 20)] {
        let server = HostileServer::start(Some(tls(&kit)), behaviour);
        let started = Instant::now();
        let out = against(&kit, &server.host())
            .args(["--timeout", "20"])
            .probe()
            .go();
        one_line(&out, 125, "larger than 1024 KiB");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}

#[test]
fn an_endless_identity_body_is_cut_at_the_cap() {
    let kit = Kit::with(IdentityKind::Imds);
    kit.azure.vault.set_secret("s", "endless-identity-value");
    for behaviour in [Behaviour::EndlessBody, Behaviour::Declared(1 << 20)] {
        let server = HostileServer::start(None, behaviour);
        let out = kit
            .run()
            .args(["--credential", "managed-identity", "--timeout", "20"])
            .env(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                format!("http://{}", server.host()),
            )
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        one_line(&out, 125, "larger than 64 KiB");
    }
}

#[test]
fn a_dripping_vault_is_bounded_by_timeout() {
    let kit = Kit::new();
    let server = HostileServer::start(Some(tls(&kit)), Behaviour::Drip(Duration::from_millis(50)));
    let started = Instant::now();
    let out = against(&kit, &server.host())
        .args(["--timeout", "2"])
        .probe()
        .go();
    one_line(&out, 125, "FetchTimedOut");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

// 4. `render -o` replaced whatever the path was.
#[test]
fn render_writes_only_to_a_regular_file_or_a_new_one() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "render-dest-value-3");
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("t.tmpl");
    std::fs::write(&template, format!("x={}\n", kit.azure.vault.reference("s"))).unwrap();
    let target = dir.path().join("target.txt");
    std::fs::write(&target, "untouched").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    for (dest, what) in [
        (link.clone(), "a symbolic link"),
        (fifo.clone(), "a FIFO"),
        (dir.path().to_path_buf(), "a directory"),
        ("/dev/stdout".into(), "a symbolic link"),
        ("/dev/null".into(), "a device"),
    ] {
        let out = kit
            .run_render()
            .arg(template.display().to_string())
            .args(["-o", &dest.display().to_string()])
            .go();
        assert_eq!(out.code, Some(125), "{dest:?}: {}", out.stderr);
        assert!(out.stderr.contains(what), "{dest:?}: {}", out.stderr);
        assert_eq!(out.stdout, "");
    }
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device_like());
    assert_eq!(
        kit.azure.vault.gets_of("s"),
        0,
        "refused before any request"
    );

    // A regular file is replaced, 0600 whatever the umask; `-o -` is stdout.
    let out = kit
        .run_render()
        .arg(template.display().to_string())
        .args(["-o", &target.display().to_string()])
        .go_after("umask 0777");
    out.assert_code(0);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "x=render-dest-value-3\n"
    );
    let out = kit
        .run_render()
        .arg(template.display().to_string())
        .args(["-o", "-"])
        .stdout_is_output()
        .go();
    out.assert_code(0);
    assert_eq!(out.stdout, "x=render-dest-value-3\n");
}

trait DeviceLike {
    fn is_char_device_like(&self) -> bool;
}

impl DeviceLike for std::fs::FileType {
    fn is_char_device_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_char_device()
    }
}

// 5. `check` printed the vault's id raw, and panicked on a huge one.
#[test]
fn check_never_prints_what_a_vault_sends_raw() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("a", "odd-id-value-1");
    kit.azure.vault.set_secret("b", "odd-id-value-2");
    kit.azure.vault.set_secret("c", "odd-id-value-3");
    kit.azure.vault.set_secret("other", "odd-id-value-4");
    let base = kit.azure.vault.url();
    kit.azure.vault.answer_with_id(
        "a",
        &format!("{base}/secrets/a/\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}\nFORGED Resolved"),
    );
    kit.azure
        .vault
        .answer_with_id("b", &format!("{base}/secrets/b/{}", "f".repeat(70_000)));
    kit.azure.vault.answer_with_id(
        "c",
        &format!("{base}/secrets/other/0123456789abcdef0123456789abcdef"),
    );
    for output in ["table", "json"] {
        let out = kit
            .check()
            .args(["--output", output])
            .env("A", kit.azure.vault.reference("a"))
            .env("B", kit.azure.vault.reference("b"))
            .env("C", kit.azure.vault.reference("c"))
            .go();
        assert_eq!(out.code, Some(1), "{output}: {}", out.stderr);
        for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
            assert!(!out.stdout.contains(bad), "{output}: {:?}", out.stdout);
        }
        assert!(!out.stdout.contains(&"f".repeat(100)), "{output}");
        if output == "table" {
            assert_eq!(out.stdout.lines().count(), 4, "{}", out.stdout);
            let row = |name: &str| {
                out.stdout
                    .lines()
                    .find(|l| l.starts_with(name))
                    .unwrap()
                    .to_string()
            };
            assert!(row("A ").contains("Resolved") && row("A ").contains("not 32 hexadecimal"));
            assert!(row("B ").contains("Resolved") && row("B ").contains("not 32 hexadecimal"));
            assert!(
                row("C ").contains("OtherReasons") && row("C ").contains("another vault or secret")
            );
        }
    }
    // run refuses the mismatched id too.
    let out = kit
        .run()
        .env("C", kit.azure.vault.reference("c"))
        .probe()
        .go();
    one_line(&out, 125, "C: OtherReasons");
}

/// Flags, variables, and what the error must say.
type FileCase = (Vec<String>, Vec<(&'static str, String)>, &'static str);

// 7. File inputs were read without bounds and outside --timeout.
#[test]
fn devices_fifos_and_huge_files_are_refused_at_once() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "file-input-value");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'#'; (1 << 20) + 1]).unwrap();
    let fifo = fifo.display().to_string();
    let big = big.display().to_string();
    let cases: Vec<FileCase> = vec![
        (
            vec!["--ca-file".into(), "/dev/zero".into()],
            vec![],
            "--ca-file /dev/zero: not a regular file (a device)",
        ),
        (
            vec!["--ca-file".into(), fifo.clone()],
            vec![],
            "not a regular file (a FIFO)",
        ),
        (
            vec![],
            vec![("SSL_CERT_FILE", "/dev/zero".into())],
            "SSL_CERT_FILE /dev/zero: not a regular file",
        ),
        (
            vec!["--env-file".into(), "/dev/zero".into()],
            vec![],
            "--env-file /dev/zero: not a regular file",
        ),
        (
            vec!["--env-file".into(), fifo.clone()],
            vec![],
            "not a regular file (a FIFO)",
        ),
        (
            vec!["--env-file".into(), big.clone()],
            vec![],
            "larger than 1024 KiB",
        ),
        (
            vec!["--template".into(), format!("{fifo}=T")],
            vec![],
            "not a regular file (a FIFO)",
        ),
    ];
    for (args, env, expect) in cases {
        let started = Instant::now();
        let mut run = kit
            .bare()
            .args(["run", "--allow-host", &kit.azure.vault.host()])
            .args(args.clone());
        for (k, v) in &env {
            run = run.env(k, v.clone());
        }
        let out = run.env("S", kit.azure.vault.reference("s")).probe().go();
        assert_eq!(out.code, Some(125), "{args:?} {env:?}: {}", out.stderr);
        assert!(out.stderr.contains(expect), "{args:?}: {}", out.stderr);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[test]
fn a_federated_token_file_that_is_a_device_or_fifo_is_refused() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "workload-file-value");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("token");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    for file in ["/dev/zero".to_string(), fifo.display().to_string()] {
        let started = Instant::now();
        let out = kit
            .run()
            .args(["--credential", "workload-identity", "--timeout", "5"])
            .envs([
                (
                    "AZURE_TENANT_ID",
                    "72f988bf-86f1-41af-91ab-2d7cd011db47".to_string(),
                ),
                ("AZURE_CLIENT_ID", "wl-client".to_string()),
                ("AZURE_FEDERATED_TOKEN_FILE", file.clone()),
                ("AZURE_AUTHORITY_HOST", kit.azure.entra.authority()),
            ])
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        one_line(
            &out,
            125,
            &format!("AZURE_FEDERATED_TOKEN_FILE {file}: not a regular file"),
        );
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}

// 8. `Retry-After: 0` (or negative, or past) turned backoff off.
#[test]
fn retry_after_zero_does_not_turn_backoff_off_for_the_vault() {
    for value in ["0", "-3", "Thu, 01 Jan 1970 00:00:00 GMT"] {
        let kit = Kit::new();
        kit.azure.vault.set_secret("s", "retry-floor-value");
        kit.azure
            .vault
            .fault("s", Fault::status(503, 3).retry_after(value));
        let started = Instant::now();
        let out = kit
            .run()
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(0);
        // Floors of the first three waits: 50 + 100 + 200 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(350),
            "{value}: {:?}",
            started.elapsed()
        );
        assert_eq!(kit.azure.vault.gets_of("s"), 4);
    }
}

#[test]
fn retry_after_zero_does_not_turn_backoff_off_for_identity_endpoints() {
    for kind in [IdentityKind::Imds, IdentityKind::AppService] {
        let kit = Kit::with(kind);
        kit.azure.vault.set_secret("s", "retry-floor-identity");
        kit.azure.identity.fail_next(429, 3, Some("0"));
        let started = Instant::now();
        let out = kit
            .run()
            .args(["--credential", "managed-identity"])
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(0);
        assert!(
            started.elapsed() >= Duration::from_millis(350),
            "{kind:?}: {:?}",
            started.elapsed()
        );
    }
}

// 9. The same VAR for two templates.
#[test]
fn a_template_var_is_given_once_and_never_hides_a_reference() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "template-var-value");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, "a").unwrap();
    std::fs::write(&b, "b").unwrap();
    let out = kit
        .run()
        .args(["--template", &format!("{}=T", a.display())])
        .args(["--template", &format!("{}=T", b.display())])
        .probe()
        .go();
    one_line(&out, 125, "--template: T is given to two templates");
    let out = kit
        .run()
        .args(["--template", &format!("{}=S", a.display())])
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    one_line(&out, 125, "S already holds a Key Vault reference");
    assert_eq!(kit.azure.vault.gets_of("s"), 0);
}

// 10. Classification by text: a secret named `tls-cert` on a closed port was "TLS".
#[test]
fn a_closed_port_is_cannot_connect_whatever_the_secret_is_called() {
    let kit = Kit::new();
    let closed = support::closed_port_url().replace("http://", "");
    for name in ["tls-cert", "dns-timeout", "certificate-connect"] {
        let out = kit
            .bare()
            .args(["run", "--allow-host", &closed])
            .env(
                "S",
                format!("@Microsoft.KeyVault(SecretUri=https://{closed}/secrets/{name})"),
            )
            .probe()
            .go();
        one_line(
            &out,
            125,
            &format!("S: OtherReasons: cannot connect to {closed}: connection refused"),
        );
    }
}

#[test]
fn real_failures_keep_their_class_whatever_the_secret_is_called() {
    let kit = Kit::new();
    // A certificate from a CA kvenv does not trust.
    let stranger = kvenv_testkit::TestCa::new();
    let untrusted = HostileServer::start(
        Some(stranger.server_config(&["localhost"])),
        Behaviour::ResetAfterRequest,
    );
    let stalled = HostileServer::start(Some(tls(&kit)), Behaviour::Drip(Duration::from_secs(1)));
    for name in ["connect-refused", "dns-timeout", "timeout-tls"] {
        let reference =
            |host: &str| format!("@Microsoft.KeyVault(SecretUri=https://{host}/secrets/{name})");
        let out = against(&kit, &untrusted.host())
            .env("S", reference(&untrusted.host()))
            .probe()
            .go();
        one_line(
            &out,
            125,
            &format!("S: OtherReasons: TLS with {} failed", untrusted.host()),
        );
        let out = against(&kit, &stalled.host())
            .args(["--timeout", "1"])
            .env("S", reference(&stalled.host()))
            .probe()
            .go();
        one_line(&out, 125, "S: FetchTimedOut: no answer for secret");
    }
}

// 11. Command lookup as env(1) does it, compared with env itself.
fn env_code(args: &[&str], path: &str, cwd: &std::path::Path) -> Option<i32> {
    std::process::Command::new("/usr/bin/env")
        .args(args)
        .env_clear()
        .env("PATH", path)
        .current_dir(cwd)
        .output()
        .unwrap()
        .status
        .code()
}

#[test]
fn command_lookup_and_exit_codes_match_env() {
    let kit = Kit::new();
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("local-tool");
    std::fs::write(&tool, "#!/bin/sh\nexit 7\n").unwrap();
    let orphan = dir.path().join("orphan");
    std::fs::write(&orphan, "#!/nonexistent/interpreter -x\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    for f in [&tool, &orphan] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cases: [(&str, &[&str]); 5] = [
        (":/usr/bin:/bin", &["local-tool"]),
        ("/usr/bin:/bin", &["local-tool"]),
        ("/usr/bin:/bin", &["/bin/sh/"]),
        ("/usr/bin:/bin", &["./orphan"]),
        ("/usr/bin:/bin", &[dir.path().to_str().unwrap()]),
    ];
    for (path, command) in cases {
        let out = kit
            .bare()
            .env("PATH", path)
            .arg("run")
            .command(command.iter().copied())
            .cwd(dir.path())
            .go();
        assert_eq!(
            out.code,
            env_code(command, path, dir.path()),
            "PATH={path} {command:?}: {}",
            out.stderr
        );
    }
    let out = kit
        .bare()
        .arg("run")
        .command(["./orphan"])
        .cwd(dir.path())
        .go();
    assert_eq!(
        out.stderr,
        "kvenv: ./orphan: cannot run it: its interpreter /nonexistent/interpreter was not found\n"
    );
}

// 12. Smaller ones.
#[test]
fn check_reports_a_secret_with_a_nul_byte_as_run_would() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("nul", "before\u{0}after");
    let out = kit.check().env("N", kit.azure.vault.reference("nul")).go();
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("OtherReasons") && out.stdout.contains("NUL byte"),
        "{}",
        out.stdout
    );
    let out = kit
        .run()
        .env("N", kit.azure.vault.reference("nul"))
        .probe()
        .go();
    one_line(&out, 125, "N: OtherReasons: the secret contains a NUL byte");
}

#[test]
fn an_env_file_may_start_with_a_byte_order_mark() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "bom-value-5");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.env");
    std::fs::write(
        &file,
        format!("\u{feff}FROM_FILE={}\n", kit.azure.vault.reference("s")),
    )
    .unwrap();
    let out = kit
        .run()
        .args(["--env-file", &file.display().to_string()])
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("FROM_FILE").unwrap(), "bom-value-5");
}

#[test]
fn an_environment_too_large_for_exec_fails_before_rendering() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("big", &"v".repeat(25_000));
    let reference = kit.azure.vault.reference("big");
    // ~2 MB of references, each to a 25 KB secret: 700 MB if rendered.
    let per_var = 40;
    let value = vec![reference.as_str(); per_var].join(";");
    let mut run = kit.run();
    for i in 0..(2_000_000 / value.len()) {
        run = run.env(&format!("V{i}"), value.clone());
    }
    let out = run.probe().go();
    one_line(&out, 125, "Linux allows at most 128 KiB for one variable");
    let one_each: String = (0..120)
        .map(|_| reference.as_str())
        .collect::<Vec<_>>()
        .join("");
    let mut run = kit.run();
    for i in 0..1 {
        run = run.env(&format!("W{i}"), one_each.clone());
    }
    let out = run.probe().go();
    one_line(&out, 125, "W0: with its secrets in place");
}

#[test]
fn a_missing_identity_endpoint_is_named_in_kvenvs_own_words() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "mi-words-value");
    let out = kit
        .run()
        .args(["--credential", "managed-identity", "--timeout", "10"])
        .env(
            "IDENTITY_ENDPOINT",
            format!("{}/msi/token", support::closed_port_url()),
        )
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    one_line(&out, 125, "MSINotEnabled");
    assert!(out.stderr.contains("connection refused"), "{}", out.stderr);
    for noise in ["non-transport error", "will not be retried", "os error"] {
        assert!(!out.stderr.contains(noise), "{}", out.stderr);
    }
}

// Regression: an HTTP/2 vault that sent GOAWAY right after SETTINGS made kvenv
// open a new connection for every retry of every request, thousands at once,
// until "Too many open files"; the report then said only FetchTimedOut.
#[test]
fn a_vault_that_sends_goaway_at_once_gets_few_connections_and_is_named() {
    let kit = Kit::new();
    for suffix in [true, false] {
        let server = HostileServer::start(
            Some(kit.azure.ca.server_config(&["goaway.vault.azure.net"])),
            Behaviour::GoAwayAfterSettings,
        );
        let (host, mut run) = match suffix {
            true => (
                "goaway.vault.azure.net".to_string(),
                kit.bare().args([
                    "run".to_string(),
                    "--resolve".into(),
                    format!("goaway.vault.azure.net=127.0.0.1:{}", server.port()),
                    "--ca-file".into(),
                    kit.azure.ca_file().display().to_string(),
                ]),
            ),
            false => (
                server.host(),
                against(&kit, &server.host()).without_env("S"),
            ),
        };
        run = run.args(["--timeout", "4"]);
        for i in 0..100 {
            run = run.env(
                &format!("S{i}"),
                format!("@Microsoft.KeyVault(SecretUri=https://{host}/secrets/s{i})"),
            );
        }
        let started = Instant::now();
        let out = run.probe().go_after("ulimit -n 1024");
        assert_eq!(out.code, Some(125), "{}", out.stderr);
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            out.stderr.lines().count(),
            100,
            "one line per reference:\n{}",
            out.stderr
        );
        assert!(
            server.peak_open() <= 48,
            "suffix {suffix}: {} connections open at once ({} in all)",
            server.peak_open(),
            server.connections()
        );
        assert!(
            !out.stderr.contains("Too many open files"),
            "{}",
            out.stderr
        );
        let first = out.stderr.lines().next().unwrap();
        assert!(
            first.contains("FetchTimedOut") && first.contains("(last failure: "),
            "{first}"
        );
    }
}

// Continuous access evaluation: a claims challenge means a new token and one
// more try; a second one fails with one line, never a loop. kvenv's own IMDS
// credential keeps no cache of its own, so the renewal reaches the endpoint.
#[test]
fn a_claims_challenge_gets_one_new_token_and_one_retry_never_a_loop() {
    let kit = Kit::with(IdentityKind::Imds);
    kit.azure.vault.set_secret("s", "cae-value-7731");
    kit.azure.vault.fault("s", Fault::claims_challenge(1));
    let out = kit
        .run()
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(out.child("S").unwrap(), "cae-value-7731");
    assert_eq!(
        kit.azure.identity.tokens_issued(),
        2,
        "the revoked token was replaced once"
    );

    for kind in [IdentityKind::Imds, IdentityKind::AppService] {
        let kit = Kit::with(kind);
        kit.azure.vault.set_secret("s", "cae-value-7732");
        kit.azure.vault.fault("s", Fault::claims_challenge(1000));
        let out = kit
            .run()
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        one_line(&out, 125, "AccessToKeyVaultDenied");
        assert!(out.stderr.contains("insufficient_claims"), "{}", out.stderr);
        assert!(
            kit.azure.identity.tokens_issued() <= 2,
            "one renewal, not a loop"
        );
        let gets = kit.azure.vault.gets_of("s");
        assert!(
            gets <= 3,
            "{gets} requests: one challenge, one try, one retry"
        );
    }
}

// Regression: after a claims challenge kvenv "renewed" from a cache (its own
// or a credential crate's), so the retry carried the revoked token and the
// identity was asked once in all. The renewal builds the credential anew.
#[test]
fn a_claims_challenge_renews_from_the_identity_itself_for_every_credential() {
    for kind in [
        IdentityKind::Imds,
        IdentityKind::AppService,
        IdentityKind::CloudShell,
    ] {
        let kit = Kit::with(kind);
        kit.azure.vault.set_secret("s", "cae-fresh-4410");
        kit.azure.vault.fault("s", Fault::claims_challenge(1));
        let out = kit
            .run()
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(0);
        assert_eq!(out.child("S").unwrap(), "cae-fresh-4410", "{kind:?}");
        assert_eq!(
            kit.azure.identity.tokens_issued(),
            2,
            "{kind:?}: asked again"
        );
    }
    // A service principal and workload identity: Entra sees a second request.
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "cae-fresh-4411");
    kit.azure.vault.fault("s", Fault::claims_challenge(1));
    kit.azure
        .entra
        .app("app-client-id-1", "client-secret-CAE-1");
    let out = kit
        .run()
        .secret("client-secret-CAE-1")
        .envs([
            (
                "AZURE_TENANT_ID",
                "72f988bf-86f1-41af-91ab-2d7cd011db47".to_string(),
            ),
            ("AZURE_CLIENT_ID", "app-client-id-1".into()),
            ("AZURE_CLIENT_SECRET", "client-secret-CAE-1".into()),
            ("AZURE_AUTHORITY_HOST", kit.azure.entra.authority()),
        ])
        .args(["--credential", "environment"])
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(
        kit.azure.entra.requests().len(),
        2,
        "service principal: asked again"
    );
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "cae-fresh-4412");
    kit.azure.vault.fault("s", Fault::claims_challenge(1));
    let out = kit
        .run()
        .workload_identity("federated-token-cae")
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(0);
    assert_eq!(
        kit.azure.entra.requests().len(),
        2,
        "workload identity: asked again"
    );
    // az keeps its own token cache and hands back the revoked token: the line
    // says so rather than claiming a renewed token was refused.
    let kit = Kit::with(IdentityKind::Imds);
    kit.cli.az_signed_in();
    kit.azure.vault.set_secret("s", "cae-fresh-4413");
    kit.azure.vault.fault("s", Fault::claims_challenge(1000));
    let out = kit
        .run()
        .args(["--credential", "azure-cli"])
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    one_line(&out, 125, "AccessToKeyVaultDenied");
    assert!(
        out.stderr.contains("handed back the same token"),
        "{}",
        out.stderr
    );
    assert_eq!(kit.cli.calls("az").len(), 2, "az was asked again");
}
