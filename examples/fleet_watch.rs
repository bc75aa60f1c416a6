//! Fleet simulation for `run --watch`: N watchers start together against one
//! fake vault, each following three unpinned secrets every INTERVAL seconds;
//! one secret is rotated after a while. Reports whether every watcher
//! restarted its command exactly once, the vault requests per interval
//! against the ideal (watchers × references), and the busiest one-second
//! window against the mean (no synchronized bursts).
//!
//!     cargo run --release --example fleet_watch [-- WATCHERS [INTERVAL_SECONDS [INTERVALS]]]

use kvenv_testkit::{FakeAzure, IdentityKind};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let watchers = arg(1, 1000) as usize;
    let interval = Duration::from_secs(arg(2, 10));
    let intervals = arg(3, 6) as u32;

    let kvenv = kvenv_testkit::kvenv_binary();
    let azure = FakeAzure::start(IdentityKind::AppService);
    const SECRETS: [&str; 3] = ["db-password", "api-key", "cert-password"];
    for name in SECRETS {
        azure.vault.set_secret(name, &format!("watch-{name}-v1"));
    }
    let logs = tempfile::tempdir().expect("a folder for the children's logs");
    println!("starting {watchers} watchers (interval {interval:?}, {intervals} intervals)");
    let started = Instant::now();
    let mut fleet: Vec<_> = (0..watchers)
        .map(|i| {
            let mut cmd = Command::new(&kvenv);
            cmd.env_clear()
                .env("PATH", "/usr/bin:/bin")
                .envs(azure.identity_env())
                .env("LOG", logs.path().join(format!("{i}")))
                .args([
                    "run",
                    "-q",
                    "--watch",
                    "--refresh-interval",
                    &format!("{}s", interval.as_secs()),
                ])
                .args(["--allow-host", &azure.vault.host(), "--ca-file"])
                .arg(azure.ca_file());
            for name in SECRETS {
                cmd.env(
                    name.replace('-', "_").to_uppercase(),
                    azure.vault.reference(name),
                );
            }
            cmd.args(["--", "sh", "-c", "echo start >> \"$LOG\"; exec sleep 3600"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start kvenv")
        })
        .collect();
    let spawned = started.elapsed();
    // Rotate one secret halfway through the run.
    std::thread::sleep(interval * intervals / 2);
    azure
        .vault
        .set_secret("db-password", "watch-db-password-v2");
    let rotated_at = started.elapsed();
    std::thread::sleep(interval * intervals.div_ceil(2) + interval / 2);
    let requests = azure.vault.requests();
    for child in &mut fleet {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    for child in &mut fleet {
        let _ = child.wait();
    }

    let starts: Vec<usize> = (0..watchers)
        .map(|i| {
            std::fs::read_to_string(logs.path().join(format!("{i}")))
                .unwrap_or_default()
                .lines()
                .count()
        })
        .collect();
    let restarted_once = starts.iter().filter(|n| **n == 2).count();
    // Refresh traffic: the authorized GETs after the initial round (one per reference per watcher).
    let initial = watchers * SECRETS.len();
    let mut times: Vec<Duration> = requests
        .iter()
        .filter(|r| r.authorized)
        .map(|r| r.at.duration_since(started))
        .collect();
    times.sort();
    let refreshes = &times[initial.min(times.len())..];
    let window = (refreshes.first(), refreshes.last());
    let (Some(first), Some(last)) = window else {
        println!("no refresh traffic");
        return;
    };
    let span = last.saturating_sub(*first).as_secs_f64().max(1.0);
    let per_interval = refreshes.len() as f64 / (span / interval.as_secs_f64());
    let ideal = (watchers * SECRETS.len()) as f64;
    let mean_per_second = refreshes.len() as f64 / span;
    // Sorted times: a sliding one-second window.
    let mut busiest = 0;
    let mut start = 0;
    for (end, t) in refreshes.iter().enumerate() {
        while *t - refreshes[start] >= Duration::from_secs(1) {
            start += 1;
        }
        busiest = busiest.max(end - start + 1);
    }
    println!(
        "spawned in {:.2} s; rotated at {:.1} s",
        spawned.as_secs_f64(),
        rotated_at.as_secs_f64()
    );
    println!("watchers that restarted their command exactly once: {restarted_once} of {watchers}");
    println!(
        "vault requests per interval: {per_interval:.0} (ideal {ideal:.0}: {:.3}x); 429s: {}",
        per_interval / ideal,
        requests.iter().filter(|r| r.status == 429).count()
    );
    println!(
        "busiest 1 s window: {busiest} requests; mean {mean_per_second:.1}/s ({:.2}x the mean)",
        busiest as f64 / mean_per_second
    );
}
