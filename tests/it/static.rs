//! The static binary in an empty root (what a `scratch` image is): run by
//! `scripts/static-check.sh`, which builds it and sets `KVENV_STATIC_BINARY`.

use crate::support;

use support::Kit;

#[test]
fn static_binary_resolves_and_execs_from_an_empty_root() {
    let binary = std::env::var("KVENV_STATIC_BINARY").unwrap_or_default();
    if !support::run_by(
        !binary.is_empty(),
        "static::static_binary_resolves_and_execs_from_an_empty_root",
        "scripts/static-check.sh (it builds the static binary; chroot needs root)",
    ) {
        return;
    }
    let kit = Kit::new();
    kit.azure.vault.set_secret("s", "static-value-1234");
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(&binary, root.path().join("kvenv")).unwrap();
    std::fs::copy(kit.azure.ca_file(), root.path().join("ca.pem")).unwrap();
    // What every container runtime provides even in a `scratch` image: /dev's
    // null, random and urandom (the Azure crates draw request ids from the OS's
    // RNG, and a static glibc build of `getrandom` reads the device files).
    let dev = root.path().join("dev");
    std::fs::create_dir(&dev).unwrap();
    for (name, minor) in [("null", "3"), ("random", "8"), ("urandom", "9")] {
        let status = std::process::Command::new("mknod")
            .arg(dev.join(name))
            .args(["c", "1", minor])
            .status()
            .unwrap();
        assert!(status.success(), "mknod /dev/{name}");
    }
    let entries: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
    assert_eq!(
        entries.len(),
        3,
        "the root holds only kvenv, the test CA and /dev"
    );

    let run = |with_ca: bool| {
        let mut cmd = std::process::Command::new("/usr/sbin/chroot");
        cmd.arg(root.path()).arg("/kvenv").args([
            "run",
            "--allow-host",
            &kit.azure.vault.host(),
            "--timeout",
            "5",
        ]);
        if with_ca {
            cmd.args(["--ca-file", "/ca.pem"]);
        }
        cmd.args(["--", "/kvenv", "--version"])
            .env_clear()
            .envs(kit.azure.identity_env())
            .env("S", kit.azure.vault.reference("s"))
            .output()
            .unwrap()
    };
    let out = run(true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        concat!("kvenv ", env!("CARGO_PKG_VERSION"), "\n")
    );
    assert!(!stderr.contains("static-value-1234"));
    assert_eq!(kit.azure.vault.gets_of("s"), 1);

    // Without --ca-file there is no other trust anchor than the bundled roots.
    let out = run(false);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ca-file"));
}
