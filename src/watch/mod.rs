//! `kvenv run --watch`: kvenv stays as the command's parent. It starts the
//! command with exactly what exec would have given it, forwards signals,
//! reaps orphans (a correct PID 1), exits with the command's code, and every
//! `--refresh-interval` (±20% jitter) re-fetches the references that name no
//! version; on a new version it restarts the command or, for template-only
//! changes with `--on-change signal:NAME`, rewrites the templates in place and
//! signals it. A failing refresh never touches a healthy command.

mod change;
mod masking;
pub(crate) mod options;
mod refresh;
mod renewal;

pub(crate) use refresh::Network;

use crate::child::{materialize, Files, Given, KeptFile};
use crate::error::Error;
use crate::plan::Plan;
use crate::platform::{asks_to_end, signal_exit_code, Child, ChildEvents, Hardening, Signals};
use crate::resolve::Resolution;
use futures::StreamExt;
use std::time::Duration;

/// What the supervisor needs from `run`.
pub(crate) struct Watched<'a> {
    pub options: &'a options::Options,
    pub plan: &'a Plan<'a>,
    /// The environment, templates, `--token`s (renewed before they are within
    /// five minutes of expiry) and shaping options.
    pub given: &'a Given<'a>,
}

/// Runs the command under supervision until it ends, and gives its exit code
/// (or kvenv's own failure).
pub(crate) fn supervise(
    watched: Watched<'_>,
    resolution: Resolution,
    hardening: Option<Hardening>,
    network: Option<Network>,
    masked: Option<crate::mask::Masked>,
) -> Result<i32, Error> {
    // What the command gets back, read before SIGPIPE is blocked here: kvenv
    // stays alive to supervise, so no write of its own may kill it.
    let inherited = crate::platform::Inherited::now();
    crate::platform::block_sigpipe_in_this_thread();
    if let Some(h) = &hardening {
        h.supervising();
    }
    if watched.options.refresh
        && watched.options.refresh_interval < Duration::from_secs(30)
        && !watched.options.quiet
    {
        crate::output::lines("--refresh-interval below 30s is meant for tests: every refresh costs one request per reference");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Err(Error::internal("cannot start the async runtime", e)),
    };
    let renewals = renewal::Renewals::new(watched.given.tokens);
    let mut supervisor = Supervisor {
        renewals,
        watched,
        current: resolution,
        hardening,
        network,
        child: Child::none(),
        files: Vec::new(),
        inherited,
        output: masking::Output::new(masked),
    };
    let ended = match runtime.block_on(supervisor.run()) {
        Ok(code) => Ok(code),
        Err(e) => {
            // kvenv's own failure ends kvenv, never leaving the command orphaned.
            runtime.block_on(supervisor.end());
            Err(e)
        }
    };
    // What the command wrote last reaches kvenv's output before kvenv ends,
    // and the terminal is put back.
    supervisor.output.drain();
    ended
}

struct Supervisor<'a> {
    watched: Watched<'a>,
    current: Resolution,
    hardening: Option<Hardening>,
    /// The session of the first round, for refreshes; none when there is
    /// nothing to refresh.
    network: Option<Network>,
    child: Child,
    /// The in-memory files the running command reads (templates, `--cert`, `--file`).
    files: Vec<KeptFile>,
    /// The signal state the command is started with.
    inherited: crate::platform::Inherited,
    /// When the `--token`s are due.
    renewals: renewal::Renewals,
    /// `--mask`: the command's output, masked on its way to kvenv's.
    output: masking::Output,
}

