//! Stored projects: `/projects` (create, list, read, replace, delete), a project's matches
//! (`/projects/{id}/matches`) and the reverse, the projects a site would suit
//! (`/sites/{layer}/{id}/projects`). Projects are for the `partners` right unless marked
//! `public` (`model::Audience::sees_project`, applied through `index::View::projects`); writes
//! need an editor key and go through the single writer, its log and its group commit like
//! every feature write.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json_, json};

use super::matching::{
    DEFAULT_LIMIT, WEIGHTING, answer_matches, fit_json, known_occupations, lang_of, match_options,
    with_language,
};
use crate::api::extract::{ApiJson, ApiPath, Caller, Params, etag, if_match, if_none_match};
use crate::api::limits::spawn_blocking;
use crate::api::{ApiError, AppState};
use crate::edit::{Edit, Precondition};
use crate::matching::{self, Engines, Needs, ReadProject};
use crate::model::{Layer, PROJECTS_PATH, Project, ProjectId, Role};
use crate::query::SITE_LAYERS;

/// A project's id from the path; anything else is a project that does not exist.
fn project_id(id: &str) -> Result<ProjectId, ApiError> {
    crate::edit::parse::path_id(id).ok_or_else(|| ApiError::ProjectNotFound(id.to_string()))
}

/// A project as answered: its document, id, version and links.
fn project_json(p: &Project) -> Json_ {
    let mut o = Map::new();
    o.insert("id".into(), json!(p.id));
    o.insert("version".into(), json!(p.version));
    o.extend(p.doc.clone());
    o.insert(
        "links".into(),
        json!([
            {"rel": "self", "href": format!("{PROJECTS_PATH}/{}", p.id)},
            {"rel": "matches", "href": format!("{PROJECTS_PATH}/{}/matches", p.id)},
        ]),
    );
    Json_::Object(o)
}

/// The document of a write body, checked (400 naming the member at fault).
fn checked_doc(state: &AppState, body: Json_) -> Result<Map<String, Json_>, ApiError> {
    let Json_::Object(body) = body else {
        return Err(ApiError::bad_param(
            "body",
            "a JSON object: {\"name\": ..., \"needs\": {...}}",
        ));
    };
    let snap = state.snapshot.load();
    let (doc, _) =
        matching::read_project(&body, &known_occupations(state, &snap)).map_err(ApiError::from)?;
    Ok(doc)
}

/// The answer to a project write: the project as written, with its ETag (built from the write
/// itself, not read back: a later write may already have changed it).
fn written(project: &Project, status: StatusCode) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag(project.version));
    if status == StatusCode::CREATED
        && let Ok(v) = header::HeaderValue::try_from(format!("{PROJECTS_PATH}/{}", project.id))
    {
        headers.insert(header::LOCATION, v);
    }
    (status, headers, Json(project_json(project))).into_response()
}

/// The project a write answered for.
fn as_written(w: &crate::edit::Written, doc: Map<String, Json_>) -> Result<Project, ApiError> {
    let f = w
        .features
        .first()
        .ok_or_else(|| ApiError::Internal("a project write answered nothing".into()))?;
    Ok(Project {
        id: f.id,
        version: f.version,
        doc,
    })
}

/// `POST /projects`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Json_>,
) -> Result<Response, ApiError> {
    let access = caller.require(Role::Editor)?;
    let writer = state.writer()?.clone();
    let doc = checked_doc(&state, body)?;
    let w = writer
        .submit(Edit::CreateProject { doc: doc.clone() }, access)
        .await?;
    Ok(written(&as_written(&w, doc)?, StatusCode::CREATED))
}

/// `GET /projects`: every project the caller may see, by id.
pub async fn list(
    State(state): State<AppState>,
    Caller(access): Caller,
    params: Params,
) -> Result<Response, ApiError> {
    if let Some((k, _)) = params.0.first() {
        return Err(ApiError::bad_param(
            k.clone(),
            "unknown parameter; /projects takes none",
        ));
    }
    let snap = state.snapshot.load();
    let view = snap.view(&access);
    let projects: Vec<Json_> = view.projects().map(|p| project_json(p)).collect();
    Ok(Json(json!({"numberReturned": projects.len(), "projects": projects})).into_response())
}

