//! Trust: the token never goes anywhere it should not, nothing is written to
//! disk, faults end in success or a clear failure within `--timeout`, and the
//! process is hardened while secrets are in memory. Outcomes and timings are
//! printed (run with `--nocapture` to see them).

use crate::support;

use kvenv_testkit::{Fault, IdentityKind};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::Kit;

fn strace_available() -> bool {
    std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn with_strace(test: &str) -> bool {
    support::need(
        strace_available(),
        test,
        "strace is not installed (apt-get install strace)",
    )
}

/// Runs kvenv under strace with the given syscalls traced; returns the log.
fn traced(
    kit: &Kit,
    trace: &str,
    env: &[(&str, String)],
    args: &[&str],
) -> (Option<i32>, String, String) {
    let log = kit
        .azure
        .dir()
        .join(format!("strace-{}", fastrand_suffix()));
    let mut cmd = std::process::Command::new("strace");
    cmd.args(["-f", "-qq", "-e", &format!("trace={trace}"), "-o"])
        .arg(&log)
        .arg(assert_cmd::cargo::cargo_bin("kvenv"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(kit.azure.identity_env())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let out = cmd.output().unwrap();
    let trace = std::fs::read_to_string(&log).unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        trace,
    )
}

fn fastrand_suffix() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The part of an strace log before the command was exec'd (kvenv's own syscalls).
fn before_exec(trace: &str) -> Vec<&str> {
    let mut execs = 0;
    trace
        .lines()
        .take_while(|l| {
            if l.contains("execve(") && l.ends_with("= 0") {
                execs += 1;
            }
            execs < 2
        })
        .collect()
}

#[test]
fn look_alike_hosts_are_refused_before_any_connection() {
    if !with_strace("trust::look_alike_hosts_are_refused_before_any_connection") {
        return;
    }
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "exfil-secret-1111");
    let cases = [
        (
            "https://myvault.vault.azure.net.evil.example/secrets/s",
            "HostNotAllowed",
        ),
        (
            "https://MYVAULT.VAULT.AZURE.NET.EVIL.EXAMPLE/secrets/s",
            "HostNotAllowed",
        ),
        (
            "https://evil.example/x.vault.azure.net/secrets/s",
            "InvalidSyntax",
        ),
        (
            "https://myvault.vault.azure.net@evil.example/secrets/s",
            "InvalidSyntax",
        ),
        (
            "https://evil.example\\@myvault.vault.azure.net/secrets/s",
            "InvalidSyntax",
        ),
        (
            "https://myvault.vault.azure.net./secrets/s",
            "HostNotAllowed",
        ),
        (
            "https://myvault.vault.azure.net%2eevil.example/secrets/s",
            "HostNotAllowed",
        ),
        (
            "https://myvault.v\u{0430}ult.azure.net/secrets/s",
            "HostNotAllowed",
        ),
        ("https://10.0.0.1/secrets/s", "HostNotAllowed"),
        ("https://[::1]/secrets/s", "HostNotAllowed"),
        ("https://169.254.169.254/secrets/s", "HostNotAllowed"),
        ("https://vault.azure.net/secrets/s", "HostNotAllowed"),
    ];
    for (uri, status) in cases {
        // A good reference next to the bad one: nothing at all is fetched.
        let (code, stderr, trace) = traced(
            &kit,
            "connect",
            &[
                ("BAD", format!("@Microsoft.KeyVault(SecretUri={uri})")),
                ("GOOD", kit.azure.vault.reference("s")),
            ],
            &[
                "run",
                "--allow-host",
                &kit.azure.vault.host(),
                "--ca-file",
                &kit.azure.ca_file().display().to_string(),
                "--",
                "true",
            ],
        );
        assert_eq!(code, Some(125), "{uri}: {stderr}");
        assert!(
            stderr.starts_with(&format!("kvenv: BAD: {status}: ")),
            "{uri}: {stderr}"
        );
        let inet: Vec<&str> = trace.lines().filter(|l| l.contains("AF_INET")).collect();
        assert!(
            inet.is_empty(),
            "{uri}: kvenv connected somewhere: {inet:?}"
        );
    }
    assert!(kit.azure.vault.requests().is_empty());
    assert!(kit.azure.identity.requests().is_empty());
}

#[test]
fn redirects_are_never_followed() {
    let kit = Kit::new();
    let elsewhere = kit.azure.another_vault();
    elsewhere.set_secret("s", "redirect-secret-2222");
    kit.azure.vault.set_secret("s", "redirect-secret-3333");
    kit.azure
        .vault
        .fault("s", Fault::redirect(&elsewhere.secret_uri("s"), 10));
    let out = kit
        .run()
        .args(["--allow-host", &elsewhere.host()])
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(out.stderr.contains("HTTP 302"), "{}", out.stderr);
    // Regression: a redirect is asked once, so it is not "after retries".
    assert!(!out.stderr.contains("after retries"), "{}", out.stderr);
    assert_eq!(kit.azure.vault.gets_of("s"), 1, "asked once");
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect target saw a request"
    );
}

