//! Recovery: opening a data directory for serving. Locks it, loads the layer files and
//! replays the write log over them (each op sets a feature to its final state, so replaying
//! what a layer file already holds changes nothing); and the offline checkpoint that saves
//! the replayed layers and empties the log.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, TryLockError};
use std::sync::Arc;

use super::super::EditError;
use crate::index::{LayerData, Snapshot};
use crate::model::{Feature, FeatureId, Layer, Project, ProjectId};
use crate::store::{DataDir, LogError, Op, StoreError, WriteLog};

/// A data directory opened for serving: the layers with the log replayed, and the log open for
/// appending. Holds the directory's lock: one process at a time.
#[derive(Debug)]
pub struct Recovery {
    pub dir: DataDir,
    pub snapshot: Snapshot,
    pub(super) log: WriteLog,
    pub(super) last_seq: u64,
    pub(super) dirty: BTreeSet<Layer>,
    pub(super) lock: File,
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
        self.dir.save_projects(&snapshot.projects)?;
        WriteLog::remove_rotated(self.dir.path())?;
        drop(self.lock);
        Ok(())
    }
}

/// Applies ops in order, as one change per layer (and one of the projects). Each op sets a
/// feature (a project) to its final state, so the last op on an id decides it: replaying ops a
/// layer file already holds changes nothing. The layers touched are returned; the projects are
/// saved at every compaction whatever changed (one small file).
pub(super) fn apply_ops(
    base: &Snapshot,
    ops: impl IntoIterator<Item = Op>,
) -> (Snapshot, BTreeSet<Layer>) {
    // Ordered, so that a replay gives the same rows in the same order every time (the snaps
    // persisted beside the layer files are bound to the rows of the replayed layers).
    let mut last: BTreeMap<(Layer, FeatureId), Option<Feature>> = BTreeMap::new();
    let mut projects: BTreeMap<ProjectId, Option<Project>> = BTreeMap::new();
    let mut touched = BTreeSet::new();
    for op in ops {
        match op {
            Op::Put { layer, feature } => {
                touched.insert(layer);
                last.insert((layer, feature.id), Some(feature));
            }
            Op::Delete { layer, id } => {
                touched.insert(layer);
                last.insert((layer, id), None);
            }
            Op::PutProject { project } => {
                projects.insert(project.id, Some(project));
            }
            Op::DeleteProject { id } => {
                projects.insert(id, None);
            }
        }
    }
    if touched.is_empty() && projects.is_empty() {
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
    let mut next = base.with_layers(layers);
    for (id, p) in projects {
        match p {
            Some(p) => next.projects.insert(id, Arc::new(p)),
            None => next.projects.remove(&id),
        };
    }
    (next, touched)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::edit::parse_features;
    use crate::store::{LOG_FILE, LogRecord};

    const LAYER: Layer = Layer::WasteDeposits;

    fn put(id: FeatureId) -> Op {
        let body = serde_json::json!({
            "type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [0.1, 49.4]},
            "properties": {"material": "wood", "quantity": 4.0, "holder": "Scierie",
                "confidentiality": "public"},
        });
        let nf = parse_features(LAYER, &serde_json::to_vec(&body).unwrap(), 1)
            .unwrap()
            .remove(0);
        let mut feature = nf.feature;
        feature.id = id;
        feature.version = 1;
        Op::Put {
            layer: LAYER,
            feature,
        }
    }

    fn framed(records: &[(u64, Vec<Op>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (seq, ops) in records {
            LogRecord {
                seq: *seq,
                ops: ops.clone(),
            }
            .encode(&mut out);
        }
        out
    }

    #[test]
    fn recovery_replays_the_log_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut log, _) = WriteLog::open(dir.path()).unwrap();
            let delete = Op::Delete {
                layer: LAYER,
                id: 1,
            };
            log.append(&framed(&[(1, vec![put(1)]), (2, vec![put(2), delete])]))
                .unwrap();
        }
        // A crash in the middle of the third record: half of it reached the disk.
        let torn = framed(&[(3, vec![put(3)])]);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(LOG_FILE))
            .unwrap();
        f.write_all(&torn[..torn.len() / 2]).unwrap();
        drop(f);

        let rec = recover(DataDir::open(dir.path()).unwrap()).unwrap();
        assert_eq!((rec.replayed, rec.last_seq), (2, 2));
        assert_eq!(rec.cut.len(), 1, "{:?}", rec.cut);
        let data = rec.snapshot.layer(LAYER);
        // The last op on an id decides it: 1 was put then deleted; 3 was never acknowledged.
        assert!(data.row_of(1).is_none());
        assert!(data.row_of(2).is_some());
        assert!(data.row_of(3).is_none());
        assert_eq!(rec.dirty, BTreeSet::from([LAYER]));
        // One process at a time: a second opener is refused while the lock is held.
        let again = recover(DataDir::open(dir.path()).unwrap());
        assert!(matches!(again, Err(EditError::InUse(_))), "{again:?}");
    }

    #[test]
    fn replaying_what_a_layer_already_holds_changes_nothing() {
        let base = Snapshot::new(0, []);
        let (once, touched) = apply_ops(&base, [put(4), put(5)]);
        let (twice, _) = apply_ops(&once, [put(4), put(5)]);
        assert_eq!(touched, BTreeSet::from([LAYER]));
        assert!(
            once.layer(LAYER)
                .ids()
                .iter()
                .eq(twice.layer(LAYER).ids().iter())
        );
        // No op: the same snapshot, nothing touched.
        let (same, none) = apply_ops(&base, []);
        assert!(none.is_empty());
        assert_eq!(same.generation, base.generation);
    }
}