/// `GET /projects/{id}`.
pub async fn read(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = project_id(&id)?;
    let snap = state.snapshot.load();
    let view = snap.view(&access);
    let p = view
        .project(id)
        .ok_or_else(|| ApiError::ProjectNotFound(id.to_string()))?;
    let tag = etag(p.version);
    if if_none_match(&headers, tag.to_str().unwrap_or("")) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    Ok(([(header::ETAG, tag)], Json(project_json(p))).into_response())
}

/// `PUT /projects/{id}`: the whole document replaced (`If-Match` honoured).
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Json_>,
) -> Result<Response, ApiError> {
    let access = caller.require(Role::Editor)?;
    let writer = state.writer()?.clone();
    let id = project_id(&id)?;
    let precondition = if_match(&headers)?;
    let doc = checked_doc(&state, body)?;
    let edit = Edit::ReplaceProject {
        id,
        doc: doc.clone(),
        precondition,
    };
    let w = writer.submit(edit, access).await?;
    Ok(written(&as_written(&w, doc)?, StatusCode::OK))
}

/// `PATCH /projects/{id}`: a JSON merge patch (RFC 7396) of the document (`null` removes a
/// member; objects such as `needs` merge member by member, arrays are replaced), then checked
/// as a whole. Without `If-Match` the patch applies to the version read, retried if another
/// write came in between; with it, to that version only.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<Json_>,
) -> Result<Response, ApiError> {
    let access = caller.require(Role::Editor)?;
    let writer = state.writer()?.clone();
    let id = project_id(&id)?;
    let asked = if_match(&headers)?;
    if !patch.is_object() {
        return Err(ApiError::bad_param(
            "body",
            "a JSON merge patch: an object of the members to change, e.g. {\"name\": \"...\"}",
        ));
    }
    // Without If-Match, a write that came in between the read and this one is not lost: the
    // patch is applied again to what it wrote (three times at most).
    let mut retries = 3;
    loop {
        let current = state
            .snapshot
            .load()
            .view(&access)
            .project(id)
            .map(|p| (**p).clone())
            .ok_or_else(|| ApiError::ProjectNotFound(id.to_string()))?;
        if !asked.holds(Some(current.version)) {
            return Err(crate::edit::EditError::ProjectStale {
                id,
                current: Some(current.version),
                expected: asked.describe(),
            }
            .into());
        }
        let mut doc = Json_::Object(current.doc.clone());
        merge_patch(&mut doc, &patch);
        let doc = checked_doc(&state, doc)?;
        let edit = Edit::ReplaceProject {
            id,
            doc: doc.clone(),
            precondition: Precondition::Versions(vec![current.version]),
        };
        match writer.submit(edit, access).await {
            Ok(w) => return Ok(written(&as_written(&w, doc)?, StatusCode::OK)),
            Err(crate::edit::EditError::ProjectStale { .. })
                if asked == Precondition::None && retries > 0 =>
            {
                retries -= 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// RFC 7396 JSON merge patch. Written by hand: it is these dozen lines, and the crates that
/// have it (`json-patch`) bring RFC 6902 patches and JSON pointers with them, unused here.
fn merge_patch(target: &mut Json_, patch: &Json_) {
    let Json_::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Json_::Object(Map::new());
    }
    let Json_::Object(t) = target else {
        return;
    };
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Json_::Null), v);
        }
    }
}

/// `DELETE /projects/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let access = caller.require(Role::Editor)?;
    let writer = state.writer()?.clone();
    let id = project_id(&id)?;
    let precondition: Precondition = if_match(&headers)?;
    let w = writer
        .submit(Edit::DeleteProject { id, precondition }, access)
        .await?;
    let body = json!({"id": id, "deleted": true, "generation": w.generation});
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// `GET /projects/{id}/matches?limit=20&explain=all`: as `POST /match` with the stored needs.
pub async fn matches(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let id = project_id(&id)?;
    let (limit, explain) = match_options(
        &params,
        "/projects/{id}/matches",
        "the needs are the project's",
        DEFAULT_LIMIT,
    )?;
    let lang = lang_of(&headers);
    let snap = state.snapshot.load();
    let p = snap
        .view(&access)
        .project(id)
        .ok_or_else(|| ApiError::ProjectNotFound(id.to_string()))?
        .clone();
    let needs = stored_needs(&state, &snap, &p).map_err(|e| {
        ApiError::bad_param(
            format!("needs.{}", e.field),
            format!(
                "the stored needs no longer read on this server: {}",
                e.detail
            ),
        )
    })?;
    answer_matches(state, access, snap, needs, limit, explain, lang).await
}

