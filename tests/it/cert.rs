//! `--cert VAR=PART` and `--file VAR[=ENCODING]` end to end: certificates
//! generated here (RSA and EC, a leaf with an intermediate and a root) are
//! stored in the fake vault as PKCS#12 in scrambled order and as PEM, with
//! each `contentType` and with none; what kvenv writes is read back by
//! OpenSSL and served by nginx.

use crate::support;

use base64::Engine;
use kvenv_testkit::{KeyKind, SecretMeta, TestChain, Which};
use std::path::Path;
use std::process::Command;
use support::{need, Kit};

const SCRAMBLED: [Which; 3] = [Which::Root, Which::Leaf, Which::Intermediate];
const PARTS: [(&str, &str); 5] = [
    ("K", "key"),
    ("C", "cert"),
    ("F", "fullchain"),
    ("B", "bundle"),
    ("P", "pfx"),
];

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn meta(content_type: Option<&str>) -> SecretMeta {
    SecretMeta {
        content_type: content_type.map(str::to_string),
        ..SecretMeta::default()
    }
}

/// The DER of each block labelled `label` in `pem`, in order (a plain
/// split, independent of kvenv's reader).
fn blocks(pem: &str, label: &str) -> Vec<Vec<u8>> {
    pem.split(&format!("-----BEGIN {label}-----"))
        .skip(1)
        .map(|block| {
            let body: String = block
                .split(&format!("-----END {label}-----"))
                .next()
                .unwrap()
                .split_whitespace()
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap()
        })
        .collect()
}

/// The DER of each certificate in `pem`, in order.
fn certificates(pem: &str) -> Vec<Vec<u8>> {
    blocks(pem, "CERTIFICATE")
}

