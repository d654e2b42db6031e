//! Persistence: one FlatGeobuf file per layer (with its packed Hilbert R-tree, so QGIS and GDAL
//! read the store directly) in a data directory, each written atomically: temporary file,
//! fsync, rename, fsync of the directory; and the write log of every acknowledged write since
//! the layer files were last saved ([`WriteLog`]). Stored projects live beside the layers in
//! `projects.json`, written the same way and logged in the same write log.

mod embedded;
mod fgb;
mod log;
mod manifest;
pub mod pg;
mod salvage;

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub use embedded::{EMBEDDED, embedded_snapshot};
pub use fgb::{FgbError, read_layer_fgb, write_layer_fgb};
pub use log::{
    LOG_FILE, LogContents, LogError, LogRecord, Op, ROTATED_LOG_FILE, RecordError, Recovered,
    Segment, WriteLog, feature_from_json, feature_to_json, read_log, scan_log,
};
pub use manifest::{Bassin, Commune, LayerReport, MANIFEST_FILE, Manifest, RoadsReport, Source};
pub use salvage::{LogReport, check_logs, salvage_logs};

use crate::index::{LayerData, Snapshot};
use crate::model::{Layer, Project, Projects};

/// Name of the stored projects' file in a data directory.
pub const PROJECTS_FILE: &str = "projects.json";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid layer (or projects) file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the write log {path} is damaged: {reason}. Nothing was changed and the server does not \
         start: `terriens log check --data DIR` describes the damage, `terriens log salvage \
         --data DIR` moves the damaged bytes aside (to a new file) and keeps every whole record"
    )]
    DamagedLog { path: PathBuf, reason: String },
}

impl StoreError {
    /// Whether the file system refused for want of space, inodes or quota (a condition that
    /// frees itself once an operator makes room, unlike a failing disk).
    pub fn is_no_space(&self) -> bool {
        use std::io::ErrorKind;
        matches!(self, StoreError::Io { source, .. }
            if matches!(source.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded))
    }
}

pub(crate) fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A data directory holding `<layer>.fgb` files.
#[derive(Debug, Clone)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// Opens a data directory, creating it if needed.
    pub fn open(path: impl Into<PathBuf>) -> Result<DataDir, StoreError> {
        let path = path.into();
        fs::create_dir_all(&path).map_err(io("cannot create the data directory", &path))?;
        Ok(DataDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Path of a layer's file.
    pub fn layer_path(&self, layer: Layer) -> PathBuf {
        self.path.join(format!("{}.fgb", layer.id()))
    }

    /// Whether no layer file exists yet.
    pub fn is_empty(&self) -> bool {
        Layer::ALL.iter().all(|l| !self.layer_path(*l).exists())
    }

    /// Loads one layer; an absent file is an empty layer.
    pub fn load_layer(&self, layer: Layer) -> Result<LayerData, StoreError> {
        let path = self.layer_path(layer);
        if !path.exists() {
            return Ok(LayerData::empty(layer));
        }
        let file = fs::File::open(&path).map_err(io("cannot open", &path))?;
        read_layer_fgb(std::io::BufReader::new(file), layer).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })
    }

    /// Loads every layer into a snapshot of generation 1, the layers in parallel.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let layers = std::thread::scope(|s| {
            let handles: Vec<_> = Layer::ALL
                .iter()
                .map(|l| s.spawn(move || self.load_layer(*l)))
                .collect();
            handles
                .into_iter()
                .map(|h| match h.join() {
                    Ok(r) => r,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        let mut snapshot = Snapshot::new(1, layers);
        snapshot.projects = self.load_projects()?;
        Ok(snapshot)
    }

    /// Path of the stored projects (`projects.json`).
    pub fn projects_path(&self) -> PathBuf {
        self.path.join(PROJECTS_FILE)
    }

    /// Loads the stored projects; an absent file is none.
    pub fn load_projects(&self) -> Result<Projects, StoreError> {
        let path = self.projects_path();
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Projects::new()),
            Err(e) => return Err(io("cannot read", &path)(e)),
        };
        let corrupt = |reason: String| StoreError::Corrupt {
            path: path.clone(),
            reason,
        };
        let doc: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
        let list = doc["projects"]
            .as_array()
            .ok_or_else(|| corrupt("no `projects` array".into()))?;
        list.iter()
            .map(|v| {
                let p = Project::from_json(v).map_err(|e| corrupt(e.to_string()))?;
                Ok((p.id, std::sync::Arc::new(p)))
            })
            .collect()
    }

    /// Writes the projects atomically, as [`DataDir::save_layer`] does a layer. Nothing is
    /// written when there is no project and never was a file.
    pub fn save_projects(&self, projects: &Projects) -> Result<(), StoreError> {
        let path = self.projects_path();
        if projects.is_empty() && !path.exists() {
            return Ok(());
        }
        let list: Vec<serde_json::Value> = projects.values().map(|p| p.to_json()).collect();
        let body = serde_json::json!({"projects": list}).to_string();
        let tmp = self.path.join(format!(".{PROJECTS_FILE}.tmp"));
        {
            let mut file = fs::File::create(&tmp).map_err(io("cannot create", &tmp))?;
            file.write_all(body.as_bytes())
                .map_err(io("cannot write", &tmp))?;
            file.sync_all().map_err(io("cannot fsync", &tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io("cannot rename into", &path))?;
        sync_dir(&self.path)
    }

    /// Writes a layer atomically: readers of the file see the old or the new version, never a
    /// mix, and a crash leaves at most a stray temporary file.
    pub fn save_layer(&self, data: &LayerData) -> Result<(), StoreError> {
        let path = self.layer_path(data.layer());
        let tmp = self.path.join(format!(".{}.fgb.tmp", data.layer().id()));
        {
            let file = fs::File::create(&tmp).map_err(io("cannot create", &tmp))?;
            let mut out = BufWriter::new(file);
            write_layer_fgb(data, &mut out).map_err(|e| StoreError::Corrupt {
                path: tmp.clone(),
                reason: e.to_string(),
            })?;
            out.flush().map_err(io("cannot write", &tmp))?;
            let file = out.into_inner().map_err(|e| StoreError::Io {
                action: "cannot write",
                path: tmp.clone(),
                source: e.into_error(),
            })?;
            file.sync_all().map_err(io("cannot fsync", &tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io("cannot rename into", &path))?;
        sync_dir(&self.path)
    }
}

/// Makes a rename durable.
pub fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = fs::File::open(path).map_err(io("cannot open directory", path))?;
    dir.sync_all().map_err(io("cannot fsync directory", path))
}