/// A TCP listener that counts connections and never answers.
fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (format!("http://{addr}"), count)
}

#[test]
fn proxies_never_see_the_identity_endpoint() {
    for kind in [IdentityKind::AppService, IdentityKind::Imds] {
        let kit = Kit::with(kind);
        kit.azure.vault.set_secret("s", "proxy-secret-4444");
        let (proxy, connections) = counting_listener();
        let out = kit
            .run()
            .args(["--credential", "managed-identity"])
            .env("HTTP_PROXY", &proxy)
            .env("http_proxy", &proxy)
            .env("S", kit.azure.vault.reference("s"))
            .probe()
            .go();
        out.assert_code(0);
        assert_eq!(
            connections.load(Ordering::SeqCst),
            0,
            "{kind:?}: the proxy saw a connection"
        );
        assert_eq!(kit.azure.identity.tokens_issued(), 1);
    }
}

/// Runs a fault scenario, checks the outcome and that it ended within
/// `timeout` plus a margin, and prints what happened for the record.
fn scenario(name: &str, kit: &Kit, timeout: f64, expect: i32, expect_in_stderr: &str) {
    let started = Instant::now();
    let out = kit
        .run()
        .args(["--timeout", &timeout.to_string()])
        .env("S", kit.azure.vault.reference("s"))
        .probe()
        .go();
    let elapsed = started.elapsed();
    eprintln!(
        "fault scenario | {name} | exit {:?} | {:.2} s | {}",
        out.code,
        elapsed.as_secs_f64(),
        out.stderr.lines().next().unwrap_or("(no message)")
    );
    out.assert_code(expect);
    assert!(
        out.stderr.contains(expect_in_stderr),
        "{name}: {}",
        out.stderr
    );
    assert!(
        elapsed < Duration::from_secs_f64(timeout + 2.0),
        "{name}: took {elapsed:?}"
    );
    if expect == 0 {
        assert_eq!(out.child("S").unwrap(), "fault-secret-5555", "{name}");
    } else {
        assert!(
            out.child_env.is_none(),
            "{name}: the command started with a partial environment"
        );
    }
}

fn fault_kit(kind: IdentityKind) -> Kit {
    let kit = Kit::with(kind);
    kit.azure.vault.set_secret("s", "fault-secret-5555");
    kit
}

#[test]
fn identity_endpoint_faults() {
    let kit = fault_kit(IdentityKind::AppService);
    kit.azure.identity.delay(Duration::from_secs(60));
    scenario(
        "App Service identity hangs",
        &kit,
        2.0,
        125,
        "FetchTimedOut",
    );

    for kind in [IdentityKind::AppService, IdentityKind::Imds] {
        let kit = fault_kit(kind);
        kit.azure.identity.hang_up_next();
        scenario(
            &format!("{kind:?} identity closes the connection once"),
            &kit,
            10.0,
            0,
            "",
        );

        let kit = fault_kit(kind);
        kit.azure.identity.garbage_next();
        kit.azure.identity.garbage_next();
        scenario(
            &format!("{kind:?} identity answers garbage"),
            &kit,
            10.0,
            125,
            "MSINotEnabled",
        );

        let kit = fault_kit(kind);
        kit.azure.identity.expired_next();
        scenario(
            &format!("{kind:?} identity returns an expired token"),
            &kit,
            10.0,
            0,
            "",
        );

        let kit = fault_kit(kind);
        kit.azure.identity.fail_next(500, 100, None);
        scenario(
            &format!("{kind:?} identity answers 500 forever"),
            &kit,
            20.0,
            125,
            "MSINotEnabled",
        );
    }
}

