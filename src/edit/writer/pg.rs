//! A replica of a PostgreSQL/PostGIS database (`terriens serve --source postgresql://…`):
//! the feed follower, which applies every committed change through the same O(change) path as
//! local writes, and the writer, whose group commits are PostgreSQL transactions.
//!
//! **Follower** (one thread): reads the change feed in commit order (`store::pg::poll`),
//! re-reads the rows it names, applies them with [`apply_ops`] (copy-on-write layers, so
//! readers never wait) and publishes the new snapshot. It is the only publisher: local writes
//! become visible the same way as everyone else's, so a replica never shows a state the
//! database did not hold.
//!
//! **Writer** (one thread, the same loop as the embedded writer's): plans each request of a
//! group against the replica's data (validation, keys, visibility and `If-Match` exactly as
//! embedded), writes the group in one transaction (a savepoint per request), commits, and
//! hands each caller's answer to the follower, which sends it once it has applied the
//! transaction (read-your-writes: the replica that answered shows the write). A request whose
//! rows changed meanwhile (another replica, another tool) is planned again once the replica
//! has caught up with the database, so concurrent writers behave as if serial. If the database
//! is unreachable the write answers 503 with `Retry-After`; nothing unacknowledged is kept
//! back as acknowledged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::plan::{Overlay, Planned, Planner, ProjectOverlay};
use super::recovery::apply_ops;
use super::{Msg, Reply, Writer, WriterOptions, WriterStats, gather, overlay_ops};
use crate::edit::{Edit, EditError, Written};
use crate::index::{SharedSnapshot, Snapshot};
use crate::model::{Access, FeatureId, Layer, ProjectId};
use crate::store::Op;
use crate::store::pg::{self, Cursor, PgError, RowWrite};

/// Settings of a replica.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// `postgresql://…`
    pub url: String,
    /// How often the feed is read when nothing pokes it (a local commit does).
    pub poll: Duration,
    /// Changes older than this are pruned from the change table; a replica cut off from the
    /// database for longer than half of it reloads everything when it is back.
    pub keep_changes: Duration,
    /// Lag beyond which `/health` and reads answer 503 (`None`: reads are always served).
    pub max_lag: Option<Duration>,
}

impl SourceOptions {
    pub fn new(url: impl Into<String>) -> SourceOptions {
        SourceOptions {
            url: url.into(),
            poll: Duration::from_millis(25),
            keep_changes: Duration::from_secs(86_400),
            max_lag: None,
        }
    }
}

/// What the follower has done, for `/health`, `/metrics` and the writer's acks.
#[derive(Debug, Default)]
pub struct FeedStatus {
    /// Changes (rows) applied since start.
    pub applied: AtomicU64,
    /// Connections re-established after a loss.
    pub reconnects: AtomicU64,
    /// Rows refused by validation (written by another tool), left as the replica held them.
    pub rejected_rows: AtomicU64,
    /// Age of the oldest change not yet applied, milliseconds (0 when caught up).
    pub lag_ms: AtomicU64,
    /// Whether the last read of the feed found it drained.
    pub caught_up: AtomicBool,
    /// Whether the follower's connection is up.
    pub connected: AtomicBool,
    /// Full reloads after a long cut-off.
    pub reloads: AtomicU64,
    /// Every transaction below this id is applied (see [`store::pg::Batch::applied_below`]).
    applied_below: Mutex<i64>,
    moved: Condvar,
    /// Answers waiting for the follower to apply their transaction.
    pending: Mutex<Vec<Pending>>,
    max_lag_ms: AtomicU64,
}

impl FeedStatus {
    /// The lag a caller sees: the feed's, or the time since the follower last reached the
    /// database when it is cut off.
    pub fn lag(&self) -> Duration {
        Duration::from_millis(self.lag_ms.load(Ordering::Relaxed))
    }

