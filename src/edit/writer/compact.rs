//! Compaction: when the live log is large or old (or on demand, or at shutdown), rotate it
//! and save the changed layers from the current snapshot on another thread, then remove the
//! rotated log (the stored projects are saved every time: one small file). A failed or
//! interrupted compaction loses nothing: the rotated log stays and is replayed, and the layers
//! are saved again next time.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::super::EditError;
use super::{WriterOptions, WriterState};
use crate::model::Layer;
use crate::store::{StoreError, WriteLog};

/// A caller waiting for a compaction.
pub(super) type Waiter = tokio::sync::oneshot::Sender<Result<(), EditError>>;

/// A compaction running on its own thread, with the layers it saves and its callers.
pub(super) struct Compaction {
    layers: BTreeSet<Layer>,
    thread: JoinHandle<Result<(), StoreError>>,
    waiting: Vec<Waiter>,
}

/// What housekeeping knows of the live log.
#[derive(Debug, Clone, Copy)]
struct LogState {
    /// Size of the live log, bytes.
    len: u64,
    /// Whether it holds no record.
    empty: bool,
    /// Whether `writes.log.1` (an unfinished compaction) is still there.
    rotated: bool,
    /// Time since the last compaction started (or the writer did).
    since_compaction: Duration,
}

/// What housekeeping does about compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Nothing now.
    Wait,
    /// Start one in the background.
    Start,
    /// Run one and wait for its end (at shutdown).
    RunToEnd,
}

/// The compaction rule: at shutdown, compact whatever is left (if configured); otherwise start
/// one when none is running and the non-empty log is large or old.
fn decide(options: &WriterOptions, log: &LogState, running: bool, shutting_down: bool) -> Decision {
    let empty = log.empty;
    if shutting_down {
        if options.compact_on_shutdown && (!empty || log.rotated) {
            return Decision::RunToEnd;
        }
        return Decision::Wait;
    }
    let due = !empty
        && (log.len >= options.compact_after_bytes
            || log.since_compaction >= options.compact_interval);
    if due && !running {
        Decision::Start
    } else {
        Decision::Wait
    }
}

impl WriterState {
    /// Finishes a compaction that is done; starts one when the log is large or old.
    pub(super) fn housekeeping(&mut self, shutting_down: bool) {
        if let Some(c) = &self.compaction
            && (c.thread.is_finished() || shutting_down)
        {
            self.finish_compaction();
        }
        if self.poisoned.is_some() {
            return;
        }
        let log = LogState {
            len: self.log.len(),
            empty: self.log.is_empty(),
            rotated: self.log.has_rotated(),
            since_compaction: self.last_compaction.elapsed(),
        };
        match decide(
            &self.options,
            &log,
            self.compaction.is_some(),
            shutting_down,
        ) {
            Decision::Wait => {}
            Decision::Start => self.start_compaction(Vec::new()),
            Decision::RunToEnd => {
                self.start_compaction(Vec::new());
                self.finish_compaction();
            }
        }
    }

    /// `POST /admin/compact`: finishes a running compaction, then runs one to its end.
    pub(super) fn compact_now(&mut self, reply: Option<Waiter>) {
        if self.compaction.is_some() {
            self.finish_compaction();
        }
        self.start_compaction(reply.into_iter().collect());
        self.finish_compaction();
    }

    /// Answers the callers of a compaction that did not start.
    fn compaction_refused(&self, waiting: Vec<Waiter>, answer: impl Fn() -> EditError) {
        self.stats
            .compaction_failures
            .fetch_add(1, Ordering::Relaxed);
        for w in waiting {
            let _ = w.send(Err(answer()));
        }
    }

    /// Rotates the log and saves the changed layers on another thread, from the current
    /// snapshot (which holds every record of the rotated log).
    fn start_compaction(&mut self, waiting: Vec<Waiter>) {
        if let Some(poisoned) = self.poisoned.clone() {
            // The file named writes.log.1 may be the one the records went to: leave it.
            return self.compaction_refused(waiting, || poisoned.answer());
        }
        if self.log.has_rotated()
            && let Err(e) = self.finish_interrupted_compaction()
        {
            tracing::error!(error = %e, "cannot finish the compaction a crash interrupted");
            let no_space = e.is_no_space();
            return self.compaction_refused(waiting, || EditError::Compaction { no_space });
        }
        if let Err(e) = self.log.rotate() {
            let outcome = self.undone_or_stop("rotating the write log for compaction", e);
            return self.compaction_refused(waiting, || match &outcome {
                Ok(no_space) => EditError::Compaction {
                    no_space: *no_space,
                },
                Err(poisoned) => poisoned.answer(),
            });
        }
        self.stats
            .log_bytes
            .store(self.log.len(), Ordering::Relaxed);
        self.last_compaction = Instant::now();
        let layers = std::mem::take(&mut self.dirty);
        let snapshot = self.current.clone();
        let dir = self.dir.clone();
        let to_save = layers.clone();
        let after = self.options.after_compaction.clone();
        let thread = std::thread::spawn(move || {
            for layer in &to_save {
                dir.save_layer(snapshot.layer(*layer))?;
            }
            dir.save_projects(&snapshot.projects)?;
            WriteLog::remove_rotated(dir.path())?;
            if let Some(after) = after.0 {
                after(&snapshot, &to_save.iter().copied().collect::<Vec<_>>());
            }
            Ok(())
        });
        self.compaction = Some(Compaction {
            layers,
            thread,
            waiting,
        });
    }