#[test]
fn vault_faults() {
    let kit = fault_kit(IdentityKind::AppService);
    kit.azure
        .vault
        .fault("s", Fault::hang_up(Duration::from_millis(300), 1));
    scenario(
        "vault stalls, then closes the connection once",
        &kit,
        10.0,
        0,
        "",
    );

    let kit = fault_kit(IdentityKind::AppService);
    kit.azure.vault.fault("s", Fault::status(500, 1000));
    scenario("vault answers 500 forever", &kit, 20.0, 125, "HTTP 500");

    let kit = fault_kit(IdentityKind::AppService);
    kit.azure
        .vault
        .fault("s", Fault::status(429, 1).retry_after("3600"));
    scenario(
        "vault answers 429 with Retry-After: 3600",
        &kit,
        2.0,
        125,
        "FetchTimedOut",
    );

    let kit = fault_kit(IdentityKind::AppService);
    kit.azure.vault.delay("s", Duration::from_secs(30));
    scenario("vault hangs", &kit, 2.0, 125, "FetchTimedOut");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let kit = fault_kit(IdentityKind::AppService);
    let port = kit.azure.vault.port();
    let started = Instant::now();
    let out = kit
        .bare()
        .args([
            "run",
            "--allow-host",
            "kv.other.example",
            "--ca-file",
            &kit.azure.ca_file().display().to_string(),
        ])
        .args(["--resolve", &format!("kv.other.example=127.0.0.1:{port}")])
        .env(
            "S",
            "@Microsoft.KeyVault(SecretUri=https://kv.other.example/secrets/s)",
        )
        .probe()
        .go();
    eprintln!(
        "fault scenario | certificate for another name | exit {:?} | {:.2} s | {}",
        out.code,
        started.elapsed().as_secs_f64(),
        out.stderr.lines().next().unwrap_or_default()
    );
    out.assert_code(125);
    assert!(
        out.stderr.contains("TLS with kv.other.example failed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("certificate not valid for name"),
        "{}",
        out.stderr
    );
    assert!(
        kit.azure.vault.requests().is_empty(),
        "no HTTP request went over the bad connection"
    );
}

#[test]
fn nothing_is_written_to_disk() {
    if !with_strace("trust::nothing_is_written_to_disk") {
        return;
    }
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "disk-secret-6666");
    let template = kit.azure.dir().join("t.tmpl");
    std::fs::write(&template, format!("x={}\n", kit.azure.vault.reference("s"))).unwrap();
    let calls = "execve,open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,unlink,unlinkat,truncate,ftruncate,memfd_create";
    for with_template in [false, true] {
        let mut args = vec![
            "run".to_string(),
            "--allow-host".into(),
            kit.azure.vault.host(),
            "--ca-file".into(),
            kit.azure.ca_file().display().to_string(),
        ];
        if with_template {
            args.extend(["--template".into(), format!("{}=CONF", template.display())]);
        }
        args.extend(["--".into(), "/bin/true".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stderr, trace) =
            traced(&kit, calls, &[("S", kit.azure.vault.reference("s"))], &args);
        assert_eq!(code, Some(0), "{stderr}");
        let ours = before_exec(&trace);
        assert!(
            ours.iter().any(|l| l.contains("execve(")),
            "the trace starts at kvenv's exec"
        );
        for line in &ours {
            let writes = ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
                .iter()
                .any(|f| line.contains(f));
            let changes = [
                "creat(",
                "mkdir",
                "rename",
                "link(",
                "linkat(",
                "symlink",
                "unlink",
                "truncate(",
            ]
            .iter()
            .any(|c| line.contains(c));
            assert!(!writes && !changes, "kvenv touched the filesystem: {line}");
        }
        let memfds = ours.iter().filter(|l| l.contains("memfd_create(")).count();
        assert_eq!(memfds, usize::from(with_template), "{ours:#?}");
    }
}

/// The descriptor numbers `ls -l /proc/self/fd` shows, without ls's own
/// directory handle.
fn inherited_fds(listing: &str) -> Vec<u32> {
    let mut fds: Vec<u32> = listing
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        .filter(|(_, target)| !(target.starts_with("/proc/") && target.ends_with("/fd")))
        .filter_map(|(left, _)| left.split_whitespace().last()?.parse().ok())
        .collect();
    fds.sort();
    fds
}

#[test]
fn only_the_template_fd_is_added_to_what_the_command_inherits() {
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "fd-secret-7777");
    let template = kit.azure.dir().join("t.tmpl");
    std::fs::write(&template, "static\n").unwrap();
    let plain = std::process::Command::new("ls")
        .args(["-l", "/proc/self/fd"])
        .output()
        .unwrap();
    let out = kit
        .run()
        .env("S", kit.azure.vault.reference("s"))
        .args(["--template", &format!("{}=CONF", template.display())])
        .command(["sh", "-c", "echo \"$CONF\"; exec ls -l /proc/self/fd"])
        .go();
    out.assert_code(0);
    let (conf, listing) = out.stdout.split_once('\n').unwrap();
    let memfd: u32 = conf
        .strip_prefix("/dev/fd/")
        .expect("CONF=/dev/fd/N")
        .parse()
        .unwrap();
    assert!(listing.contains("memfd:kvenv-template"), "{listing}");
    let mut expected = inherited_fds(&String::from_utf8_lossy(&plain.stdout));
    expected.push(memfd);
    expected.sort();
    assert_eq!(
        inherited_fds(listing),
        expected,
        "kvenv leaked a descriptor to the command:\n{listing}"
    );
}