/// Runs `openssl ARGS`, which must succeed.
fn openssl(args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs kvenv with every part of secret `name` asked for, the command
/// copying each file into `dir`; the exit code and stderr.
fn write_parts(kit: &Kit, name: &str, dir: &Path) -> (Option<i32>, String) {
    let mut run = kit.run();
    let mut script = String::new();
    for (var, part) in PARTS {
        run = run
            .args(["--cert", &format!("{var}={part}")])
            .env(var, kit.azure.vault.reference(name));
        script.push_str(&format!("cat \"${var}\" > \"$OUT/{part}\" && "));
    }
    script.push_str("true");
    let out = run
        .env("OUT", dir.display().to_string())
        .command(["sh", "-c", &script])
        .go();
    (out.code, out.stderr)
}

#[test]
fn every_part_comes_out_of_pkcs12_and_pem_with_or_without_a_content_type() {
    for kind in [KeyKind::Rsa, KeyKind::P256, KeyKind::P384] {
        let chain = TestChain::new(kind, 90);
        let legacy = chain.pfx(&SCRAMBLED, true, "", true);
        let forms: [(&str, String, Option<&str>); 5] = [
            ("pfx-legacy", b64(&legacy), Some("application/x-pkcs12")),
            (
                "pfx-aes-untyped",
                b64(&chain.pfx(&SCRAMBLED, true, "", false)),
                None,
            ),
            (
                "pem",
                chain.pem(&SCRAMBLED, true),
                Some("application/x-pem-file"),
            ),
            ("pem-untyped", chain.pem(&SCRAMBLED, true), None),
            // Key Vault's PEM has the key first; a PEM with it last reads the same.
            (
                "pem-key-last",
                format!("{}{}", chain.pem(&SCRAMBLED, false), chain.key_pem),
                Some("application/x-pem-file; charset=utf-8"),
            ),
        ];
        for (form, value, content_type) in forms {
            let kit = Kit::new();
            kit.azure
                .vault
                .set_secret_with("tls", &value, meta(content_type));
            let dir = tempfile::tempdir().unwrap();
            let (code, stderr) = write_parts(&kit, "tls", dir.path());
            assert_eq!(code, Some(0), "{kind:?} {form}: {stderr}");
            assert_eq!(kit.azure.vault.gets_of("tls"), 1, "five parts, one fetch");
            let read = |part: &str| std::fs::read_to_string(dir.path().join(part)).unwrap();
            let ordered = vec![
                chain.leaf_der.clone(),
                chain.intermediate_der.clone(),
                chain.root_der.clone(),
            ];
            assert_eq!(certificates(&read("cert")), ordered[..1], "{kind:?} {form}");
            assert_eq!(
                certificates(&read("fullchain")),
                ordered,
                "{kind:?} {form}: leaf first"
            );
            let key = read("key");
            assert!(
                key.starts_with("-----BEGIN PRIVATE KEY-----\n") && certificates(&key).is_empty()
            );
            assert_eq!(
                read("bundle"),
                format!("{key}{}", read("fullchain")),
                "{kind:?} {form}"
            );
            let pfx = std::fs::read(dir.path().join("pfx")).unwrap();
            if form == "pfx-legacy" {
                assert_eq!(pfx, legacy, "the PKCS#12 as stored");
            }
            if !need(
                support::installed("openssl"),
                "every_part_comes_out_of_pkcs12_and_pem",
                "openssl (package openssl)",
            ) {
                continue;
            }
            the_key_signs_for_the_leaf(dir.path());
            the_chain_verifies_to_the_root(dir.path(), &chain);
            // OpenSSL reads the pfx part, password-less: the same certificates and key.
            let pfx = dir.path().join("pfx").display().to_string();
            let certs = openssl(&["pkcs12", "-in", &pfx, "-passin", "pass:", "-nokeys"]);
            let mut found = certificates(&String::from_utf8_lossy(&certs.stdout));
            let mut expected = ordered.clone();
            found.sort();
            expected.sort();
            assert_eq!(found, expected, "{kind:?} {form}");
            let key_out = openssl(&[
                "pkcs12", "-in", &pfx, "-passin", "pass:", "-nocerts", "-nodes",
            ]);
            let key_text = String::from_utf8_lossy(&key_out.stdout);
            assert_eq!(
                blocks(&key_text, "PRIVATE KEY"),
                blocks(&key, "PRIVATE KEY"),
                "{kind:?} {form}: the pfx holds the key"
            );
        }
    }
}

/// Signs with `key` and verifies with `cert`, both as OpenSSL reads them.
fn the_key_signs_for_the_leaf(dir: &Path) {
    let file = |n: &str| dir.join(n).display().to_string();
    std::fs::write(dir.join("message"), b"kvenv signs this").unwrap();
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        &file("key"),
        "-out",
        &file("sig"),
        &file("message"),
    ]);
    openssl(&[
        "x509",
        "-in",
        &file("cert"),
        "-pubkey",
        "-noout",
        "-out",
        &file("pub"),
    ]);
    openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &file("pub"),
        "-signature",
        &file("sig"),
        &file("message"),
    ]);
}

/// `openssl verify` with only the root trusted and the rest of fullchain as
/// the untrusted intermediates.
fn the_chain_verifies_to_the_root(dir: &Path, chain: &TestChain) {
    std::fs::write(dir.join("root.pem"), &chain.root_pem).unwrap();
    let file = |n: &str| dir.join(n).display().to_string();
    openssl(&[
        "verify",
        "-CAfile",
        &file("root.pem"),
        "-untrusted",
        &file("fullchain"),
        &file("cert"),
    ]);
}