/// A stored project's needs read against the current data (an occupation the data no longer
/// knows is an error, not a silent zero).
fn stored_needs(
    state: &AppState,
    snap: &crate::index::Snapshot,
    p: &Project,
) -> Result<Needs, matching::BadNeed> {
    Needs::read(&p.needs(), &known_occupations(state, snap))
}

/// `GET /sites/{layer}/{id}/projects?explain=all`: the stored projects the caller may see,
/// ranked by how well this site suits them.
pub async fn site_projects(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath((layer, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let layer: Layer = layer.parse()?;
    if !SITE_LAYERS.contains(&layer) {
        return Err(ApiError::bad_param(
            "layer",
            format!(
                "{layer} holds no sites; sites are {}",
                SITE_LAYERS.map(Layer::id).join(", ")
            ),
        ));
    }
    let fid = crate::edit::parse::path_id(&id).ok_or_else(|| ApiError::FeatureNotFound {
        layer,
        id: id.clone(),
    })?;
    let (limit, explain) = match_options(
        &params,
        "/sites/{layer}/{id}/projects",
        "limit caps the projects listed",
        matching::MAX_MATCHES,
    )?;
    let lang = lang_of(&headers);
    let snap = state.snapshot.load();
    let view = snap.view(&access);
    let Some(row) = view.layer(layer).get(fid) else {
        return Err(ApiError::not_found(layer, fid));
    };
    // Every project the caller may see, read now; one that no longer reads (an occupation the
    // data has lost, a road profile not loaded) is said, not dropped silently.
    let mut read = Vec::new();
    let mut skipped = Vec::new();
    for p in view.projects() {
        let outcome = stored_needs(&state, &snap, p)
            .map_err(|e| format!("needs.{}: {}", e.field, e.detail))
            .and_then(|needs| {
                Engines::for_needs(state.routing.as_deref(), &needs)
                    .map(|engines| (needs, engines))
                    .map_err(|e| e.to_string())
            });
        match outcome {
            Ok((needs, engines)) => read.push(ReadProject {
                project: p.clone(),
                needs,
                engines,
            }),
            Err(reason) => skipped.push(json!({"id": p.id, "name": p.name(), "reason": reason})),
        }
    }
    let factors = state.factors.clone();
    let snap2 = snap.clone();
    let body = spawn_blocking("matching", move || {
        let view = snap2.view(&access);
        let fits = matching::rank_projects(&view, layer, row, &read, &factors, lang, explain);
        let deposits = view.layer(Layer::WasteDeposits).shared().clone();
        let entry = |f: &matching::ProjectFit| {
            let mut o = Map::new();
            o.insert("id".into(), json!(f.project.id));
            o.insert("name".into(), json!(f.project.name()));
            o.insert("kind".into(), json!(f.project.doc.get("kind")));
            o.insert(
                "href".into(),
                json!(format!("{PROJECTS_PATH}/{}", f.project.id)),
            );
            o.extend(fit_json(&f.fit, &deposits, &factors, lang));
            Json_::Object(o)
        };
        let matched = fits.suited.len();
        let listed: Vec<Json_> = fits
            .suited
            .iter()
            .take(limit)
            .chain(&fits.failed)
            .map(entry)
            .collect();
        Ok(json!({
            "site": {"layer": layer.id(), "id": fid},
            "numberMatched": matched,
            "numberReturned": matched.min(limit),
            "numberFailed": if explain { Some(fits.failed.len()) } else { None },
            "projects": listed,
            "skipped": skipped,
            "lang": lang.code(),
            "weighting": WEIGHTING,
        }))
    })
    .await?;
    Ok(with_language(Json(body).into_response(), lang))
}
