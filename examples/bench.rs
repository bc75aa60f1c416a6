//! Whole-process benchmark of kvenv against the loopback fakes, with 20 ms
//! added to every vault response, beside `env true` (the floor of an exec
//! wrapper) and the entrypoint users would otherwise write with the official
//! Python SDK (`bench/entrypoint.py`, installed into `target/bench-venv`).
//! Runs are interleaved (A B C A B C ...) and medians reported; peak RSS comes
//! from GNU time, request counts from the fakes' logs. Writes BENCHMARKS.md.
//!
//!     cargo run --release --example bench [-- RUNS]

use kvenv_testkit::{FakeAzure, FakeVault, IdentityKind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const LATENCY: Duration = Duration::from_millis(20);
const VAULTS: usize = 3;
/// Interleaved runs for the no-reference comparison.
const EXEC_RUNS: usize = 1000;

struct Scenario {
    name: String,
    refs: usize,
    program: Vec<String>,
    env: Vec<(String, String)>,
    python: bool,
    times: Vec<f64>,
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn python_venv(root: &Path) -> Option<PathBuf> {
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", "import azure.identity, azure.keyvault.secrets"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        eprintln!(
            "bench: installing azure-identity and azure-keyvault-secrets into {}",
            venv.display()
        );
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .ok()?
            .success()
            && Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--quiet",
                    "azure-identity",
                    "azure-keyvault-secrets",
                ])
                .status()
                .ok()?
                .success();
        if !ok {
            eprintln!("bench: could not install the Python SDK; its rows are skipped");
            return None;
        }
    }
    Some(python)
}

fn run(s: &Scenario, base: &[(String, String)]) -> (f64, bool) {
    let started = Instant::now();
    let status = Command::new(&s.program[0])
        .args(&s.program[1..])
        .env_clear()
        .envs(base.iter().cloned())
        .envs(s.env.iter().cloned())
        .status()
        .expect("spawn");
    (started.elapsed().as_secs_f64() * 1000.0, status.success())
}

fn peak_rss_kib(s: &Scenario, base: &[(String, String)]) -> Option<u64> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .args(&s.program)
        .env_clear()
        .envs(base.iter().cloned())
        .envs(s.env.iter().cloned())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

fn requests(vaults: &[&FakeVault]) -> (usize, usize, usize) {
    let all: Vec<_> = vaults.iter().flat_map(|v| v.requests()).collect();
    let challenges = all.iter().filter(|r| r.status == 401).count();
    let gets = all.iter().filter(|r| r.authorized).count();
    (all.len(), challenges, gets)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let kernel = Command::new("uname")
        .arg("-r")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {kernel}, {rustc}")
}

/// `env true` against kvenv with no references (and the static build when
/// given), `runs` runs each in shuffled rounds: a table, and the ratios of medians.
fn exec_cost(
    scenarios: &[Scenario],
    base: &[(String, String)],
    runs: usize,
) -> (String, Vec<(String, f64)>) {
    let picked: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| s.refs == 0 && !s.python)
        .collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); picked.len()];
    // A new order every round: what ran just before a start (a small `env`
    // or kvenv parsing options) shows in its time, so every scenario gets the
    // same mix of predecessors.
    let mut order: Vec<usize> = (0..picked.len()).collect();
    for _ in 0..runs {
        fastrand::shuffle(&mut order);
        for &i in &order {
            let (ms, ok) = run(picked[i], base);
            assert!(ok, "{} failed", picked[i].name);
            times[i].push(ms);
        }
    }
    let floor = median(&times[0]);
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    for (s, t) in picked.iter().zip(&times) {
        let m = median(t);
        rows.push(format!("| {} | {:.3} | {:.2}× |", s.name, m, m / floor));
        ratios.push((s.name.clone(), m / floor));
    }
    let table = format!(
        "| no references, {runs} runs each, shuffled rounds | median ms | × env true |\n|---|---|---|\n{}\n",
        rows.join("\n")
    );
    (table, ratios)
}