/// A PKCS#12 written by OpenSSL itself, as Windows and Key Vault write them
/// (SHA-1/3DES, a SHA-1 MAC, an empty password), from `chain`'s PEM files.
fn openssl_pfx(chain: &TestChain, dir: &Path) -> Vec<u8> {
    let file = |n: &str| dir.join(n).display().to_string();
    std::fs::write(dir.join("in-key.pem"), &chain.key_pem).unwrap();
    std::fs::write(dir.join("in-leaf.pem"), &chain.leaf_pem).unwrap();
    std::fs::write(
        dir.join("in-issuers.pem"),
        chain.pem(&[Which::Root, Which::Intermediate], false),
    )
    .unwrap();
    openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        &file("in-key.pem"),
        "-in",
        &file("in-leaf.pem"),
        "-certfile",
        &file("in-issuers.pem"),
        "-passout",
        "pass:",
        "-certpbe",
        "PBE-SHA1-3DES",
        "-keypbe",
        "PBE-SHA1-3DES",
        "-macalg",
        "sha1",
        "-out",
        &file("openssl.pfx"),
    ]);
    std::fs::read(dir.join("openssl.pfx")).unwrap()
}

#[test]
fn a_pkcs12_that_openssl_wrote_gives_the_same_parts() {
    if !need(
        support::installed("openssl"),
        "a_pkcs12_that_openssl_wrote_gives_the_same_parts",
        "openssl (package openssl)",
    ) {
        return;
    }
    for kind in [KeyKind::Rsa, KeyKind::P384] {
        let chain = TestChain::new(kind, 90);
        let dir = tempfile::tempdir().unwrap();
        let kit = Kit::new();
        let pfx = openssl_pfx(&chain, dir.path());
        kit.azure
            .vault
            .set_secret_with("tls", &b64(&pfx), meta(Some("application/x-pkcs12")));
        let (code, stderr) = write_parts(&kit, "tls", dir.path());
        assert_eq!(code, Some(0), "{kind:?}: {stderr}");
        let read = |part: &str| std::fs::read_to_string(dir.path().join(part)).unwrap();
        assert_eq!(
            certificates(&read("fullchain")),
            [
                chain.leaf_der.clone(),
                chain.intermediate_der.clone(),
                chain.root_der.clone()
            ]
        );
        the_key_signs_for_the_leaf(dir.path());
        the_chain_verifies_to_the_root(dir.path(), &chain);
        assert_eq!(std::fs::read(dir.path().join("pfx")).unwrap(), pfx);
    }
}

