//! Industrial projects (prospects and endogenous projects) as stored: an id, a version and the
//! document the editor wrote (name, kind, confidentiality and the needs). The needs are read by
//! `matching::Needs::read` when the project is written and again when it is matched; here a
//! project is data, held in an ordered map shared between snapshots.

use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

/// A project's id: assigned by the server, 1, 2, ...
pub type ProjectId = u64;

/// Where projects are written and read in URLs.
pub const PROJECTS_PATH: &str = "/projects";

/// Whether a project's `confidentiality` is `partners` (the default) or `public`.
pub const PROJECT_CONFIDENTIALITY: [&str; 2] = ["partners", "public"];

/// The kinds of project the programme follows.
pub const PROJECT_KINDS: [&str; 2] = ["prospect", "endogenous"];

/// One stored project.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: ProjectId,
    /// 1 at creation, + 1 at every replacement (the ETag).
    pub version: u64,
    /// The document as checked and completed when written (defaults filled in): `name`,
    /// `kind`, `confidentiality`, optional `description`, and `needs` (the body of
    /// `POST /match`).
    pub doc: Map<String, Json>,
}

impl Project {
    /// The confidentiality mark (`partners` when absent, as written documents always hold one).
    pub fn confidentiality(&self) -> &str {
        self.doc
            .get("confidentiality")
            .and_then(Json::as_str)
            .unwrap_or(PROJECT_CONFIDENTIALITY[0])
    }

    pub fn name(&self) -> &str {
        self.doc.get("name").and_then(Json::as_str).unwrap_or("")
    }

    /// The needs, as written.
    pub fn needs(&self) -> Map<String, Json> {
        match self.doc.get("needs") {
            Some(Json::Object(m)) => m.clone(),
            _ => Map::new(),
        }
    }

    /// The stored form (write log, `projects.json`).
    pub fn to_json(&self) -> Json {
        json!({"id": self.id, "version": self.version, "doc": self.doc})
    }

    /// Reads what [`Project::to_json`] wrote.
    pub fn from_json(v: &Json) -> Result<Project, &'static str> {
        Ok(Project {
            id: v["id"].as_u64().ok_or("project without `id`")?,
            version: v["version"].as_u64().ok_or("project without `version`")?,
            doc: match &v["doc"] {
                Json::Object(m) => m.clone(),
                _ => return Err("project without `doc`"),
            },
        })
    }
}

/// Every stored project, by id: cheap to clone (shared structure), so each snapshot holds its
/// own.
pub type Projects = imbl::OrdMap<ProjectId, Arc<Project>>;
