//! The single writer: one thread applies every write in order.
//!
//! Loop: wait for a request → take every request already queued behind it (a group) → check
//! each against the current data plus the earlier members of the group → append one log
//! record per accepted request and fsync once for the group → build the touched layers →
//! publish the new snapshot → answer. Requests that arrive during an fsync or a rebuild form
//! the next group, so acknowledged writes per second grow with the number of writers instead of
//! being capped at one fsync each.
//!
//! After an I/O error on the log the writer stops accepting writes (503) until restarted:
//! appending after a failed append could leave a hole in the log that replay would stop at.
//!
//! The jobs live apart: [`recovery`] opens a data directory and replays its log, [`plan`]
//! checks one request and turns it into ops, [`compact`] folds the log into the layer files.

mod compact;
mod pg;
mod plan;
mod recovery;

use std::collections::BTreeSet;
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Edit, EditError, Written};
use crate::index::{SharedSnapshot, Snapshot};
use crate::model::{Access, FeatureId, Layer, ProjectId};
use crate::store::{DataDir, LogError, LogRecord, Op, WriteLog};
use compact::{Compaction, Waiter};
pub use pg::{FeedStatus, Replica, SourceOptions, load_replica};
pub use plan::chooses_ids;
use plan::{Overlay, Planned, Planner, ProjectOverlay};
use recovery::apply_ops;
pub use recovery::{Recovery, lock_dir, recover, salvage_log};

/// Tuning of the writer.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Requests that may wait for the writer; beyond, writes answer 503 (busy).
    pub queue: usize,
    /// Most requests in one group commit.
    pub max_group: usize,
    /// Compact when the live log reaches this size.
    pub compact_after_bytes: u64,
    /// Compact a non-empty log at least this often.
    pub compact_interval: Duration,
    /// Compact on shutdown, so the next start replays nothing.
    pub compact_on_shutdown: bool,
    /// Called on the compaction thread once the layer files hold the log's records, with the
    /// snapshot they were saved from and the layers saved (the server rewrites the derived files
    /// of those layers there).
    pub after_compaction: AfterCompaction,
}

/// A callback run after each successful compaction (see [`WriterOptions::after_compaction`]).
#[derive(Clone, Default)]
pub struct AfterCompaction(pub Option<Arc<AfterCompactionFn>>);

/// The callback of [`AfterCompaction`]: the snapshot saved and the layers saved.
pub type AfterCompactionFn = dyn Fn(&Snapshot, &[Layer]) + Send + Sync;

impl std::fmt::Debug for AfterCompaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "AfterCompaction(set)"
        } else {
            "AfterCompaction(none)"
        })
    }
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            queue: 4096,
            max_group: 512,
            compact_after_bytes: 64 << 20,
            compact_interval: Duration::from_secs(600),
            compact_on_shutdown: true,
            after_compaction: AfterCompaction::default(),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Size of the live write log, bytes.
    pub log_bytes: AtomicU64,
    /// Acknowledged write requests.
    pub writes: AtomicU64,
    /// Features written (put or deleted) by acknowledged requests.
    pub features: AtomicU64,
    /// Group commits (fsyncs of the log).
    pub groups: AtomicU64,
    /// Refused requests (validation against current data, versions).
    pub refused: AtomicU64,
    pub compactions: AtomicU64,
    pub compaction_failures: AtomicU64,
    /// Set after a log I/O error: writes are refused until restart.
    pub poisoned: AtomicBool,
}

type Reply = tokio::sync::oneshot::Sender<Result<Written, EditError>>;

enum Msg {
    Write {
        edit: Box<Edit>,
        access: Access,
        reply: Reply,
    },
    Compact(Waiter),
    Shutdown,
}

