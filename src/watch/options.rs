//! The `run --watch` options: durations (`1500ms`, `30s`, `10m`, `1h`, or a
//! bare number of seconds), signal names (`HUP` or `SIGHUP`) and what to do on
//! a change (`restart` or `signal:NAME`).

use crate::platform::Signal;
use std::time::Duration;

/// What `run --watch` was asked for, taken from the flags once.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub command: Vec<std::ffi::OsString>,
    pub refresh_interval: Duration,
    pub on_change: OnChange,
    pub stop_signal: Signal,
    pub stop_timeout: Duration,
    /// `-q`: no notice of kvenv's own.
    pub quiet: bool,
    /// `--watch`: refresh every `refresh_interval` (without it, `--mask`
    /// alone supervises without refreshing).
    pub refresh: bool,
}

/// What a changed value does to the running command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnChange {
    /// Stop it (stop signal, timeout, SIGKILL) and start it again.
    Restart,
    /// Re-render changed templates in place and send this signal; a changed
    /// environment variable still means a restart.
    Signal(Signal),
}

/// `DURATION`: `1500ms`, `30s`, `10m`, `1h` or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || {
        format!(
            "'{}' is not a duration (1500ms, 30s, 10m, 1h, or seconds)",
            crate::error::printable(text)
        )
    };
    let number: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(bad()),
    };
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 7.0 * 86_400.0) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `--refresh-interval`: at least one second.
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_duration(text)?;
    if interval < Duration::from_secs(1) {
        return Err("must be at least 1s".into());
    }
    Ok(interval)
}

/// `HUP`, `SIGHUP`, `hup`.
pub(crate) fn parse_signal(text: &str) -> Result<Signal, String> {
    let upper = text.trim().to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    crate::platform::parse_signal(&name).ok_or_else(|| {
        format!(
            "'{}' is not a signal name (HUP, SIGTERM, USR1, ...)",
            crate::error::printable(text)
        )
    })
}

/// `restart` or `signal:NAME`.
pub(crate) fn parse_on_change(text: &str) -> Result<OnChange, String> {
    match text.trim() {
        "restart" => Ok(OnChange::Restart),
        other => match other.strip_prefix("signal:") {
            Some(_) if !crate::platform::SIGNALS_TO_COMMAND => Err(
                "signal:NAME is not available on Windows, where a console program gets no signal but Ctrl+C and Ctrl+Break; use restart".into(),
            ),
            Some(name) => parse_signal(name).map(OnChange::Signal),
            None => Err(format!(
                "'{}' is not restart or signal:NAME",
                crate::error::printable(other)
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_form() {
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "s", "10x", "-5", "0", "1d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_interval("500ms").is_err());
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
    }

    #[test]
    #[cfg(unix)]
    fn signals_with_or_without_sig() {
        assert_eq!(parse_signal("HUP"), Ok(Signal::SIGHUP));
        assert_eq!(parse_signal("sigterm"), Ok(Signal::SIGTERM));
        assert!(parse_signal("KILL").is_err());
        assert!(parse_signal("NOPE").is_err());
        assert_eq!(
            parse_on_change("signal:USR1"),
            Ok(OnChange::Signal(Signal::SIGUSR1))
        );
        assert_eq!(parse_on_change("restart"), Ok(OnChange::Restart));
        assert!(parse_on_change("reload").is_err());
    }

    /// Windows has no signals to send a command: one line says so.
    #[test]
    #[cfg(windows)]
    fn signal_on_change_is_refused_on_windows() {
        let refused = parse_on_change("signal:HUP").unwrap_err();
        assert!(refused.contains("Windows"), "{refused}");
        assert_eq!(parse_on_change("restart"), Ok(OnChange::Restart));
    }
}
