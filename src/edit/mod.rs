//! Editing: turning requests into validated changes, and the single writer that makes them
//! durable and visible.
//!
//! Steps of a write: parse and validate the body with the importer's own rules ([`parse`]) →
//! queue it to the [`Writer`] → the writer checks ids and `If-Match` versions against the
//! current data, appends one log record per request, fsyncs once for a whole group of
//! requests (group commit), builds the touched layers, publishes a new snapshot (generation
//! + 1) and only then answers. Compaction saves the layer files in the background.

pub mod parse;
mod writer;

pub use parse::{NewFeature, Patch, parse_features, parse_patch, parse_replacement};
pub use writer::{
    AfterCompaction, FeedStatus, Recovery, Replica, SourceOptions, Writer, WriterOptions,
    WriterStats, chooses_ids, load_replica, lock_dir, recover, salvage_log,
};

use crate::ingest::{IngestError, Rejection};
use serde_json::{Map, Value as Json};

use crate::model::{FeatureId, Layer, ProjectId};
use crate::store::StoreError;

/// A change asked for by one request.
#[derive(Debug, Clone)]
pub enum Edit {
    /// New features (one, or a batch that is applied all or nothing).
    Create {
        layer: Layer,
        features: Vec<NewFeature>,
    },
    /// Replace a feature (or create it under this id if absent).
    Replace {
        layer: Layer,
        id: FeatureId,
        feature: NewFeature,
        precondition: Precondition,
    },
    /// Merge properties and/or replace the geometry, then validate the result.
    Patch {
        layer: Layer,
        id: FeatureId,
        patch: Patch,
        precondition: Precondition,
    },
    Delete {
        layer: Layer,
        id: FeatureId,
        precondition: Precondition,
    },
    /// A new stored project (the document checked by the caller: `matching::read_project`);
    /// the server gives it its id.
    CreateProject { doc: Map<String, Json> },
    /// Replace a project the caller sees.
    ReplaceProject {
        id: ProjectId,
        doc: Map<String, Json>,
        precondition: Precondition,
    },
    DeleteProject {
        id: ProjectId,
        precondition: Precondition,
    },
}

/// An `If-Match` condition on the version of the feature.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No condition.
    #[default]
    None,
    /// `*`: the feature must exist.
    Exists,
    /// The feature must exist at one of these versions.
    Versions(Vec<u64>),
}

impl Precondition {
    /// Whether a feature at `current` (None: absent) satisfies the condition.
    pub fn holds(&self, current: Option<u64>) -> bool {
        match self {
            Precondition::None => true,
            Precondition::Exists => current.is_some(),
            Precondition::Versions(vs) => current.is_some_and(|c| vs.contains(&c)),
        }
    }

    /// What the condition asks for, in words (the `expected` of a stale-version answer).
    pub fn describe(&self) -> String {
        match self {
            Precondition::None => "nothing".to_string(),
            Precondition::Exists => "any version (*)".to_string(),
            Precondition::Versions(vs) => vs
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// What a write did to one feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenFeature {
    pub id: FeatureId,
    /// The new version; for a deletion, the version the feature had.
    pub version: u64,
    /// Whether the feature did not exist before.
    pub created: bool,
}

/// The answer to an acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The layer written; `None` for a stored project.
    pub layer: Option<Layer>,
    pub features: Vec<WrittenFeature>,
    /// Generation of the first snapshot that shows the write.
    pub generation: u64,
}

/// Why a write was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    Document(#[from] IngestError),
    #[error(
        "{} of {total} features rejected, nothing written; first: {}",
        rejected.len(),
        rejected[0]
    )]
    Rejected {
        rejected: Vec<Rejection>,
        total: usize,
    },
    #[error("{0}")]
    BadPatch(String),
    #[error("the body's feature id {body} differs from the id {path} in the URL")]
    IdMismatch { path: FeatureId, body: String },
    #[error("layer {layer} has no feature with id {id}")]
    NotFound { layer: Layer, id: FeatureId },
    #[error(
        "layer {layer} already has a feature with id {id}; replace it with PUT /layers/{layer}/features/{id}, or leave the id out to get a new one"
    )]
    Exists { layer: Layer, id: FeatureId },
    #[error(
        "feature {id} of layer {layer} is {}; If-Match asked for {expected}",
        match current { Some(v) => format!("at version {v}"), None => "absent".to_string() }
    )]
    Stale {
        layer: Layer,
        id: FeatureId,
        current: Option<u64>,
        expected: String,
    },
    #[error("there is no project with id {0}")]
    ProjectNotFound(ProjectId),
    #[error(
        "project {id} is {}; If-Match asked for {expected}",
        match current { Some(v) => format!("at version {v}"), None => "absent".to_string() }
    )]
    ProjectStale {
        id: ProjectId,
        current: Option<u64>,
        expected: String,
    },
    #[error(
        "a confidential project (the default) is written only with a key that has the partners right; mark it \"confidentiality\": \"public\" or use such a key"
    )]
    ProjectsNeedPartners,
    #[error("no free project id left below 2^53")]
    ProjectsFull,
    #[error("a batch holds at most {max} features; this one holds {count}: split it")]
    BatchTooLarge { count: usize, max: usize },
    #[error(
        "started without --data: nothing could be persisted, so no write is accepted; restart with --data DIR"
    )]
    NotPersistent,
    #[error("the write queue is full ({0} requests waiting); retry shortly")]
    Busy(usize),
    #[error("the writer is stopped: {0}")]
    Stopped(String),
    /// The database the server follows (`serve --source`) could not take the write: nothing
    /// of it was committed (or, when the connection broke during the commit, it may have
    /// been, and the next read shows it); retry.
    #[error("the database could not take the write ({0}); nothing was acknowledged: retry shortly")]
    SourceUnavailable(String),
    /// Other writers kept changing the same rows while this one was planned again and again.
    #[error(
        "the rows this write touches kept changing under concurrent writes ({0} attempts); retry"
    )]
    Contended(usize),
    #[error(
        "the write log could not be written{}: nothing of this request was kept; retry later",
        no_space_note(*no_space)
    )]
    LogWrite { no_space: bool },
    #[error(
        "compaction failed{}: the write log is kept and nothing is lost; retry later",
        no_space_note(*no_space)
    )]
    Compaction { no_space: bool },
    #[error(
        "on layer {layer} only keys with the partners right choose feature ids: leave `id` out and the server assigns one"
    )]
    IdsNeedPartners { layer: Layer },
    #[error(
        "the data directory {0} is in use by another terriens process (serve or import); stop it first"
    )]
    InUse(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn no_space_note(no_space: bool) -> &'static str {
    if no_space {
        " (no space or no inode left on the data directory's file system)"
    } else {
        ""
    }
}