    /// `ready` or `catching_up`.
    pub fn state(&self) -> &'static str {
        if self.caught_up.load(Ordering::Relaxed) && self.connected.load(Ordering::Relaxed) {
            "ready"
        } else {
            "catching_up"
        }
    }

    /// The configured `max_lag` (zero: none).
    pub fn max_lag(&self) -> Duration {
        Duration::from_millis(self.max_lag_ms.load(Ordering::Relaxed))
    }

    /// Whether reads should answer 503 (configured `max_lag` exceeded).
    pub fn too_far_behind(&self) -> bool {
        let max = self.max_lag_ms.load(Ordering::Relaxed);
        max > 0 && self.lag_ms.load(Ordering::Relaxed) > max
    }

    fn advance(&self, below: i64) {
        let mut b = self.applied_below.lock().unwrap_or_else(|e| e.into_inner());
        if below > *b {
            *b = below;
            self.moved.notify_all();
        }
    }

    /// Waits until everything below `target` is applied, or `timeout`; whether it was.
    fn wait_below(&self, target: i64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut b = self.applied_below.lock().unwrap_or_else(|e| e.into_inner());
        while *b < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            b = self
                .moved
                .wait_timeout(b, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// An answer waiting for its transaction to be applied.
struct Pending {
    xid: i64,
    reply: Reply,
    planned: Planned,
    at: Instant,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("xid", &self.xid).finish()
    }
}

/// A replica's loaded data and where its feed starts.
pub struct Replica {
    pub snapshot: Snapshot,
    cursor: Cursor,
    horizon: i64,
}

/// Loads every layer and project from the database (`progress` after each layer); rows that
/// fail validation are logged and left out.
pub fn load_replica(url: &str, progress: &(dyn Fn(Layer) + Sync)) -> Result<Replica, PgError> {
    let rt = runtime();
    rt.block_on(async {
        let mut client = pg::connect(url).await?;
        pg::check_schema(&client).await?;
        let loaded = pg::load(&mut client, progress).await?;
        for bad in &loaded.bad {
            tracing::warn!(layer = ?bad.layer, id = bad.id, reason = %bad.reason, "row refused by validation: left out");
        }
        Ok(Replica {
            snapshot: loaded.snapshot,
            cursor: loaded.cursor,
            horizon: loaded.horizon,
        })
    })
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a tokio runtime: {e}"),
    }
}