/// Handle to the writer thread. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Writer {
    tx: SyncSender<Msg>,
    queue: usize,
    stats: Arc<WriterStats>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the writer over a recovered directory, publishing to `shared` (which must hold
    /// `recovery.snapshot`).
    pub fn start(
        recovery: Recovery,
        shared: Arc<SharedSnapshot>,
        options: WriterOptions,
    ) -> Result<Writer, EditError> {
        let (tx, rx) = sync_channel(options.queue.max(1));
        let stats = Arc::new(WriterStats::default());
        stats.log_bytes.store(recovery.log.len(), Ordering::Relaxed);
        let current = shared.load();
        let next_id = Layer::ALL.map(|l| {
            current
                .layer(l)
                .ids()
                .iter()
                .max()
                .map_or(1, |m| m.saturating_add(1))
        });
        let next_project = current
            .projects
            .get_max()
            .map_or(1, |(id, _)| id.saturating_add(1));
        let state = WriterState {
            dir: recovery.dir,
            log: recovery.log,
            shared,
            current,
            seq: recovery.last_seq,
            next_id,
            next_project,
            dirty: recovery.dirty,
            poisoned: None,
            compaction: None,
            last_compaction: Instant::now(),
            options: options.clone(),
            stats: stats.clone(),
            _lock: recovery.lock,
        };
        let thread = std::thread::Builder::new()
            .name("terriens-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| EditError::Stopped(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer {
            tx,
            queue: options.queue,
            stats,
            thread: Mutex::new(Some(thread)),
        })
    }

    pub fn stats(&self) -> &Arc<WriterStats> {
        &self.stats
    }

    /// Queues a write and waits until it is durable and visible (or refused).
    pub async fn submit(&self, edit: Edit, access: Access) -> Result<Written, EditError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        match self.tx.try_send(Msg::Write {
            edit: Box::new(edit),
            access,
            reply,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(EditError::Busy(self.queue)),
            Err(TrySendError::Disconnected(_)) => {
                return Err(EditError::Stopped("shutting down".into()));
            }
        }
        rx.await
            .unwrap_or_else(|_| Err(EditError::Stopped("shutting down".into())))
    }

    /// Compacts now: saves the changed layers and empties the log; waits until done.
    pub async fn compact(&self) -> Result<(), EditError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .try_send(Msg::Compact(reply))
            .map_err(|_| EditError::Busy(self.queue))?;
        rx.await
            .unwrap_or_else(|_| Err(EditError::Stopped("shutting down".into())))
    }

    /// Stops the writer after the writes already queued, flushes the log (and compacts if
    /// configured). Blocks; idempotent.
    pub fn shutdown(&self) {
        let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) else {
            return;
        };
        let _ = self.tx.send(Msg::Shutdown);
        if thread.join().is_err() {
            tracing::error!("the writer thread panicked");
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct WriterState {
    dir: DataDir,
    log: WriteLog,
    shared: Arc<SharedSnapshot>,
    /// The last published snapshot.
    current: Arc<Snapshot>,
    seq: u64,
    next_id: [FeatureId; 5],
    next_project: ProjectId,
    /// Layers changed since the layer files were last saved.
    dirty: BTreeSet<Layer>,
    poisoned: Option<Poisoned>,
    compaction: Option<Compaction>,
    last_compaction: Instant,
    options: WriterOptions,
    stats: Arc<WriterStats>,
    /// Held for the life of the writer.
    _lock: File,
}

/// Why the writer stopped for good: a failed append or rotation left the log in a state it
/// could not restore, so no further write may be appended until restart.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
struct Poisoned {
    reason: String,
}

impl Poisoned {
    /// The answer to a write that arrives after the writer stopped.
    fn answer(&self) -> EditError {
        EditError::Stopped(self.reason.clone())
    }
}

/// A group planned: the framed log records of the accepted requests, what they do to each
/// feature, and their callers with the answers to give once durable.
struct PlannedGroup {
    framed: Vec<u8>,
    overlay: Overlay,
    projects: ProjectOverlay,
    accepted: Vec<(Planned, Reply)>,
}

impl WriterState {
    /// The writer loop: wait for a request, take the group behind it, commit, keep house.
    fn run(mut self, rx: Receiver<Msg>) {
        loop {
            let first = match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    self.housekeeping(false);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let max_group = self.options.max_group;
            let (group, stop) = gather(first, &rx, max_group, |w| self.compact_now(Some(w)));
            if !group.is_empty() {
                self.commit(group);
            }
            if stop {
                break;
            }
            self.housekeeping(false);
        }
        self.housekeeping(true);
        if let Err(e) = self.log.sync() {
            tracing::error!(error = %e, "cannot fsync the write log at shutdown");
        }
        tracing::info!("writer stopped; write log flushed");
    }

    /// One group commit: plan each request → append their records with one fsync → build
    /// and publish the touched layers → answer.
    fn commit(&mut self, group: Vec<(Edit, Access, Reply)>) {
        if let Some(poisoned) = &self.poisoned {
            for (_, _, reply) in group {
                let _ = reply.send(Err(poisoned.answer()));
            }
            return;
        }
        let next_id_before = self.next_id;
        let next_project_before = self.next_project;
        let seq_before = self.seq;
        let planned = self.plan_group(group);
        if planned.accepted.is_empty() {
            return;
        }
        if let Err(e) = self.log.append(&planned.framed) {
            self.next_id = next_id_before;
            self.next_project = next_project_before;
            self.seq = seq_before;
            let outcome = self.undone_or_stop("appending to the write log", e);
            for (_, reply) in planned.accepted {
                let _ = reply.send(Err(match &outcome {
                    Ok(no_space) => EditError::LogWrite {
                        no_space: *no_space,
                    },
                    Err(poisoned) => poisoned.answer(),
                }));
            }
            return;
        }
        self.stats
            .log_bytes
            .store(self.log.len(), Ordering::Relaxed);
        self.stats.groups.fetch_add(1, Ordering::Relaxed);
        let generation = self.publish(planned.overlay, planned.projects);
        self.answer(planned.accepted, generation);
    }

    /// Plans each request of the group against the data plus the earlier accepted members,
    /// numbering and framing the accepted ones; refused ones are answered at once.
    fn plan_group(&mut self, group: Vec<(Edit, Access, Reply)>) -> PlannedGroup {
        let mut planned = PlannedGroup {
            framed: Vec::new(),
            overlay: Overlay::new(),
            projects: ProjectOverlay::new(),
            accepted: Vec::new(),
        };
        for (edit, access, reply) in group {
            let plan = Planner {
                current: &self.current,
                overlay: &planned.overlay,
                next_id: &mut self.next_id,
                projects: &planned.projects,
                next_project: &mut self.next_project,
                access,
                follow_explicit_ids: true,
            }
            .plan(edit);
            match plan {
                Ok(p) => {
                    self.seq += 1;
                    LogRecord {
                        seq: self.seq,
                        ops: p.ops.clone(),
                    }
                    .encode(&mut planned.framed);
                    overlay_ops(&p.ops, &mut planned.overlay, &mut planned.projects);
                    planned.accepted.push((p, reply));
                }
                Err(e) => {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    let _ = reply.send(Err(e));
                }
            }
        }
        planned
    }

    /// Builds the layers the group touched and publishes the new snapshot; its generation.
    fn publish(&mut self, overlay: Overlay, projects: ProjectOverlay) -> u64 {
        let ops = overlay
            .into_iter()
            .map(|((layer, id), f)| match f {
                Some(feature) => Op::Put { layer, feature },
                None => Op::Delete { layer, id },
            })
            .chain(projects.into_iter().map(|(id, p)| match p {
                Some(project) => Op::PutProject { project },
                None => Op::DeleteProject { id },
            }));
        let (next, touched) = apply_ops(&self.current, ops);
        self.dirty.extend(touched);
        let next = Arc::new(next);
        self.shared.publish((*next).clone());
        self.current = next;
        self.current.generation
    }

    /// Answers the callers of a durable, published group.
    fn answer(&self, accepted: Vec<(Planned, Reply)>, generation: u64) {
        for (p, reply) in accepted {
            self.stats.writes.fetch_add(1, Ordering::Relaxed);
            self.stats
                .features
                .fetch_add(p.features.len() as u64, Ordering::Relaxed);
            let _ = reply.send(Ok(Written {
                layer: p.layer,
                features: p.features,
                generation,
            }));
        }
    }

    /// After a failed append or rotation: `Ok(no space)` when the log is back as it was (the
    /// writer goes on), or why the writer now stops, when it could not be restored.
    fn undone_or_stop(&mut self, what: &str, e: LogError) -> Result<bool, Poisoned> {
        match e {
            LogError::Undone(cause) => {
                tracing::error!(error = %cause, "{what} failed; the write log is back at its last good end, writes go on");
                Ok(cause.is_no_space())
            }
            stuck @ LogError::Stuck { .. } => {
                tracing::error!(error = %stuck, "{what} failed and the write log could not be restored; refusing writes until restart");
                let poisoned = Poisoned {
                    reason: format!(
                        "{what} failed and the write log could not be restored; an operator \
                         must restart the server (the cause is logged)"
                    ),
                };
                self.poisoned = Some(poisoned.clone());
                self.stats.poisoned.store(true, Ordering::Relaxed);
                Err(poisoned)
            }
        }
    }
}

/// Takes the writes already queued behind `first` (at most `max_group`), handing the
/// compactions asked for on the way to `compact`; and whether a shutdown was asked for.
fn gather(
    first: Msg,
    rx: &Receiver<Msg>,
    max_group: usize,
    mut compact: impl FnMut(Waiter),
) -> (Vec<(Edit, Access, Reply)>, bool) {
    let mut group = Vec::new();
    let mut stop = false;
    let mut next = Some(first);
    while let Some(msg) = next.take() {
        match msg {
            Msg::Write {
                edit,
                access,
                reply,
            } => group.push((*edit, access, reply)),
            Msg::Compact(reply) => compact(reply),
            Msg::Shutdown => stop = true,
        }
        if !stop && group.len() < max_group {
            next = rx.try_recv().ok();
        }
    }
    (group, stop)
}

/// Records what a planned request does to each feature and project, for the later members
/// of its group.
fn overlay_ops(ops: &[Op], overlay: &mut Overlay, projects: &mut ProjectOverlay) {
    for op in ops {
        match op {
            Op::Put { layer, feature } => {
                overlay.insert((*layer, feature.id), Some(feature.clone()));
            }
            Op::Delete { layer, id } => {
                overlay.insert((*layer, *id), None);
            }
            Op::PutProject { project } => {
                projects.insert(project.id, Some(project.clone()));
            }
            Op::DeleteProject { id } => {
                projects.insert(*id, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::{Precondition, parse_features, parse_replacement};
    use crate::model::Role;

    fn body(id: Option<u64>, confidential: bool) -> Vec<u8> {
        let mut f = serde_json::json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [0.1, 49.4]},
            "properties": {"material": "wood", "quantity": 4.0, "holder": "Scierie",
                "confidentiality": if confidential { "partners" } else { "public" }},
        });
        if let Some(id) = id {
            f["id"] = serde_json::json!(id);
        }
        serde_json::to_vec(&f).unwrap()
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        writer: Writer,
        rt: tokio::runtime::Runtime,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let rec = recover(DataDir::open(dir.path()).unwrap()).unwrap();
            let shared = Arc::new(SharedSnapshot::new(rec.snapshot.clone()));
            let writer = Writer::start(rec, shared, WriterOptions::default()).unwrap();
            let rt = tokio::runtime::Runtime::new().unwrap();
            Fixture {
                _dir: dir,
                writer,
                rt,
            }
        }

        fn create(
            &self,
            id: Option<u64>,
            confidential: bool,
            access: Access,
        ) -> Result<Written, EditError> {
            let layer = Layer::WasteDeposits;
            let features = parse_features(layer, &body(id, confidential), 10).unwrap();
            self.rt
                .block_on(self.writer.submit(Edit::Create { layer, features }, access))
        }

        fn replace(&self, id: u64, access: Access) -> Result<Written, EditError> {
            let layer = Layer::WasteDeposits;
            let feature = parse_replacement(layer, id, &body(None, false)).unwrap();
            let edit = Edit::Replace {
                layer,
                id,
                feature,
                precondition: Precondition::None,
            };
            self.rt.block_on(self.writer.submit(edit, access))
        }
    }

    fn kind(r: &Result<Written, EditError>) -> String {
        match r {
            Ok(w) => format!("ok created={}", w.features[0].created),
            Err(e) => format!("{:?}", std::mem::discriminant(e)),
        }
    }

    #[test]
    fn a_hidden_id_answers_as_a_free_one() {
        let fx = Fixture::new();
        let partner = Access::key(Role::Editor, true);
        let plain = Access::key(Role::Editor, false);
        fx.create(Some(40), true, partner).unwrap();
        // POST with an id: refused alike, whether the id is held by a hidden row or free.
        let (held, free) = (
            fx.create(Some(40), false, plain),
            fx.create(Some(41), false, plain),
        );
        assert!(
            matches!(held, Err(EditError::IdsNeedPartners { .. })),
            "{held:?}"
        );
        assert_eq!(kind(&held), kind(&free));
        // PUT on an id it cannot see: 404 alike; the hidden row is not overwritten.
        let (held, free) = (fx.replace(40, plain), fx.replace(41, plain));
        assert!(matches!(held, Err(EditError::NotFound { .. })), "{held:?}");
        assert_eq!(kind(&held), kind(&free));
        // Without an id, and for the partners key, writing goes on as before.
        assert!(fx.create(None, false, plain).is_ok());
        assert_eq!(kind(&fx.replace(99, partner)), "ok created=true");
        assert_eq!(kind(&fx.replace(40, partner)), "ok created=false");
        assert!(matches!(
            fx.create(Some(40), false, partner),
            Err(EditError::Exists { .. })
        ));
    }
}
