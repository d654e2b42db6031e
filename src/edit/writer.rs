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

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, TryLockError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::parse::apply_patch;
use super::{Edit, EditError, Precondition, Written, WrittenFeature};
use crate::index::{LayerData, SharedSnapshot, Snapshot};
use crate::ingest::Rejection;
use crate::model::{Access, CONFIDENTIAL_LAYER, Feature, FeatureId, Layer, MAX_FEATURE_ID};
use crate::store::{DataDir, LogError, LogRecord, Op, StoreError, WriteLog};

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
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            queue: 4096,
            max_group: 512,
            compact_after_bytes: 64 << 20,
            compact_interval: Duration::from_secs(600),
            compact_on_shutdown: true,
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

/// A data directory opened for serving: the layers with the log replayed, and the log open for
/// appending. Holds the directory's lock: one process at a time.
#[derive(Debug)]
pub struct Recovery {
    pub dir: DataDir,
    pub snapshot: Snapshot,
    log: WriteLog,
    last_seq: u64,
    dirty: BTreeSet<Layer>,
    lock: File,
    /// Records replayed from the log.
    pub replayed: usize,
    /// Torn tails cut from the log (unacknowledged writes), with the reasons.
    pub cut: Vec<String>,
}

/// Takes a data directory's lock (`DATA/LOCK`): one process at a time (serve, import, log
/// salvage). Held while the file is open.
pub fn lock_dir(dir: &DataDir) -> Result<File, EditError> {
    let lock_path = dir.path().join("LOCK");
    let lock = File::create(&lock_path).map_err(|source| StoreError::Io {
        action: "cannot create",
        path: lock_path.clone(),
        source,
    })?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(TryLockError::WouldBlock) => Err(EditError::InUse(dir.path().display().to_string())),
        Err(TryLockError::Error(source)) => Err(StoreError::Io {
            action: "cannot lock",
            path: lock_path,
            source,
        }
        .into()),
    }
}

/// `terriens log salvage`: with the directory locked, moves every damaged stretch of the write
/// logs aside and keeps their whole records (see [`crate::store::salvage_logs`]).
pub fn salvage_log(dir: &DataDir) -> Result<Vec<String>, EditError> {
    let _lock = lock_dir(dir)?;
    Ok(crate::store::salvage_logs(dir.path())?)
}

/// Opens a data directory: locks it, loads the layer files, replays the write log.
pub fn recover(dir: DataDir) -> Result<Recovery, EditError> {
    let lock = lock_dir(&dir)?;
    let snapshot = dir.load()?;
    let (log, recovered) = WriteLog::open(dir.path())?;
    let last_seq = recovered.records.last().map_or(0, |r| r.seq);
    let replayed = recovered.records.len();
    let ops = recovered.records.into_iter().flat_map(|r| r.ops);
    let (snapshot, dirty) = apply_ops(&snapshot, ops);
    Ok(Recovery {
        dir,
        snapshot,
        log,
        last_seq,
        dirty,
        lock,
        replayed,
        cut: recovered.cut,
    })
}

impl Recovery {
    /// Saves the layers changed by the log and empties the log: for offline tools (`import`)
    /// that write layer files directly.
    pub fn checkpoint(mut self, snapshot: &Snapshot, also: &[Layer]) -> Result<(), EditError> {
        if !self.log.has_rotated() {
            self.log.rotate().map_err(|e| match e {
                LogError::Undone(e) | LogError::Stuck { failed: e, .. } => EditError::Store(e),
            })?;
        }
        for layer in self.dirty.iter().chain(also) {
            self.dir.save_layer(snapshot.layer(*layer))?;
        }
        WriteLog::remove_rotated(self.dir.path())?;
        drop(self.lock);
        Ok(())
    }
}