impl Writer {
    /// Starts a replica's follower and writer over `replica`'s data, publishing to `shared`
    /// (which must hold `replica.snapshot`). The feed status is shared with `/health`.
    pub fn start_replica(
        replica: Replica,
        shared: Arc<SharedSnapshot>,
        source: SourceOptions,
        options: WriterOptions,
    ) -> Result<(Writer, Arc<FeedStatus>), EditError> {
        let feed = Arc::new(FeedStatus::default());
        feed.connected.store(true, Ordering::Relaxed);
        feed.advance(replica.horizon);
        feed.max_lag_ms.store(
            source.max_lag.map_or(0, |d| d.as_millis().max(1) as u64),
            Ordering::Relaxed,
        );
        let (poke_tx, poke_rx) = sync_channel::<()>(1);
        let stats = Arc::new(WriterStats::default());
        let follower = Follower {
            stats: stats.clone(),
            source: source.clone(),
            shared: shared.clone(),
            feed: feed.clone(),
            cursor: replica.cursor,
        };
        std::thread::Builder::new()
            .name("terriens-follower".into())
            .spawn(move || follower.run(poke_rx))
            .map_err(|e| EditError::Stopped(format!("cannot start the follower thread: {e}")))?;
        let (tx, rx) = sync_channel(options.queue.max(1));
        let state = PgWriter {
            url: source.url.clone(),
            rt: runtime(),
            client: None,
            shared,
            feed: feed.clone(),
            poke: poke_tx,
            next_id: [0; 5],
            id_end: [0; 5],
            next_project: 0,
            project_end: 0,
            options: options.clone(),
            stats: stats.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("terriens-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| EditError::Stopped(format!("cannot start the writer thread: {e}")))?;
        Ok((
            Writer {
                tx,
                queue: options.queue,
                stats,
                thread: Mutex::new(Some(thread)),
            },
            feed,
        ))
    }
}

/// How many times a request whose rows changed under it is planned again.
const ATTEMPTS: usize = 5;

struct PgWriter {
    url: String,
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    shared: Arc<SharedSnapshot>,
    feed: Arc<FeedStatus>,
    poke: SyncSender<()>,
    /// Ids of the block taken from each layer's sequence: `[next_id, id_end)`.
    next_id: [FeatureId; 5],
    id_end: [FeatureId; 5],
    next_project: ProjectId,
    project_end: ProjectId,
    options: WriterOptions,
    stats: Arc<WriterStats>,
}

/// A request planned for this round, kept whole to be planned again after a conflict.
struct Accepted {
    planned: Planned,
    edit: Edit,
    access: Access,
    reply: Reply,
}

impl PgWriter {
    fn run(mut self, rx: Receiver<Msg>) {
        loop {
            let first = match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // Nothing to compact: the database holds the data.
            let (group, stop) = gather(first, &rx, self.options.max_group, |waiter| {
                let _ = waiter.send(Ok(()));
            });
            if !group.is_empty() {
                self.commit(group);
            }
            if stop {
                break;
            }
        }
        tracing::info!("replica writer stopped");
    }

    /// One group: plan, write in one transaction, hand the answers to the follower; requests
    /// that met a changed row go round again after the replica caught up.
    fn commit(&mut self, group: Vec<(Edit, Access, Reply)>) {
        let mut round = group;
        for attempt in 0..ATTEMPTS {
            if round.is_empty() {
                return;
            }
            if attempt > 0 && !self.catch_up() {
                for (_, _, reply) in round {
                    let _ = reply.send(Err(EditError::SourceUnavailable(
                        "this replica could not catch up with the database".into(),
                    )));
                }
                return;
            }
            // A refusal that depends on the data (absent, stale version, id taken) is given
            // only once the replica has caught up: the write may name what another replica
            // just wrote.
            let (accepted, again) = match self.plan(round, attempt > 0) {
                Ok(a) => a,
                Err(()) => return,
            };
            round = again;
            if accepted.is_empty() {
                continue;
            }
            match self.write(&accepted) {
                Ok((xid, conflicts)) => {
                    self.stats.groups.fetch_add(1, Ordering::Relaxed);
                    let mut pending = self.feed.pending.lock().unwrap_or_else(|e| e.into_inner());
                    for (a, conflict) in accepted.into_iter().zip(conflicts) {
                        if conflict {
                            round.push((a.edit, a.access, a.reply));
                        } else {
                            pending.push(Pending {
                                xid,
                                reply: a.reply,
                                planned: a.planned,
                                at: Instant::now(),
                            });
                        }
                    }
                    drop(pending);
                    let _ = self.poke.try_send(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a group could not be written to the database");
                    if e.is_connection() {
                        self.client = None;
                    }
                    let replies = accepted.into_iter().map(|a| a.reply);
                    for reply in replies.chain(round.into_iter().map(|(_, _, r)| r)) {
                        let _ = reply.send(Err(EditError::SourceUnavailable(e.to_string())));
                    }
                    return;
                }
            }
        }
        for (_, _, reply) in round {
            let _ = reply.send(Err(EditError::Contended(ATTEMPTS)));
        }
    }

    /// Waits until the replica holds every write committed before now; whether it does.
    fn catch_up(&mut self) -> bool {
        let Ok(target) = self.horizon_now() else {
            return false;
        };
        let _ = self.poke.try_send(());
        self.feed.wait_below(target, Duration::from_secs(10))
    }

    /// Plans each request against the replica's data plus the earlier members of the round:
    /// the accepted ones, and those refused on data the replica may not have caught up with
    /// yet (unless `final_refusals`: then they are answered). `Err` when ids could not be
    /// taken from the database (every caller answered).
    #[allow(clippy::type_complexity)]
    fn plan(
        &mut self,
        round: Vec<(Edit, Access, Reply)>,
        final_refusals: bool,
    ) -> Result<(Vec<Accepted>, Vec<(Edit, Access, Reply)>), ()> {
        let current = self.shared.load();
        let mut overlay = Overlay::new();
        let mut projects = ProjectOverlay::new();
        let mut accepted = Vec::new();
        let mut again = Vec::new();
        let mut round = round.into_iter();
        while let Some((edit, access, reply)) = round.next() {
            if let Err(e) = self.ensure_ids(&edit) {
                let others = round.chain(again).map(|(_, _, r)| r);
                let replies = accepted
                    .into_iter()
                    .map(|a: Accepted| a.reply)
                    .chain(others);
                for reply in std::iter::once(reply).chain(replies) {
                    let _ = reply.send(Err(EditError::SourceUnavailable(e.to_string())));
                }
                return Err(());
            }
            let plan = Planner {
                current: &current,
                overlay: &overlay,
                next_id: &mut self.next_id,
                projects: &projects,
                next_project: &mut self.next_project,
                access,
                // Ids come from this writer's block only: another replica's block may hold
                // any id above an explicit one.
                follow_explicit_ids: false,
            }
            .plan(edit.clone());
            match plan {
                Ok(planned) => {
                    overlay_ops(&planned.ops, &mut overlay, &mut projects);
                    accepted.push(Accepted {
                        planned,
                        edit,
                        access,
                        reply,
                    });
                }
                Err(e) if !final_refusals && depends_on_data(&e) => {
                    again.push((edit, access, reply));
                }
                Err(e) => {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    let _ = reply.send(Err(e));
                }
            }
        }
        Ok((accepted, again))
    }

    /// Takes a fresh block of ids where the request could need more than its block holds.
    fn ensure_ids(&mut self, edit: &Edit) -> Result<(), PgError> {
        let (layer, needed) = match edit {
            Edit::Create { layer, features } => (
                Some(*layer),
                features.iter().filter(|f| f.id.is_none()).count() as u64,
            ),
            Edit::CreateProject { .. } => (None, 1),
            _ => return Ok(()),
        };
        let (next, end) = match layer {
            Some(l) => (self.next_id[l.index()], self.id_end[l.index()]),
            None => (self.next_project, self.project_end),
        };
        if next != 0 && next.saturating_add(needed) <= end {
            return Ok(());
        }
        let start = self.id_block(layer)?;
        let end = start + pg::ID_BLOCK;
        match layer {
            Some(l) => {
                self.next_id[l.index()] = start;
                self.id_end[l.index()] = end;
            }
            None => {
                self.next_project = start;
                self.project_end = end;
            }
        }
        Ok(())
    }

    /// The runtime and the connection, connecting first if it is not up.
    fn connected(&mut self) -> Result<(&tokio::runtime::Runtime, &mut Client), PgError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.client = Some(self.rt.block_on(pg::connect(&self.url))?);
        }
        match self.client.as_mut() {
            Some(client) => Ok((&self.rt, client)),
            None => unreachable!("connected above"),
        }
    }

    /// Drops the connection after an error that broke it (the next write reconnects).
    fn forget_if_broken<T>(&mut self, out: &Result<T, PgError>) {
        if let Err(e) = out
            && e.is_connection()
        {
            self.client = None;
        }
    }

    /// The database's present horizon (see [`pg::horizon_now`]).
    fn horizon_now(&mut self) -> Result<i64, PgError> {
        let out = self
            .connected()
            .and_then(|(rt, client)| rt.block_on(pg::horizon_now(client)));
        self.forget_if_broken(&out);
        out
    }

    /// A fresh block of ids (see [`pg::id_block`]).
    fn id_block(&mut self, layer: Option<Layer>) -> Result<u64, PgError> {
        let out = self
            .connected()
            .and_then(|(rt, client)| rt.block_on(pg::id_block(client, layer)));
        self.forget_if_broken(&out);
        out
    }

    /// Writes the round in one transaction, a savepoint per request: the transaction's id and,
    /// per request, whether it met a changed row (and was rolled back to its savepoint).
    fn write(&mut self, accepted: &[Accepted]) -> Result<(i64, Vec<bool>), PgError> {
        let writes: Vec<Vec<RowWrite<'_>>> =
            accepted.iter().map(|a| row_writes(&a.planned)).collect();
        // A failed connect leaves no connection behind: nothing to forget.
        let (rt, client) = self.connected()?;
        let out = rt.block_on(async {
            let mut tx = client.transaction().await?;
            let mut conflicts = Vec::with_capacity(writes.len());
            for (i, w) in writes.iter().enumerate() {
                let sp = tx.savepoint(format!("r{i}")).await?;
                match pg::write_request(&sp, w).await? {
                    Ok(()) => {
                        sp.commit().await?;
                        conflicts.push(false);
                    }
                    Err(pg::Conflict) => {
                        sp.rollback().await?;
                        conflicts.push(true);
                    }
                }
            }
            let xid = pg::transaction_id(&tx).await?;
            tx.commit().await?;
            Ok((xid, conflicts))
        });
        self.forget_if_broken(&out);
        out
    }
}

/// Whether a refusal rests on the data (which another writer may just have changed) rather
/// than on the request alone.
fn depends_on_data(e: &EditError) -> bool {
    matches!(
        e,
        EditError::NotFound { .. }
            | EditError::Exists { .. }
            | EditError::Stale { .. }
            | EditError::ProjectNotFound(_)
            | EditError::ProjectStale { .. }
    )
}

/// The row writes of a planned request, each with the version its row must have before
/// (`ops` and `features` of a plan are in step).
fn row_writes(p: &Planned) -> Vec<RowWrite<'_>> {
    p.ops
        .iter()
        .zip(&p.features)
        .map(|(op, written)| match op {
            Op::Put { layer, feature } => RowWrite::PutFeature {
                layer: *layer,
                feature,
            },
            Op::Delete { layer, id } => RowWrite::DeleteFeature {
                layer: *layer,
                id: *id,
                version: written.version,
            },
            Op::PutProject { project } => RowWrite::PutProject { project },
            Op::DeleteProject { id } => RowWrite::DeleteProject {
                id: *id,
                version: written.version,
            },
        })
        .collect()
}