impl Supervisor<'_> {
    async fn run(&mut self) -> Result<i32, Error> {
        let mut signals = self
            .inherited
            .forwarded()
            .map_err(|(sig, e)| Error::internal(format!("cannot watch {sig}"), e))?;
        let mut children =
            ChildEvents::listen().map_err(|e| Error::internal("cannot watch SIGCHLD", e))?;
        self.start()?;
        self.sync_tokens();
        let mut watched_refs = match self.watched.options.refresh {
            true => refresh::unpinned(self.watched.plan),
            false => Default::default(),
        };
        if self.watched.options.refresh {
            watched_refs.extend(
                self.watched
                    .given
                    .tokens
                    .iter()
                    .map(|t| crate::reference::Reference::Token(t.token.clone())),
            );
        }
        let interval = self.watched.options.refresh_interval;
        let mut next = Box::pin(tokio::time::sleep(self.next_wait(interval)));
        let mut pending: Option<tokio::sync::oneshot::Receiver<Resolution>> = None;
        // A safety net: SIGCHLD can coalesce, so look for exits now and then too.
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                Some(sig) = signals.next() => {
                    if crate::platform::resizes(sig) {
                        self.output.resize();
                    }
                    self.child.signal(sig)
                }
                _ = children.next() => {
                    if let Some(code) = self.reap() { return Ok(code); }
                }
                _ = tick.tick() => {
                    if let Some(code) = self.reap() { return Ok(code); }
                }
                _ = &mut next, if pending.is_none() && !watched_refs.is_empty() => {
                    self.renewals.round_started();
                    pending = self.network.as_ref().map(|n| n.round(watched_refs.clone()));
                }
                fresh = async { pending.as_mut().expect("guarded").await }, if pending.is_some() => {
                    pending = None;
                    if let Ok(fresh) = fresh {
                        let code = self.apply(fresh, &mut signals, &mut children).await?;
                        self.sync_tokens();
                        if let Some(code) = code {
                            return Ok(code);
                        }
                    }
                    next = Box::pin(tokio::time::sleep(self.next_wait(interval)));
                }
            }
        }
    }

    /// The wait before the next refresh: the jittered interval, or less when
    /// a token is due sooner (see `renewal`).
    fn next_wait(&self, interval: Duration) -> Duration {
        let jittered = refresh::jittered(interval);
        self.renewals
            .wait(interval)
            .map_or(jittered, |due| due.min(jittered))
    }

    /// Takes note of the tokens held now, with a warning for short-lived ones.
    fn sync_tokens(&mut self) {
        let lines = self.renewals.sync(&self.current, self.watched.given.tokens);
        if !self.watched.options.quiet {
            lines.iter().for_each(|line| crate::output::lines(line));
        }
    }

    /// Starts the command with the current values.
    fn start(&mut self) -> Result<(), Error> {
        let w = &self.watched;
        let (env, files) = materialize(w.plan, &self.current, w.given, Files::Shared)?;
        let io = self.output.wire()?;
        self.child = crate::platform::spawn(
            &w.options.command,
            &env,
            w.given.path,
            self.hardening.as_ref(),
            &self.inherited,
            io.as_ref().map(|(child, _)| child),
        )?;
        if let Some((child, ours)) = io {
            // The command holds its ends now; ours would keep its output open.
            drop(child);
            self.output.relay(ours);
        }
        // The previous command's files close only now, after it is gone.
        self.files = files;
        Ok(())
    }

    /// The command's exit code once it has ended (see [`Child::ended`]).
    fn reap(&self) -> Option<i32> {
        self.child.ended()
    }

    /// Ends the command when kvenv must end for a reason of its own: the stop
    /// signal, then SIGKILL after the stop timeout.
    async fn end(&mut self) {
        if !self.child.started() || self.reap().is_some() {
            return;
        }
        self.child.signal(self.watched.options.stop_signal);
        let deadline = tokio::time::Instant::now() + self.watched.options.stop_timeout;
        while self.reap().is_none() {
            if tokio::time::Instant::now() >= deadline {
                self.child.kill();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the command for a restart: the stop signal, then SIGKILL after
    /// the stop timeout. A SIGTERM, SIGINT or SIGQUIT to kvenv meanwhile means
    /// stop everything: `Some(128+N)` once the command is gone.
    async fn stop(&mut self, signals: &mut Signals, children: &mut ChildEvents) -> Option<i32> {
        self.child.signal(self.watched.options.stop_signal);
        let deadline = tokio::time::Instant::now() + self.watched.options.stop_timeout;
        let mut killed = false;
        let mut leaving: Option<i32> = None;
        loop {
            if self.reap().is_some() {
                return leaving;
            }
            tokio::select! {
                _ = children.next() => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = tokio::time::sleep_until(deadline), if !killed => {
                    self.child.kill();
                    killed = true;
                }
                Some(sig) = signals.next() => {
                    if asks_to_end(sig) {
                        leaving = Some(signal_exit_code(sig));
                    }
                    self.child.signal(sig);
                }
            }
        }
    }
}