/// `--serve`: keep the fakes up and write one `env -i ...` command line per
/// scenario under `target/bench-serve/`, for profiling kvenv from outside
/// (`sh target/bench-serve/kvenv-100-refs.sh`, or with perf or callgrind).
fn serve(root: &Path, scenarios: &[Scenario], base: &[(String, String)]) {
    let dir = root.join("target/bench-serve");
    std::fs::create_dir_all(&dir).expect("create target/bench-serve");
    for s in scenarios {
        let slug: String = s
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let words: Vec<String> = base
            .iter()
            .chain(&s.env)
            .map(|(k, v)| format!("'{k}={v}'"))
            .chain(s.program.iter().map(|w| format!("'{w}'")))
            .collect();
        let line = format!("exec env -i {}\n", words.join(" "));
        std::fs::write(dir.join(format!("{slug}.sh")), line).expect("write scenario");
    }
    eprintln!("bench: scenarios in {}; Ctrl-C to stop", dir.display());
    loop {
        std::thread::park();
    }
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(7);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let kvenv = kvenv_testkit::kvenv_binary().display().to_string();
    let azure = FakeAzure::start(IdentityKind::AppService);
    let vaults: Vec<FakeVault> = (0..VAULTS).map(|_| azure.another_vault()).collect();
    for v in &vaults {
        v.delay_all(LATENCY);
    }
    for i in 0..1000 {
        vaults[i % VAULTS].set_secret(&format!("s{i}"), &format!("benchmark-value-{i}"));
    }
    let ca = azure.ca_file().display().to_string();
    let mut base: Vec<(String, String)> = vec![("PATH".into(), "/usr/bin:/bin".into())];
    base.extend(azure.identity_env());
    // To compare settings: KVENV_CONCURRENCY=N cargo run --release --example bench
    if let Ok(n) = std::env::var("KVENV_CONCURRENCY") {
        base.push(("KVENV_CONCURRENCY".into(), n));
    }

    // The same secrets on vaults that speak only HTTP/1.1 (no h2 in ALPN).
    let http1: Vec<FakeVault> = (0..VAULTS).map(|_| azure.another_vault_http1()).collect();
    for v in &http1 {
        v.delay_all(LATENCY);
    }
    for i in 0..100 {
        http1[i % VAULTS].set_secret(&format!("s{i}"), &format!("benchmark-value-{i}"));
    }
    let mut kvenv_cmd = vec![kvenv.clone(), "run".into(), "--ca-file".into(), ca.clone()];
    for (k, v) in vaults.iter().enumerate() {
        let port = v.port();
        kvenv_cmd.extend([
            "--resolve".into(),
            format!("bench{k}.vault.azure.net=127.0.0.1:{port}"),
        ]);
    }
    for (k, v) in http1.iter().enumerate() {
        let port = v.port();
        kvenv_cmd.extend([
            "--resolve".into(),
            format!("benchh{k}.vault.azure.net=127.0.0.1:{port}"),
        ]);
    }
    kvenv_cmd.extend(["--".into(), "true".into()]);

    let mut scenarios = vec![Scenario {
        name: "env true".into(),
        refs: 0,
        // By path, as kvenv is: no PATH search in the benchmark for either.
        program: vec!["/usr/bin/env".into(), "true".into()],
        env: vec![],
        python: false,
        times: vec![],
    }];
    // With no references, the entrypoint form `kvenv run -- COMMAND` (options
    // have nothing to act on); the same with the options of the other rows
    // shows what parsing them costs.
    let plain = |binary: &str| vec![binary.to_string(), "run".into(), "--".into(), "true".into()];
    for n in [0usize, 1, 10, 100, 1000] {
        scenarios.push(Scenario {
            name: format!("kvenv, {n} refs"),
            refs: n,
            program: if n == 0 {
                plain(&kvenv)
            } else {
                kvenv_cmd.clone()
            },
            env: (0..n)
                .map(|i| {
                    (
                        format!("SECRET_{i}"),
                        format!(
                            "@Microsoft.KeyVault(VaultName=bench{};SecretName=s{i})",
                            i % VAULTS
                        ),
                    )
                })
                .collect(),
            python: false,
            times: vec![],
        });
    }
    scenarios.insert(
        2,
        Scenario {
            name: "kvenv, 0 refs, with options".into(),
            refs: 0,
            program: kvenv_cmd.clone(),
            env: vec![],
            python: false,
            times: vec![],
        },
    );
    scenarios.push(Scenario {
        name: "kvenv, 100 refs, HTTP/1.1-only vaults".into(),
        refs: 100,
        program: kvenv_cmd.clone(),
        env: (0..100)
            .map(|i| {
                (
                    format!("SECRET_{i}"),
                    format!(
                        "@Microsoft.KeyVault(VaultName=benchh{};SecretName=s{i})",
                        i % VAULTS
                    ),
                )
            })
            .collect(),
        python: false,
        times: vec![],
    });
    // The static build (what the Dockerfiles build), when given.
    if let Ok(path) = std::env::var("KVENV_STATIC_BINARY") {
        scenarios.push(Scenario {
            name: "kvenv static, 0 refs".into(),
            refs: 0,
            program: plain(&path),
            env: vec![],
            python: false,
            times: vec![],
        });
    }
    // The same 100 secrets by SecretUri on --allow-host hosts: the scope is not
    // known in advance there, so each vault's first request collects the 401
    // challenge alone (what every request paid before the pre-authorized path).
    let mut challenge_cmd = vec![kvenv.clone(), "run".into(), "--ca-file".into(), ca.clone()];
    for v in &vaults {
        challenge_cmd.extend(["--allow-host".into(), v.host()]);
    }
    challenge_cmd.extend(["--".into(), "true".into()]);
    scenarios.push(Scenario {
        name: "kvenv, 100 refs, allow-listed hosts (challenge first)".into(),
        refs: 100,
        program: challenge_cmd,
        env: (0..100)
            .map(|i| {
                (
                    format!("SECRET_{i}"),
                    format!(
                        "@Microsoft.KeyVault(SecretUri={})",
                        vaults[i % VAULTS].secret_uri(&format!("s{i}"))
                    ),
                )
            })
            .collect(),
        python: false,
        times: vec![],
    });
    if let Some(python) = python_venv(&root) {
        for n in [1usize, 10, 100] {
            let mut env: Vec<(String, String)> = (0..n)
                .map(|i| {
                    (
                        format!("SECRET_{i}"),
                        format!(
                            "@Microsoft.KeyVault(SecretUri={})",
                            vaults[i % VAULTS].secret_uri(&format!("s{i}"))
                        ),
                    )
                })
                .collect();
            env.push(("REQUESTS_CA_BUNDLE".into(), ca.clone()));
            scenarios.push(Scenario {
                name: format!("Python SDK, {n} refs"),
                refs: n,
                program: vec![
                    python.display().to_string(),
                    root.join("bench/entrypoint.py").display().to_string(),
                    "true".into(),
                ],
                env,
                python: true,
                times: vec![],
            });
        }
    }

    if std::env::args().any(|a| a == "--serve") {
        serve(&root, &scenarios, &base);
        return;
    }

    // Warm up (page cache, venv imports), then interleave.
    for s in &scenarios {
        let (_, ok) = run(s, &base);
        assert!(ok, "{} failed", s.name);
    }
    for round in 0..runs {
        eprintln!("bench: round {}/{runs}", round + 1);
        for s in scenarios.iter_mut() {
            let (ms, ok) = run(s, &base);
            assert!(ok, "{} failed", s.name);
            s.times.push(ms);
        }
    }

    // The no-reference cost is a fraction of a millisecond: measured apart,
    // with many more interleaved runs than the table's rounds.
    let exec_cost = exec_cost(&scenarios, &base, EXEC_RUNS);

    let floor = median(&scenarios[0].times);
    let mut rows = Vec::new();
    let mut summary = Vec::new();
    let all_vaults: Vec<&FakeVault> = vaults.iter().chain(&http1).collect();
    for s in &scenarios {
        let before = requests(&all_vaults);
        let tokens_before = azure.identity.tokens_issued();
        run(s, &base);
        let after = requests(&all_vaults);
        let tokens = azure.identity.tokens_issued() - tokens_before;
        let rss = peak_rss_kib(s, &base)
            .map(|k| format!("{:.1}", k as f64 / 1024.0))
            .unwrap_or_else(|| "?".into());
        let m = median(&s.times);
        let python_ratio = scenarios
            .iter()
            .find(|p| p.python && p.refs == s.refs && s.name.starts_with("kvenv"))
            .map(|p| format!("{:.1}×", median(&p.times) / m))
            .unwrap_or_else(|| "".into());
        rows.push(format!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.2}× | {} | {} | {} / {} / {} | {} |",
            s.name,
            m,
            s.times.iter().cloned().fold(f64::INFINITY, f64::min),
            s.times.iter().cloned().fold(0.0, f64::max),
            m / floor,
            python_ratio,
            rss,
            after.0 - before.0,
            after.1 - before.1,
            after.2 - before.2,
            tokens
        ));
        let latency = LATENCY.as_secs_f64() * 1000.0;
        match s.name.as_str() {
            "kvenv, 0 refs" | "kvenv static, 0 refs" => {
                let ratio = exec_cost
                    .1
                    .iter()
                    .find(|(name, _)| name == &s.name)
                    .map_or(m / floor, |(_, r)| *r);
                let (what, target) = if s.name.contains("static") {
                    ("No references, static build", "1.05")
                } else {
                    ("No references", "1.10")
                };
                summary.push(format!(
                    "- {what}: {ratio:.2}× `env true` over {} shuffled rounds (target ≤ {target}×).",
                    EXEC_RUNS
                ))
            }
            "kvenv, 1 refs" => summary.push(format!(
                "- 1 reference: {m:.1} ms (target ≤ one latency + 10 ms = {:.0} ms).",
                latency + 10.0
            )),
            "kvenv, 100 refs" => summary.push(format!(
                "- 100 references over 3 vaults: {m:.1} ms (target ≤ two latencies + 15 ms = {:.0} ms){}.",
                2.0 * latency + 15.0,
                if python_ratio.is_empty() { String::new() } else { format!("; {python_ratio} faster than the Python SDK entrypoint") }
            )),
            "kvenv, 1000 refs" => summary.push(format!(
                "- 1000 references: {m:.1} ms (target ≤ 150 ms), peak RSS {rss} MB (target ≤ 15 MB)."
            )),
            "kvenv, 100 refs, HTTP/1.1-only vaults" => summary.push(format!(
                "- HTTP/1.1 fallback, 100 references over 3 vaults: {m:.1} ms (target ≤ 150 ms)."
            )),
            _ => {}
        }
    }
    let size = std::fs::metadata(&kvenv).map(|m| m.len()).unwrap_or(0);
    summary.push(format!(
        "- Release binary (stripped): {:.1} MB (target ≤ 8 MB).",
        size as f64 / 1e6
    ));

    let table = format!(
        "| scenario | median ms | min ms | max ms | × env true | × faster than Python | peak RSS MB | vault requests / 401 challenges / GETs | token requests |\n|---|---|---|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    println!("{table}");
    println!("{}", exec_cost.0);
    for line in &summary {
        println!("{line}");
    }
    let section = format!(
        "<!-- bench -->\nMeasured by `cargo run --release --example bench` ({runs} interleaved rounds after a warm-up; medians) on {}.\n\
The fakes run in the benchmark process on 127.0.0.1; every vault response is delayed {} ms. kvenv uses `VaultName=` references \
(hosts under `.vault.azure.net`, pinned to the fakes with `--resolve`); the Python entrypoint (`bench/entrypoint.py`: \
`ManagedIdentityCredential` + `SecretClient.get_secret` in sequence, then `os.execvp`) uses the same secrets by `SecretUri`. \
Request counts come from one extra run of each scenario; peak RSS from GNU time (`%M`), which includes what kvenv used before it exec'd `true`.\n\n{table}\n{}\n{}\n<!-- /bench -->",
        machine(),
        LATENCY.as_millis(),
        exec_cost.0,
        summary.join("\n")
    );
    // Only the section between the markers is this program's; the rest of
    // the file (fleet simulations, history) is kept.
    let path = root.join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let doc = match (old.find("<!-- bench -->"), old.find("<!-- /bench -->")) {
        (Some(a), Some(b)) => format!(
            "{}{section}{}",
            &old[..a],
            &old[b + "<!-- /bench -->".len()..]
        ),
        _ => format!("# Benchmarks\n\n{section}\n"),
    };
    std::fs::write(path, doc).expect("write BENCHMARKS.md");
    eprintln!("bench: wrote BENCHMARKS.md");
}