struct Follower {
    stats: Arc<WriterStats>,
    source: SourceOptions,
    shared: Arc<SharedSnapshot>,
    feed: Arc<FeedStatus>,
    cursor: Cursor,
}

/// How long a committed write waits for the follower before it is answered 503.
const UNAPPLIED: Duration = Duration::from_secs(30);

/// Changes read from the feed per round.
const BATCH: i64 = 20_000;

impl Follower {
    fn run(mut self, poke: Receiver<()>) {
        let rt = runtime();
        let mut client: Option<Client> = None;
        let mut last_ok = Instant::now();
        let mut backoff = Duration::from_millis(50);
        let mut last_prune = Instant::now();
        let mut first = true;
        loop {
            if client.as_ref().is_none_or(Client::is_closed) {
                client = None;
                self.feed.connected.store(false, Ordering::Relaxed);
                match rt.block_on(pg::connect(&self.source.url)) {
                    Ok(mut c) => {
                        if last_ok.elapsed() > self.source.keep_changes / 2 {
                            // Changes this replica has not read may have been pruned.
                            match rt.block_on(self.reload(&mut c)) {
                                Ok(()) => {}
                                Err(e) => {
                                    tracing::warn!(error = %e, "reloading from the database failed");
                                    std::thread::sleep(backoff);
                                    continue;
                                }
                            }
                        }
                        client = Some(c);
                        self.feed.connected.store(true, Ordering::Relaxed);
                        backoff = Duration::from_millis(50);
                        if !first {
                            self.feed.reconnects.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(
                                "reconnected to the database; following the feed from where it stopped"
                            );
                        }
                        first = false;
                    }
                    Err(e) => {
                        // Writes committed before the cut wait for it to end, up to
                        // UNAPPLIED; then they are answered 503 (not acknowledged).
                        self.answer();
                        let lag = last_ok.elapsed();
                        self.feed
                            .lag_ms
                            .store(lag.as_millis() as u64, Ordering::Relaxed);
                        self.feed.caught_up.store(false, Ordering::Relaxed);
                        tracing::warn!(error = %e, lag_s = lag.as_secs_f64(), "the database is unreachable; retrying");
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        continue;
                    }
                }
            }
            let Some(c) = client.as_ref() else { continue };
            match rt.block_on(self.step(c)) {
                Ok(full) => {
                    last_ok = Instant::now();
                    if last_prune.elapsed() > Duration::from_secs(600) {
                        last_prune = Instant::now();
                        if let Err(e) = rt.block_on(pg::prune_changes(c, self.source.keep_changes))
                        {
                            tracing::warn!(error = %e, "pruning old changes failed");
                        }
                    }
                    if !full {
                        let _ = poke.recv_timeout(self.source.poll);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the change feed failed");
                    if e.is_connection() {
                        client = None;
                    } else {
                        std::thread::sleep(backoff);
                    }
                }
            }
        }
    }

    /// One read of the feed, applied and published; whether the batch was full (more to read).
    async fn step(&mut self, client: &Client) -> Result<bool, PgError> {
        let batch = pg::poll(client, self.cursor, BATCH).await?;
        if !batch.changed.is_empty() {
            let current = pg::read_current(client, &batch.changed).await?;
            for bad in &current.bad {
                self.feed.rejected_rows.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(layer = ?bad.layer, id = bad.id, reason = %bad.reason, "row refused by validation: the replica keeps what it held");
            }
            let base = self.shared.load();
            let mut ops: Vec<Op> = Vec::new();
            // A TRUNCATE: every row the replica holds there goes, then what is there now.
            for whole in &current.whole {
                match whole {
                    Some(layer) => ops.extend(
                        base.layer(*layer)
                            .ids()
                            .iter()
                            .map(|&id| Op::Delete { layer: *layer, id }),
                    ),
                    None => ops.extend(base.projects.keys().map(|&id| Op::DeleteProject { id })),
                }
            }
            for (layer, id, f) in current.features {
                ops.push(match f {
                    Some(feature) => Op::Put { layer, feature },
                    None => Op::Delete { layer, id },
                });
            }
            for (id, p) in current.projects {
                ops.push(match p {
                    Some(project) => Op::PutProject { project },
                    None => Op::DeleteProject { id },
                });
            }
            let n = ops.len() as u64;
            let (next, _) = apply_ops(&base, ops);
            self.shared.publish(next);
            self.feed.applied.fetch_add(n, Ordering::Relaxed);
        }
        self.cursor = batch.cursor;
        self.feed
            .lag_ms
            .store((batch.oldest_age_s * 1000.0) as u64, Ordering::Relaxed);
        self.feed.caught_up.store(!batch.full, Ordering::Relaxed);
        self.feed.advance(batch.applied_below);
        self.answer();
        Ok(batch.full)
    }

    /// Answers the writes whose transaction is now applied, and those that waited longer
    /// than [`UNAPPLIED`].
    fn answer(&self) {
        let applied_below = *self
            .feed
            .applied_below
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let generation = self.shared.load().generation;
        let mut pending = self.feed.pending.lock().unwrap_or_else(|e| e.into_inner());
        let (done, waiting): (Vec<Pending>, Vec<Pending>) = pending
            .drain(..)
            .partition(|p| p.xid < applied_below || p.at.elapsed() > UNAPPLIED);
        *pending = waiting;
        drop(pending);
        for p in done {
            if p.xid >= applied_below {
                // Committed, but this replica could not read it back in time: not
                // acknowledged (a later read shows it).
                let _ = p.reply.send(Err(EditError::SourceUnavailable(
                    "committed, but this replica has not caught up with the database yet".into(),
                )));
                continue;
            }
            self.stats.writes.fetch_add(1, Ordering::Relaxed);
            self.stats
                .features
                .fetch_add(p.planned.features.len() as u64, Ordering::Relaxed);
            let _ = p.reply.send(Ok(Written {
                layer: p.planned.layer,
                features: p.planned.features,
                generation,
            }));
        }
    }

    /// Replaces the whole snapshot by the database's (after a cut-off longer than the change
    /// table keeps changes).
    async fn reload(&mut self, client: &mut Client) -> Result<(), PgError> {
        let loaded = pg::load(client, &|_| {}).await?;
        let mut snapshot = loaded.snapshot;
        snapshot.generation = self.shared.load().generation + 1;
        self.shared.publish(snapshot);
        self.cursor = loaded.cursor;
        self.feed.reloads.fetch_add(1, Ordering::Relaxed);
        self.feed.advance(loaded.horizon);
        Ok(())
    }
}