fn owner_uid(path: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.uid())
}

fn core_limit(pid: u32) -> Option<String> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .map(|l| l.split_whitespace().nth(4).unwrap_or_default().to_string())
}

#[test]
fn while_resolving_no_core_dumps_and_afterwards_everything_restored() {
    // A non-dumpable process's /proc files belong to root. Run as an ordinary
    // user, that is visible as is; run as root, kvenv runs as `nobody` so
    // that root's ownership means something.
    let runuser: &[&str] = if support::is_root() {
        &["/usr/sbin/runuser", "-u", "nobody", "--"]
    } else {
        &[]
    };
    if !support::need(
        runuser.is_empty() || std::path::Path::new(runuser[0]).exists(),
        "trust::while_resolving_no_core_dumps_and_afterwards_everything_restored",
        "running as root, it needs runuser (util-linux) and a 'nobody' user",
    ) {
        return;
    }
    let user = if runuser.is_empty() { "" } else { "nobody" };
    let id = std::process::Command::new("id")
        .args(["-u"])
        .args((!user.is_empty()).then_some(user))
        .output()
        .unwrap();
    assert!(id.status.success(), "id -u {user}");
    let expected_uid: u32 = String::from_utf8_lossy(&id.stdout).trim().parse().unwrap();

    let kit = Kit::new();
    kit.azure.vault.set_secret("slow", "hygiene-secret-8888");
    kit.azure.vault.delay("slow", Duration::from_millis(1500));
    // The CA and the binary must be readable by that user.
    let shared = tempfile::Builder::new().tempdir().unwrap();
    std::fs::set_permissions(
        shared.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let ca = shared.path().join("ca.pem");
    std::fs::copy(kit.azure.ca_file(), &ca).unwrap();
    std::fs::set_permissions(&ca, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let bin = shared.path().join("kvenv");
    std::fs::copy(assert_cmd::cargo::cargo_bin("kvenv"), &bin).unwrap();

    let (program, launcher_args) = match runuser.split_first() {
        Some((program, args)) => (*program, args),
        None => ("sh", &[][..]),
    };
    let mut command = std::process::Command::new(program);
    command.args(launcher_args);
    if !runuser.is_empty() {
        command.arg("sh");
    }
    let mut child = command
        .arg("-c")
        .arg("ulimit -S -c 4096; exec \"$0\" run --allow-host \"$1\" --ca-file \"$2\" -- sleep 3")
        .arg(&bin)
        .arg(kit.azure.vault.host())
        .arg(&ca)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(kit.azure.identity_env())
        .env("SLOW", kit.azure.vault.reference("slow"))
        .spawn()
        .unwrap();
    // runuser forks (kvenv is its child); sh execs (kvenv is the child itself).
    let launched = child.id();
    let deadline = Instant::now() + Duration::from_secs(5);
    let pid = loop {
        let children =
            std::fs::read_to_string(format!("/proc/{launched}/task/{launched}/children"))
                .unwrap_or_default();
        let candidates = std::iter::once(launched).chain(
            children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
        // By name: a non-dumpable process's exe link is unreadable to an ordinary user.
        let found = candidates.into_iter().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "kvenv")
        });
        if let Some(pid) = found {
            break pid;
        }
        assert!(Instant::now() < deadline, "kvenv did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    // While the vault is slow: not dumpable (so /proc files belong to root) and no core.
    let during_deadline = Instant::now() + Duration::from_secs(1);
    let mut saw_hardened = false;
    while Instant::now() < during_deadline {
        if owner_uid(Path::new(&format!("/proc/{pid}/environ"))) == Some(0)
            && core_limit(pid).as_deref() == Some("0")
        {
            saw_hardened = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        saw_hardened,
        "while resolving, kvenv must be non-dumpable with RLIMIT_CORE 0"
    );
    // After exec (the vault answers after 1.5 s), `sleep` has the original state.
    let after_deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if exe.ends_with("sleep") {
            break;
        }
        assert!(Instant::now() < after_deadline, "the command did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // dash's `ulimit -c` counts 512-byte blocks: 4096 blocks are 2 MiB.
    assert_eq!(
        core_limit(pid).as_deref(),
        Some("2097152"),
        "the original soft core limit is back"
    );
    assert_eq!(
        owner_uid(Path::new(&format!("/proc/{pid}/environ"))),
        Some(expected_uid),
        "dumpable again"
    );
    assert!(child.wait().unwrap().success());
}