/// Applies ops in order, as one change per layer. Each op sets a feature to its final state,
/// so the last op on an id decides it: replaying ops a layer file already holds changes
/// nothing.
fn apply_ops(base: &Snapshot, ops: impl IntoIterator<Item = Op>) -> (Snapshot, BTreeSet<Layer>) {
    let mut last: HashMap<(Layer, FeatureId), Option<Feature>> = HashMap::new();
    let mut touched = BTreeSet::new();
    for op in ops {
        touched.insert(op.layer());
        match op {
            Op::Put { layer, feature } => last.insert((layer, feature.id), Some(feature)),
            Op::Delete { layer, id } => last.insert((layer, id), None),
        };
    }
    if touched.is_empty() {
        return (base.clone(), touched);
    }
    let layers: Vec<Arc<LayerData>> = touched
        .iter()
        .map(|&layer| {
            let mut puts = Vec::new();
            let mut deletes = Vec::new();
            for ((l, id), f) in &last {
                if *l != layer {
                    continue;
                }
                match f {
                    Some(f) => puts.push(f.clone()),
                    None => deletes.push(*id),
                }
            }
            Arc::new(base.layer(layer).with_changes(puts, &deletes))
        })
        .collect();
    (base.with_layers(layers), touched)
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
        let state = WriterState {
            dir: recovery.dir,
            log: recovery.log,
            shared,
            current,
            seq: recovery.last_seq,
            next_id,
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
    /// Layers changed since the layer files were last saved.
    dirty: BTreeSet<Layer>,
    poisoned: Option<String>,
    compaction: Option<Compaction>,
    last_compaction: Instant,
    options: WriterOptions,
    stats: Arc<WriterStats>,
    /// Held for the life of the writer.
    _lock: File,
}

/// A caller waiting for a compaction.
type Waiter = tokio::sync::oneshot::Sender<Result<(), EditError>>;

struct Compaction {
    layers: BTreeSet<Layer>,
    thread: JoinHandle<Result<(), StoreError>>,
    waiting: Vec<Waiter>,
}

/// A planned request: the ops to log and the answer to give once durable.
struct Planned {
    ops: Vec<Op>,
    features: Vec<WrittenFeature>,
    layer: Layer,
}

impl WriterState {
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
                    Msg::Compact(reply) => self.compact_now(Some(reply)),
                    Msg::Shutdown => stop = true,
                }
                if !stop && group.len() < self.options.max_group {
                    next = rx.try_recv().ok();
                }
            }
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

    fn commit(&mut self, group: Vec<(Edit, Access, Reply)>) {
        if let Some(reason) = &self.poisoned {
            for (_, _, reply) in group {
                let _ = reply.send(Err(EditError::Stopped(reason.clone())));
            }
            return;
        }
        let mut overlay: HashMap<(Layer, FeatureId), Option<Feature>> = HashMap::new();
        let mut framed = Vec::new();
        let mut accepted = Vec::new();
        let next_id_before = self.next_id;
        let seq_before = self.seq;
        for (edit, access, reply) in group {
            match self.plan(edit, access, &overlay) {
                Ok(p) => {
                    self.seq += 1;
                    LogRecord {
                        seq: self.seq,
                        ops: p.ops.clone(),
                    }
                    .encode(&mut framed);
                    for op in &p.ops {
                        let v = match op {
                            Op::Put { feature, .. } => Some(feature.clone()),
                            Op::Delete { .. } => None,
                        };
                        overlay.insert((op.layer(), op.id()), v);
                    }
                    accepted.push((p, reply));
                }
                Err(e) => {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    let _ = reply.send(Err(e));
                }
            }
        }
        if accepted.is_empty() {
            return;
        }
        if let Err(e) = self.log.append(&framed) {
            self.next_id = next_id_before;
            self.seq = seq_before;
            let outcome = self.undone_or_stop("appending to the write log", e);
            for (_, reply) in accepted {
                let _ = reply.send(Err(match &outcome {
                    Ok(no_space) => EditError::LogWrite {
                        no_space: *no_space,
                    },
                    Err(reason) => EditError::Stopped(reason.clone()),
                }));
            }
            return;
        }
        self.stats
            .log_bytes
            .store(self.log.len(), Ordering::Relaxed);
        self.stats.groups.fetch_add(1, Ordering::Relaxed);
        let ops = overlay.into_iter().map(|((layer, id), f)| match f {
            Some(feature) => Op::Put { layer, feature },
            None => Op::Delete { layer, id },
        });
        let (next, touched) = apply_ops(&self.current, ops);
        self.dirty.extend(touched);
        let next = Arc::new(next);
        self.shared.publish((*next).clone());
        self.current = next;
        let generation = self.current.generation;
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

    /// The feature as the group sees it: earlier members of the group first, then the data.
    fn lookup(
        &self,
        overlay: &HashMap<(Layer, FeatureId), Option<Feature>>,
        layer: Layer,
        id: FeatureId,
    ) -> Option<Feature> {
        if let Some(f) = overlay.get(&(layer, id)) {
            return f.clone();
        }
        let data = self.current.layer(layer);
        data.row_of(id).map(|row| data.feature(row))
    }

    fn new_id(
        &mut self,
        layer: Layer,
        overlay: &HashMap<(Layer, FeatureId), Option<Feature>>,
    ) -> Option<FeatureId> {
        loop {
            let id = self.next_id[layer.index()];
            if id > MAX_FEATURE_ID {
                return None;
            }
            self.next_id[layer.index()] = id + 1;
            if self.lookup(overlay, layer, id).is_none() {
                return Some(id);
            }
        }
    }

    fn plan(
        &mut self,
        edit: Edit,
        access: Access,
        overlay: &HashMap<(Layer, FeatureId), Option<Feature>>,
    ) -> Result<Planned, EditError> {
        // A feature the key may not see is, for that key, absent; but it cannot be overwritten.
        let visible = |f: Option<Feature>, layer: Layer| f.filter(|f| access.sees(layer, f));
        match edit {
            Edit::Create { layer, features } => {
                let mut ops = Vec::with_capacity(features.len());
                let mut written = Vec::with_capacity(features.len());
                let mut explicit = Vec::new();
                if features.iter().any(|nf| nf.id.is_some()) && !chooses_ids(access, layer) {
                    return Err(EditError::IdsNeedPartners { layer });
                }
                for nf in &features {
                    if let Some(id) = nf.id {
                        if self.lookup(overlay, layer, id).is_some() {
                            return Err(EditError::Exists { layer, id });
                        }
                        explicit.push(id);
                    }
                }
                for id in &explicit {
                    let slot = &mut self.next_id[layer.index()];
                    *slot = (*slot).max(id.saturating_add(1));
                }
                for nf in features {
                    let id = match nf.id {
                        Some(id) => id,
                        None => self
                            .new_id(layer, overlay)
                            .ok_or_else(|| EditError::Rejected {
                                rejected: vec![Rejection {
                                    index: written.len(),
                                    reason: crate::ingest::Reject::BadId(
                                        "no free id left below 2^53".into(),
                                    ),
                                }],
                                total: written.len() + 1,
                            })?,
                    };
                    let mut feature = nf.feature;
                    feature.id = id;
                    feature.version = 1;
                    written.push(WrittenFeature {
                        id,
                        version: 1,
                        created: true,
                    });
                    ops.push(Op::Put { layer, feature });
                }
                Ok(Planned {
                    ops,
                    features: written,
                    layer,
                })
            }
            Edit::Replace {
                layer,
                id,
                feature,
                precondition,
            } => {
                let raw_current = self.lookup(overlay, layer, id);
                let seen = visible(raw_current.clone(), layer);
                // An id the caller cannot see is absent for it; it creates under an absent id
                // only where it may choose ids, so a free id and a hidden one answer alike.
                if seen.is_none() && (raw_current.is_some() || !chooses_ids(access, layer)) {
                    return Err(EditError::NotFound { layer, id });
                }
                let current = seen.map(|f| f.version);
                check(&precondition, layer, id, current)?;
                let mut f = feature.feature;
                f.id = id;
                f.version = current.map_or(1, |v| v + 1);
                let w = WrittenFeature {
                    id,
                    version: f.version,
                    created: current.is_none(),
                };
                if current.is_none() {
                    let slot = &mut self.next_id[layer.index()];
                    *slot = (*slot).max(id.saturating_add(1));
                }
                Ok(Planned {
                    ops: vec![Op::Put { layer, feature: f }],
                    features: vec![w],
                    layer,
                })
            }
            Edit::Patch {
                layer,
                id,
                patch,
                precondition,
            } => {
                let current = visible(self.lookup(overlay, layer, id), layer);
                check(
                    &precondition,
                    layer,
                    id,
                    current.as_ref().map(|f| f.version),
                )?;
                let current = current.ok_or(EditError::NotFound { layer, id })?;
                let mut f =
                    apply_patch(layer, &current, &patch).map_err(|reason| EditError::Rejected {
                        rejected: vec![Rejection { index: 0, reason }],
                        total: 1,
                    })?;
                f.version = current.version + 1;
                let w = WrittenFeature {
                    id,
                    version: f.version,
                    created: false,
                };
                Ok(Planned {
                    ops: vec![Op::Put { layer, feature: f }],
                    features: vec![w],
                    layer,
                })
            }
            Edit::Delete {
                layer,
                id,
                precondition,
            } => {
                let current = visible(self.lookup(overlay, layer, id), layer);
                check(
                    &precondition,
                    layer,
                    id,
                    current.as_ref().map(|f| f.version),
                )?;
                let current = current.ok_or(EditError::NotFound { layer, id })?;
                Ok(Planned {
                    ops: vec![Op::Delete { layer, id }],
                    features: vec![WrittenFeature {
                        id,
                        version: current.version,
                        created: false,
                    }],
                    layer,
                })
            }
        }
    }

    /// Finishes a compaction that is done; starts one when the log is large or old.
    fn housekeeping(&mut self, shutting_down: bool) {
        if let Some(c) = &self.compaction
            && (c.thread.is_finished() || shutting_down)
        {
            self.finish_compaction();
        }
        if self.poisoned.is_some() {
            return;
        }
        let due = !self.log.is_empty()
            && (self.log.len() >= self.options.compact_after_bytes
                || self.last_compaction.elapsed() >= self.options.compact_interval);
        if shutting_down {
            if self.options.compact_on_shutdown && (!self.log.is_empty() || self.log.has_rotated())
            {
                self.start_compaction(Vec::new());
                self.finish_compaction();
            }
        } else if due && self.compaction.is_none() {
            self.start_compaction(Vec::new());
        }
    }

    fn compact_now(&mut self, reply: Option<Waiter>) {
        if self.compaction.is_some() {
            self.finish_compaction();
        }
        self.start_compaction(reply.into_iter().collect());
        self.finish_compaction();
    }

    /// After a failed append or rotation: `Ok(no space)` when the log is back as it was (the
    /// writer goes on), or the reason the writer now stops, when it could not be restored.
    fn undone_or_stop(&mut self, what: &str, e: LogError) -> Result<bool, String> {
        match e {
            LogError::Undone(cause) => {
                tracing::error!(error = %cause, "{what} failed; the write log is back at its last good end, writes go on");
                Ok(cause.is_no_space())
            }
            stuck @ LogError::Stuck { .. } => {
                tracing::error!(error = %stuck, "{what} failed and the write log could not be restored; refusing writes until restart");
                let reason = format!(
                    "{what} failed and the write log could not be restored; an operator must \
                     restart the server (the cause is logged)"
                );
                self.poisoned = Some(reason.clone());
                self.stats.poisoned.store(true, Ordering::Relaxed);
                Err(reason)
            }
        }
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
        if let Some(reason) = self.poisoned.clone() {
            // The file named writes.log.1 may be the one the records went to: leave it.
            return self.compaction_refused(waiting, || EditError::Stopped(reason.clone()));
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
                Err(reason) => EditError::Stopped(reason.clone()),
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
        let thread = std::thread::spawn(move || {
            for layer in &to_save {
                dir.save_layer(snapshot.layer(*layer))?;
            }
            WriteLog::remove_rotated(dir.path())
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

/// The one rule on ids for callers that cannot see every row: on a layer that can hold rows
/// hidden from the caller (confidential waste deposits, for a key without the partners right),
/// the caller may not choose ids, neither by `POST` with an `id` (refused whatever the id) nor
/// by `PUT` on an id it does not see (404, whether the id is free or held by a hidden row). So
/// a hidden row's id answers exactly as a free id does, and is never overwritten. Elsewhere
/// the caller sees every row and chooses ids freely.
fn chooses_ids(access: Access, layer: Layer) -> bool {
    access.partners() || layer != CONFIDENTIAL_LAYER
}

fn check(
    pre: &Precondition,
    layer: Layer,
    id: FeatureId,
    current: Option<u64>,
) -> Result<(), EditError> {
    if pre.holds(current) {
        return Ok(());
    }
    let expected = match pre {
        Precondition::None => "nothing".to_string(),
        Precondition::Exists => "any version (*)".to_string(),
        Precondition::Versions(vs) => vs
            .iter()
            .map(|v| format!("\"{v}\""))
            .collect::<Vec<_>>()
            .join(", "),
    };
    Err(EditError::Stale {
        layer,
        id,
        current,
        expected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::{parse_features, parse_replacement};
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

    #[test]
    fn ids_are_chosen_freely_where_nothing_is_hidden() {
        let plain = Access::key(Role::Editor, false);
        assert!(!chooses_ids(plain, CONFIDENTIAL_LAYER));
        assert!(chooses_ids(
            Access::key(Role::Editor, true),
            CONFIDENTIAL_LAYER
        ));
        assert!(chooses_ids(
            Access::key(Role::Admin, false),
            CONFIDENTIAL_LAYER
        ));
        for layer in Layer::ALL.into_iter().filter(|l| *l != CONFIDENTIAL_LAYER) {
            assert!(chooses_ids(plain, layer), "{layer}");
        }
    }
}