#[test]
fn a_p521_key_from_openssl_in_sec1_form_comes_out_as_pkcs8_and_signs_for_its_certificate() {
    if !need(
        support::installed("openssl"),
        "a_p521_key_from_openssl",
        "openssl (package openssl)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = |n: &str| dir.path().join(n).display().to_string();
    // `openssl ecparam -genkey` writes SEC1 (`EC PRIVATE KEY`) with the curve named.
    openssl(&[
        "ecparam",
        "-name",
        "secp521r1",
        "-genkey",
        "-noout",
        "-out",
        &file("sec1.pem"),
    ]);
    openssl(&[
        "req",
        "-new",
        "-x509",
        "-key",
        &file("sec1.pem"),
        "-subj",
        "/CN=p521.example",
        "-days",
        "30",
        "-out",
        &file("self.pem"),
    ]);
    let sec1 = std::fs::read_to_string(dir.path().join("sec1.pem")).unwrap();
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{sec1}");
    let value = format!(
        "{}{sec1}",
        std::fs::read_to_string(dir.path().join("self.pem")).unwrap()
    );
    let kit = Kit::new();
    kit.azure
        .vault
        .set_secret_with("p521", &value, meta(Some("application/x-pem-file")));
    let out = kit
        .run()
        .args(["--cert", "K=key", "--cert", "C=cert"])
        .env("K", kit.azure.vault.reference("p521"))
        .env("C", kit.azure.vault.reference("p521"))
        .env("OUT", dir.path().display().to_string())
        .command([
            "sh",
            "-c",
            "cat \"$K\" > \"$OUT/key\" && cat \"$C\" > \"$OUT/cert\"",
        ])
        .go();
    out.assert_code(0);
    assert!(std::fs::read_to_string(dir.path().join("key"))
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----\n"));
    the_key_signs_for_the_leaf(dir.path());
}

#[test]
fn each_failure_has_its_status_and_one_line_naming_the_variable() {
    let kit = Kit::new();
    let chain = TestChain::new(KeyKind::P256, 90);
    let vault = &kit.azure.vault;
    vault.set_secret_with("plain", "just a password", meta(None));
    vault.set_secret_with(
        "keyless",
        &b64(&chain.pfx(&SCRAMBLED, false, "", true)),
        meta(Some("application/x-pkcs12")),
    );
    vault.set_secret_with(
        "locked",
        &b64(&chain.pfx(&SCRAMBLED, true, "hunter2", true)),
        meta(Some("application/x-pkcs12")),
    );
    // A key with only the issuers: no certificate holds the key.
    let issuers = format!(
        "{}{}{}",
        chain.key_pem, chain.root_pem, chain.intermediate_pem
    );
    vault.set_secret_with("leafless", &issuers, meta(Some("application/x-pem-file")));
    vault.set_secret("retired", "a value");
    vault.disable("retired");
    vault.set_secret("garbled", "not*base64*at*all");
    let past = 1_700_000_000;
    vault.set_secret_with(
        "old",
        "an old value",
        SecretMeta {
            expires: Some(past),
            ..SecretMeta::default()
        },
    );
    // What the vault refuses or dates fails first, before any shaping.
    let fetched = [
        ("RETIRED", "retired", "SecretDisabled"),
        ("OLD", "old", "SecretExpired"),
    ];
    let shaped = [
        ("PLAIN", "plain", "NotACertificate"),
        ("KEYLESS", "keyless", "KeyNotExportable"),
        ("LOCKED", "locked", "CertificateEncrypted"),
        ("LEAFLESS", "leafless", "NoLeafCertificate"),
        ("GARBLED", "garbled", "InvalidEncoding"),
    ];
    let options = [
        "--cert",
        "PLAIN=cert",
        "--cert",
        "KEYLESS=key",
        "--cert",
        "LOCKED=fullchain",
        "--cert",
        "LEAFLESS=bundle",
        "--file",
        "GARBLED=base64",
        "--fail-expired",
    ];
    for expect in [&fetched[..], &shaped[..]] {
        let mut run = kit.run().args(options);
        for (var, name, _) in shaped.iter().chain(expect) {
            run = run.env(var, vault.reference(name));
        }
        let out = run.probe().go();
        out.assert_code(125);
        assert!(out.child_env.is_none(), "no command");
        let lines: Vec<&str> = out.stderr.lines().collect();
        for (var, _, status) in expect {
            let found = lines
                .iter()
                .filter(|l| l.starts_with(&format!("kvenv: {var}: {status}: ")))
                .count();
            assert_eq!(found, 1, "{var} {status}: {}", out.stderr);
        }
        assert_eq!(lines.len(), expect.len(), "{}", out.stderr);
        for leaked in ["just a password", "hunter2", "BEGIN", "not*base64"] {
            assert!(!out.stderr.contains(leaked), "{leaked}: {}", out.stderr);
        }
    }
    // check reports them all at once: one row each, exit 1.
    let mut check = kit.check().args(options).args(["--output", "json"]);
    for (var, name, _) in fetched.iter().chain(&shaped) {
        check = check.env(var, vault.reference(name));
    }
    let out = check.go();
    out.assert_code(1);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    for (var, _, status) in fetched.iter().chain(&shaped) {
        let row = rows.iter().find(|r| r["location"] == *var).unwrap();
        assert_eq!(row["status"], *status, "{row}");
    }
}

#[test]
fn file_decodes_each_encoding_byte_for_byte() {
    let kit = Kit::new();
    let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
    let vault = &kit.azure.vault;
    vault.set_secret("b64", &b64(&bytes));
    vault.set_secret("url", &url);
    vault.set_secret("hex", &hex.to_uppercase());
    vault.set_secret("raw", "licence key\nwith two lines\n");
    let dir = tempfile::tempdir().unwrap();
    let out = kit
        .run()
        .args(["--file", "A=base64", "--file", "B=base64url", "--file", "C=hex", "--file", "D"])
        .env("A", vault.reference("b64"))
        .env("B", vault.reference("url"))
        .env("C", vault.reference("hex"))
        .env("D", vault.reference("raw"))
        .env("OUT", dir.path().display().to_string())
        .command(["sh", "-c", "for v in A B C D; do eval \"cat \\\"\\$$v\\\"\" > \"$OUT/$v\"; eval \"echo \\$$v\" >> \"$OUT/paths\"; done"])
        .go();
    out.assert_code(0);
    for var in ["A", "B", "C"] {
        assert_eq!(std::fs::read(dir.path().join(var)).unwrap(), bytes, "{var}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("D")).unwrap(),
        "licence key\nwith two lines\n"
    );
    let paths = std::fs::read_to_string(dir.path().join("paths")).unwrap();
    assert!(paths.lines().all(|p| p.starts_with("/dev/fd/")), "{paths}");
}

#[test]
fn check_shows_what_the_vault_says_and_fail_expired_fails_on_an_expired_secret() {
    let kit = Kit::new();
    let chain = TestChain::new(KeyKind::P256, 30);
    let vault = &kit.azure.vault;
    let (nbf, exp) = (1_700_000_000, 4_102_444_800); // 2023-11-14, 2100-01-01
    vault.set_secret_with(
        "tls",
        &chain.pem(&SCRAMBLED, true),
        SecretMeta {
            content_type: Some("application/x-pem-file".into()),
            not_before: Some(nbf),
            expires: Some(exp),
        },
    );
    vault.set_secret_with(
        "old",
        "an old value",
        SecretMeta {
            expires: Some(nbf),
            ..SecretMeta::default()
        },
    );
    let check = || {
        kit.check()
            .args(["--cert", "TLS=fullchain"])
            .env("TLS", vault.reference("tls"))
            .env("OLD", vault.reference("old"))
    };
    let out = check().args(["--output", "json"]).go();
    out.assert_code(0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let tls = rows.iter().find(|r| r["location"] == "TLS").unwrap();
    assert_eq!(tls["content_type"], "application/x-pem-file");
    assert_eq!(tls["enabled"], true);
    assert_eq!(tls["not_before"], "2023-11-14T22:13:20Z");
    assert_eq!(tls["expires"], "2100-01-01T00:00:00Z");
    assert_eq!(tls["certificate"]["subject"], "CN=kvenv test leaf");
    let days = tls["certificate"]["days_left"].as_i64().unwrap();
    assert!((29..=30).contains(&days), "{tls}");
    let old = rows.iter().find(|r| r["location"] == "OLD").unwrap();
    assert_eq!(old["status"], "Resolved", "a warning only: {old}");
    assert!(
        old["detail"]
            .as_str()
            .unwrap()
            .contains("expired 2023-11-14T22:13:20Z"),
        "{old}"
    );
    let table = check().go();
    table.assert_code(0);
    let header = table.stdout.lines().next().unwrap();
    for column in ["CONTENT-TYPE", "ENABLED", "NOT-BEFORE", "EXPIRES"] {
        assert!(header.contains(column), "{header}");
    }
    let tls_line = table
        .stdout
        .lines()
        .find(|l| l.starts_with("TLS "))
        .unwrap();
    assert!(
        tls_line.contains("application/x-pem-file") && tls_line.contains("2100-01-01T00:00:00Z"),
        "{tls_line}"
    );
    assert!(
        tls_line.contains("certificate CN=kvenv test leaf") && tls_line.contains("days left"),
        "{tls_line}"
    );
    // --fail-expired: the expired secret fails check and run.
    let failed = check().arg("--fail-expired").go();
    failed.assert_code(1);
    let old_line = failed
        .stdout
        .lines()
        .find(|l| l.starts_with("OLD "))
        .unwrap();
    assert!(old_line.contains("SecretExpired"), "{old_line}");
    let run = kit.run().env("OLD", vault.reference("old")).probe();
    let warned = run.go();
    warned.assert_code(0);
    assert!(
        warned.stderr.contains("OLD: secret ")
            && warned
                .stderr
                .contains("--fail-expired makes this a failure"),
        "{}",
        warned.stderr
    );
    let refused = kit
        .run()
        .arg("--fail-expired")
        .env("OLD", vault.reference("old"))
        .probe()
        .go();
    refused.assert_code(125);
    assert!(
        refused.stderr.starts_with("kvenv: OLD: SecretExpired: "),
        "{}",
        refused.stderr
    );
    // An expired certificate under --fail-expired, though its secret has no exp.
    let expired = TestChain::new(KeyKind::P256, -2);
    vault.set_secret_with("gone", &expired.pem(&SCRAMBLED, true), meta(None));
    let out = kit
        .run()
        .args(["--cert", "G=cert", "--fail-expired"])
        .env("G", vault.reference("gone"))
        .probe()
        .go();
    out.assert_code(125);
    assert!(
        out.stderr.starts_with("kvenv: G: SecretExpired: ") && out.stderr.contains("notAfter"),
        "{}",
        out.stderr
    );
}

#[test]
fn export_writes_the_pem_text_and_refuses_binary_content() {
    let kit = Kit::new();
    let chain = TestChain::new(KeyKind::P256, 90);
    let vault = &kit.azure.vault;
    vault.set_secret_with(
        "tls",
        &b64(&chain.pfx(&SCRAMBLED, true, "", true)),
        meta(Some("application/x-pkcs12")),
    );
    let out = kit
        .run()
        .args(["--cert", "CHAIN=fullchain", "--format", "json"])
        .env("CHAIN", vault.reference("tls"))
        .go_export();
    out.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        certificates(doc["CHAIN"].as_str().unwrap()),
        [
            chain.leaf_der.clone(),
            chain.intermediate_der.clone(),
            chain.root_der.clone()
        ]
    );
    for format in ["dotenv", "shell", "json", "yaml", "docker"] {
        let out = kit
            .run()
            .args(["--cert", "PFX_FILE=pfx", "--format", format])
            .env("PFX_FILE", vault.reference("tls"))
            .go_export();
        out.assert_code(125);
        assert!(
            out.stderr.starts_with("kvenv: export PFX_FILE: ") && out.stderr.contains("binary"),
            "{format}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn nginx_serves_the_chain_from_the_cert_files_and_a_client_trusting_the_root_accepts_it() {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if !need(
        nginx.is_some() && support::installed("openssl"),
        "nginx_serves_the_chain_from_the_cert_files",
        "nginx and openssl (packages nginx-light, openssl)",
    ) {
        return;
    }
    let kit = Kit::new();
    let chain = TestChain::new(KeyKind::Rsa, 90);
    kit.azure.vault.set_secret_with(
        "tls",
        &b64(&chain.pfx(&SCRAMBLED, true, "", true)),
        meta(Some("application/x-pkcs12")),
    );
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The paths go into nginx.conf the way the nginx image's templates do it
    // (envsubst of ${TLS_CERT} at start); here the shell substitutes them.
    let script = format!(
        "cat > \"$OUT/nginx.conf\" <<EOF\n\
         pid $OUT/nginx.pid; error_log stderr; events {{}}\n\
         http {{ access_log off; client_body_temp_path $OUT; proxy_temp_path $OUT; fastcgi_temp_path $OUT; uwsgi_temp_path $OUT; scgi_temp_path $OUT;\n\
         server {{ listen 127.0.0.1:{port} ssl; ssl_certificate $TLS_CERT; ssl_certificate_key $TLS_KEY; return 200 ok; }} }}\n\
         EOF\n\
         exec {} -p \"$OUT\" -e stderr -c \"$OUT/nginx.conf\" -g 'daemon off;'",
        nginx.unwrap()
    );
    let running = kit
        .run()
        .args(["--cert", "TLS_CERT=fullchain", "--cert", "TLS_KEY=key"])
        .env("TLS_CERT", kit.azure.vault.reference("tls"))
        .env("TLS_KEY", kit.azure.vault.reference("tls"))
        .env("OUT", dir.path().display().to_string())
        .command(["sh", "-c", &script])
        .spawn();
    std::fs::write(dir.path().join("root.pem"), &chain.root_pem).unwrap();
    let connect = || {
        Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-servername",
                "localhost",
            ])
            .args([
                "-CAfile",
                &dir.path().join("root.pem").display().to_string(),
                "-verify_return_error",
                "-showcerts",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let mut answer = connect();
    let started = std::time::Instant::now();
    while !answer.status.success() && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        answer = connect();
    }
    let text = String::from_utf8_lossy(&answer.stdout).into_owned();
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let stderr = running.stderr();
    assert!(
        answer.status.success(),
        "{text}\n{}\nnginx: {stderr}",
        String::from_utf8_lossy(&answer.stderr)
    );
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    let served = certificates(&text);
    assert_eq!(
        served[..2],
        [chain.leaf_der.clone(), chain.intermediate_der.clone()],
        "leaf, then its issuer"
    );
}

#[test]
fn a_renewed_certificate_under_watch_with_signal_hup_recreates_the_files_for_the_same_process() {
    let kit = Kit::new();
    let first = TestChain::new(KeyKind::P256, 90);
    let vault = &kit.azure.vault;
    vault.set_secret_with(
        "tls",
        &first.pem(&SCRAMBLED, true),
        meta(Some("application/x-pem-file")),
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let script = "echo $$ >> \"$OUT/pids\"; n=0; save() { n=$((n+1)); cat \"$C\" > \"$OUT/cert$n\"; cat \"$K\" > \"$OUT/key$n\"; echo $n >> \"$OUT/log\"; }; trap save HUP; save; while :; do sleep 0.1; done";
    let running = kit
        .run()
        .args([
            "--watch",
            "--refresh-interval",
            "1s",
            "--stop-timeout",
            "3s",
            "--on-change",
            "signal:HUP",
        ])
        .args(["--cert", "C=cert", "--cert", "K=key"])
        .env("C", vault.reference("tls"))
        .env("K", vault.reference("tls"))
        .env("OUT", dir.path().display().to_string())
        .command(["sh", "-c", script])
        .spawn();
    assert!(
        support::eventually(std::time::Duration::from_secs(5), || support::lines(&log)
            .len()
            == 1),
        "{}",
        running.stderr()
    );
    let renewed = TestChain::new(KeyKind::P256, 365);
    vault.set_secret_with(
        "tls",
        &renewed.pem(&SCRAMBLED, true),
        meta(Some("application/x-pem-file")),
    );
    assert!(
        support::eventually(std::time::Duration::from_secs(8), || support::lines(&log)
            .len()
            == 2),
        "{}",
        running.stderr()
    );
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    assert_eq!(
        certificates(&read("cert1")),
        std::slice::from_ref(&first.leaf_der)
    );
    assert_eq!(
        certificates(&read("cert2")),
        std::slice::from_ref(&renewed.leaf_der)
    );
    assert_ne!(read("key1"), read("key2"), "the new key too");
    assert_eq!(
        support::lines(&dir.path().join("pids")).len(),
        1,
        "the same process, signalled"
    );
    assert!(
        running
            .stderr()
            .contains("rewrote C, K in place and sent SIGHUP"),
        "{}",
        running.stderr()
    );
    running.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(
        running.wait(std::time::Duration::from_secs(10)).code,
        Some(143)
    );
}
