//! What `kvenv run --mask` costs on output: `cat` of a 2 MB and a 32 MB text
//! file (no secret in it) read through a pipe, directly, through
//! `kvenv run` (which execs `cat`) and through `kvenv run --mask` (which
//! relays and masks every byte), with 1 and 100 secrets to mask. Medians of
//! interleaved rounds; the output is checked byte for byte each time.
//!
//!     cargo run --release --example mask [-- ROUNDS]

use kvenv_testkit::{FakeAzure, IdentityKind};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

/// Runs `argv` with `env`, reads all its stdout; the seconds it took.
fn time(argv: &[String], env: &[(String, String)], expected: &[u8]) -> f64 {
    let started = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = Vec::with_capacity(expected.len());
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert!(child.wait().unwrap().success());
    let took = started.elapsed().as_secs_f64();
    assert!(out == expected, "{} changed the output", argv.join(" "));
    took
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(7);
    let kvenv = kvenv_testkit::kvenv_binary().display().to_string();
    let azure = FakeAzure::start(IdentityKind::AppService);
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = vec![("PATH".into(), "/usr/bin:/bin".into())];
    env.extend(azure.identity_env());
    for i in 0..100 {
        azure
            .vault
            .set_secret(&format!("s{i}"), &format!("benchmark-secret-{i:03}-value"));
    }
    let mut cases = Vec::new();
    for size in [2usize << 20, 32 << 20] {
        let mut text = Vec::with_capacity(size);
        let mut n: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789-+/=%\n benchmark";
        while text.len() < size {
            n ^= n << 13;
            n ^= n >> 7;
            n ^= n << 17;
            text.push(alphabet[(n % alphabet.len() as u64) as usize]);
        }
        let file = dir.path().join(format!("{}mb.txt", size >> 20));
        std::fs::write(&file, &text).unwrap();
        cases.push((size, file.display().to_string(), text));
    }
    let kvenv_run =
        |mask: bool, secrets: usize, file: &str| -> (Vec<String>, Vec<(String, String)>) {
            let mut argv = vec![
                kvenv.clone(),
                "run".into(),
                "--allow-host".into(),
                azure.vault.host(),
            ];
            argv.extend(["--ca-file".into(), azure.ca_file().display().to_string()]);
            if mask {
                argv.push("--mask".into());
            }
            argv.extend(["--".into(), "cat".into(), file.into()]);
            let mut env = env.clone();
            for i in 0..secrets {
                env.push((format!("S{i}"), azure.vault.reference(&format!("s{i}"))));
            }
            (argv, env)
        };
    println!("| output | cat | run, 1 secret | run --mask, 1 secret | × cat | run, 100 secrets | run --mask, 100 secrets | × cat | masking MB/s (1 / 100 secrets) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (size, file, text) in &cases {
        let cat = vec!["/usr/bin/cat".to_string(), file.clone()];
        let plain = kvenv_run(false, 1, file);
        let one = kvenv_run(true, 1, file);
        let plain100 = kvenv_run(false, 100, file);
        let hundred = kvenv_run(true, 100, file);
        let mut t: [Vec<f64>; 5] = Default::default();
        time(&one.0, &one.1, text); // warm-up
        for _ in 0..rounds {
            t[0].push(time(&cat, &env, text));
            t[1].push(time(&plain.0, &plain.1, text));
            t[2].push(time(&one.0, &one.1, text));
            t[3].push(time(&plain100.0, &plain100.1, text));
            t[4].push(time(&hundred.0, &hundred.1, text));
        }
        let [c, p, o, p100, h] = t.map(|mut v| median(&mut v));
        let mb = *size as f64 / (1 << 20) as f64;
        println!(
            "| {mb:.0} MB | {:.1} ms | {:.1} ms | {:.1} ms | {:.1}× | {:.1} ms | {:.1} ms | {:.1}× | {:.0} / {:.0} |",
            c * 1e3, p * 1e3, o * 1e3, o / c, p100 * 1e3, h * 1e3, h / c,
            mb / (o - p).max(1e-6), mb / (h - p100).max(1e-6)
        );
    }
}