    /// A crash or a failed save cut a compaction short: `writes.log.1` is still there, and its
    /// records are in the current snapshot (replayed at start-up, or applied before the
    /// rotation). Saving the changed layers from that snapshot makes the layer files hold
    /// them, so the rotated log can go and the live log be rotated in turn. The writer never
    /// appends to `writes.log.1` ([`WriteLog::rotate`] undoes a half rotation), so nothing
    /// acknowledged is lost by removing it.
    fn finish_interrupted_compaction(&mut self) -> Result<(), StoreError> {
        for layer in &self.dirty {
            self.dir.save_layer(self.current.layer(*layer))?;
        }
        self.dir.save_projects(&self.current.projects)?;
        WriteLog::remove_rotated(self.dir.path())
    }

    fn finish_compaction(&mut self) {
        let Some(c) = self.compaction.take() else {
            return;
        };
        let result = c.thread.join().unwrap_or_else(|_| {
            Err(StoreError::Corrupt {
                path: self.dir.path().to_path_buf(),
                reason: "the compaction thread panicked".into(),
            })
        });
        let no_space = match &result {
            Ok(()) => {
                self.stats.compactions.fetch_add(1, Ordering::Relaxed);
                tracing::info!(layers = ?c.layers, "compacted the write log into the layer files");
                None
            }
            Err(e) => {
                // The rotated log stays; the layers will be saved again next time.
                self.stats
                    .compaction_failures
                    .fetch_add(1, Ordering::Relaxed);
                self.dirty.extend(c.layers);
                tracing::error!(error = %e, "compaction failed; the write log is kept");
                Some(e.is_no_space())
            }
        };
        for w in c.waiting {
            let _ = w.send(match no_space {
                None => Ok(()),
                Some(no_space) => Err(EditError::Compaction { no_space }),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(len: u64, rotated: bool, secs: u64) -> LogState {
        LogState {
            len,
            empty: len == 0,
            rotated,
            since_compaction: Duration::from_secs(secs),
        }
    }

    fn options() -> WriterOptions {
        WriterOptions {
            after_compaction: Default::default(),
            compact_after_bytes: 1000,
            compact_interval: Duration::from_secs(60),
            ..WriterOptions::default()
        }
    }

    #[test]
    fn a_large_or_old_log_is_compacted_once_at_a_time() {
        let o = options();
        assert_eq!(
            decide(&o, &log(999, false, 1), false, false),
            Decision::Wait
        );
        assert_eq!(
            decide(&o, &log(1000, false, 1), false, false),
            Decision::Start
        );
        assert_eq!(
            decide(&o, &log(1, false, 60), false, false),
            Decision::Start
        );
        // Not while one runs.
        assert_eq!(
            decide(&o, &log(5000, false, 600), true, false),
            Decision::Wait
        );
    }

    #[test]
    fn an_empty_log_is_never_due_however_old() {
        let o = options();
        assert_eq!(
            decide(&o, &log(0, false, 10_000), false, false),
            Decision::Wait
        );
        // Even with a rotated log left over: that waits for a write or the shutdown.
        assert_eq!(
            decide(&o, &log(0, true, 10_000), false, false),
            Decision::Wait
        );
    }

    #[test]
    fn shutdown_compacts_what_is_left_when_configured() {
        let o = options();
        assert_eq!(
            decide(&o, &log(1, false, 0), false, true),
            Decision::RunToEnd
        );
        assert_eq!(
            decide(&o, &log(0, true, 0), false, true),
            Decision::RunToEnd
        );
        assert_eq!(decide(&o, &log(0, false, 0), false, true), Decision::Wait);
        let keep = WriterOptions {
            compact_on_shutdown: false,
            ..options()
        };
        assert_eq!(
            decide(&keep, &log(5000, true, 0), false, true),
            Decision::Wait
        );
    }
}
