//! PostgreSQL/PostGIS as the system of record: the schema, features to rows and back, the
//! load of a whole snapshot, the change feed in commit order, and the writes of a group.
//!
//! **Schema** (`terriens pg init`): schema `terriens`, one table per layer (`id bigint` primary
//! key, `version bigint`, one typed column per schema field, `extra jsonb` for the source's
//! other attributes, `geom geometry(Geometry, 4326)` with a GiST index), `terriens.projects`
//! (`id`, `version`, `doc jsonb`), one id sequence per table, and the change table
//! `terriens.changes` filled by triggers on every table.
//!
//! **Change feed.** A row trigger records `(layer, fid)` with the writing transaction's id
//! (`pg_current_xact_id()`) for every `INSERT`, `UPDATE`, `DELETE` (and `COPY`), whoever makes
//! it; a `TRUNCATE` records the whole layer. A sequence alone would not give commit order (its
//! values are handed out before commit, so a lower one can become visible after a higher one);
//! instead a reader takes only the changes of transactions older than the oldest one still
//! running (`xid < pg_snapshot_xmin(pg_current_snapshot())`): those are all finished, so no
//! change can appear later below that horizon, and reading in `(xid, seq)` order from a cursor
//! misses nothing and repeats nothing. The change rows carry no data: the follower re-reads
//! the current row of every changed id, so applying a change twice, or two changes of one row
//! in either order, converges to the committed state. A trigger-fed change table (rather than
//! logical replication through `pgoutput`) works on any PostgreSQL with PostGIS, managed ones
//! included, needs no replication slot that a stopped replica would hold WAL for, and is read
//! the same way by every replica; see the README's deployment note.
//!
//! **Writes** (`write_request`): a feature created (version 1) is an `INSERT … ON CONFLICT DO
//! NOTHING`, a replacement an `UPDATE … WHERE version = v − 1`, a deletion a `DELETE … WHERE
//! version = v`: a row changed meanwhile by another replica (or by SQL) makes the request a
//! [`Conflict`], which the writer re-plans on fresher data. Versions are bumped by a trigger
//! for writes that do not set them (another tool's `UPDATE`), so `If-Match` holds across
//! every writer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::{TryStreamExt, pin_mut};
use geo_types::Geometry;
use geozero::{CoordDimensions, ToGeo, ToWkb, wkb::Wkb};
use serde_json::{Map, Value as Json};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, NoTls};

use crate::geo_util::{Crs, Reprojector};
use crate::index::{LayerData, Snapshot};
use crate::ingest::{RawFeature, Reject, Rules, validate_feature};
use crate::model::{
    Feature, FeatureId, FieldType, Layer, Origin, Project, ProjectId, Projects, schema,
};

/// The schema every table lives in.
pub const SCHEMA: &str = "terriens";

/// The `layer` of a project's change row.
const PROJECTS: &str = "projects";

/// How many ids a writer takes from a table's sequence at a time (sequences step by this).
pub const ID_BLOCK: u64 = 1024;

/// Why talking to PostgreSQL failed.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("PostgreSQL: {}", with_cause(.0))]
    Db(#[from] tokio_postgres::Error),
    #[error("{0}")]
    Schema(String),
}

/// The client's error with its cause ("error connecting to server: Connection refused").
fn with_cause(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl PgError {
    /// Whether the connection is gone (server restarted, network): the caller reconnects.
    pub fn is_connection(&self) -> bool {
        match self {
            PgError::Db(e) => e.is_closed() || e.code().is_none(),
            _ => false,
        }
    }
}

/// Connects (no TLS: a replica talks to its database over a private network or through a
/// pooler on loopback), driving the connection on the current tokio runtime.
pub async fn connect(url: &str) -> Result<Client, PgError> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.application_name("terriens");
    config.connect_timeout(Duration::from_secs(5));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended");
        }
    });
    Ok(client)
}

fn table(layer: Layer) -> String {
    format!("{SCHEMA}.{}", layer.id())
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn column_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Bool => "boolean",
        FieldType::Int => "bigint",
        FieldType::Float => "double precision",
        FieldType::Text(_) | FieldType::Enum(_) => "text",
        FieldType::Date => "date",
        FieldType::Counts => "jsonb",
    }
}

/// The DDL of `terriens pg init`; every statement is idempotent.
fn ddl() -> Vec<String> {
    let mut out = vec![
        "CREATE EXTENSION IF NOT EXISTS postgis".to_string(),
        format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {SCHEMA}.changes (
               seq bigserial PRIMARY KEY,
               xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
               at timestamptz NOT NULL DEFAULT clock_timestamp(),
               layer text NOT NULL,
               fid bigint)"
        ),
        format!("CREATE INDEX IF NOT EXISTS changes_order ON {SCHEMA}.changes (xid, seq)"),
        format!("CREATE INDEX IF NOT EXISTS changes_at ON {SCHEMA}.changes (at)"),
        // Row changes: the id before and after (an UPDATE may change it).
        format!(
            "CREATE OR REPLACE FUNCTION {SCHEMA}.record_change() RETURNS trigger
             LANGUAGE plpgsql AS $$
             BEGIN
               IF TG_OP IN ('UPDATE', 'DELETE') THEN
                 INSERT INTO {SCHEMA}.changes (layer, fid) VALUES (TG_TABLE_NAME, OLD.id);
               END IF;
               IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id) THEN
                 INSERT INTO {SCHEMA}.changes (layer, fid) VALUES (TG_TABLE_NAME, NEW.id);
               END IF;
               RETURN NULL;
             END $$"
        ),
        // TRUNCATE: the whole table (fid NULL).
        format!(
            "CREATE OR REPLACE FUNCTION {SCHEMA}.record_truncate() RETURNS trigger
             LANGUAGE plpgsql AS $$
             BEGIN
               INSERT INTO {SCHEMA}.changes (layer, fid) VALUES (TG_TABLE_NAME, NULL);
               RETURN NULL;
             END $$"
        ),
        // A write that does not set the version (another tool's UPDATE) bumps it.
        format!(
            "CREATE OR REPLACE FUNCTION {SCHEMA}.bump_version() RETURNS trigger
             LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.version IS NOT DISTINCT FROM OLD.version THEN
                 NEW.version := OLD.version + 1;
               END IF;
               RETURN NEW;
             END $$"
        ),
    ];
    let mut tables: Vec<(String, String)> = Layer::ALL
        .iter()
        .map(|&layer| {
            let mut cols = vec![
                format!(
                    "id bigint PRIMARY KEY DEFAULT nextval('{SCHEMA}.{}_ids')",
                    layer.id()
                ),
                "version bigint NOT NULL DEFAULT 1".to_string(),
            ];
            for f in schema(layer).fields {
                cols.push(format!("{} {}", quote(f.name), column_type(f.ty)));
            }
            cols.push("extra jsonb NOT NULL DEFAULT '{}'".into());
            cols.push("geom geometry(Geometry, 4326) NOT NULL".into());
            (layer.id().to_string(), cols.join(",\n  "))
        })
        .collect();
    tables.push((
        PROJECTS.to_string(),
        format!(
            "id bigint PRIMARY KEY DEFAULT nextval('{SCHEMA}.{PROJECTS}_ids'),
             version bigint NOT NULL DEFAULT 1,
             doc jsonb NOT NULL"
        ),
    ));
    for (name, cols) in tables {
        out.push(format!(
            "CREATE SEQUENCE IF NOT EXISTS {SCHEMA}.{name}_ids INCREMENT BY {ID_BLOCK}"
        ));
        out.push(format!(
            "CREATE TABLE IF NOT EXISTS {SCHEMA}.{name} (\n  {cols})"
        ));
        out.push(format!(
            "ALTER SEQUENCE {SCHEMA}.{name}_ids OWNED BY {SCHEMA}.{name}.id"
        ));
        if name != PROJECTS {
            out.push(format!(
                "CREATE INDEX IF NOT EXISTS {name}_geom ON {SCHEMA}.{name} USING gist (geom)"
            ));
        }
        for (trigger, when, func) in [
            (
                "changed",
                "AFTER INSERT OR UPDATE OR DELETE",
                "record_change",
            ),
            ("truncated", "AFTER TRUNCATE", "record_truncate"),
            ("versioned", "BEFORE UPDATE", "bump_version"),
        ] {
            let each = if trigger == "truncated" {
                "STATEMENT"
            } else {
                "ROW"
            };
            out.push(format!(
                "CREATE OR REPLACE TRIGGER {trigger} {when} ON {SCHEMA}.{name} \
                 FOR EACH {each} EXECUTE FUNCTION {SCHEMA}.{func}()"
            ));
        }
    }
    out
}

/// `terriens pg init`: creates what is missing, then checks that every table has the columns
/// terriens reads and writes (a table made by an older version, or by hand, is named with its
/// missing columns). Returns the row count of each table.
pub async fn init(client: &mut Client) -> Result<Vec<(String, i64)>, PgError> {
    let tx = client.transaction().await?;
    // One init at a time (two replicas started together).
    tx.execute("SELECT pg_advisory_xact_lock(7405182)", &[])
        .await?;
    for statement in ddl() {
        tx.batch_execute(&statement).await?;
    }
    tx.commit().await?;
    check_schema(client).await
}

/// Checks the tables' columns; the row count of each table.
pub async fn check_schema(client: &Client) -> Result<Vec<(String, i64)>, PgError> {
    let mut counts = Vec::new();
    for layer in Layer::ALL {
        let rows = client
            .query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2",
                &[&SCHEMA, &layer.id()],
            )
            .await?;
        if rows.is_empty() {
            return Err(PgError::Schema(format!(
                "table {} is missing: run `terriens pg init --source …` first",
                table(layer)
            )));
        }
        let have: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        let missing: Vec<&str> = ["id", "version", "extra", "geom"]
            .into_iter()
            .chain(schema(layer).fields.iter().map(|f| f.name))
            .filter(|c| !have.iter().any(|h| h == c))
            .collect();
        if !missing.is_empty() {
            return Err(PgError::Schema(format!(
                "table {} lacks the columns {}: add them (ALTER TABLE … ADD COLUMN) or drop the table and run `terriens pg init` again",
                table(layer),
                missing.join(", ")
            )));
        }
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}", table(layer)), &[])
            .await?
            .get(0);
        counts.push((layer.id().to_string(), n));
    }
    let n: i64 = client
        .query_one(&format!("SELECT count(*) FROM {SCHEMA}.{PROJECTS}"), &[])
        .await?
        .get(0);
    counts.push((PROJECTS.to_string(), n));
    Ok(counts)
}

/// A feature as the `jsonb` record of its table (`jsonb_populate_record`) and its WKB.
fn row_of(layer: Layer, f: &Feature) -> (Json, Vec<u8>) {
    let mut m = Map::new();
    m.insert("id".into(), Json::from(f.id));
    m.insert("version".into(), Json::from(f.version));
    for (field, value) in schema(layer).fields.iter().zip(&f.props) {
        if let Some(v) = value {
            m.insert(field.name.to_string(), v.to_json());
        }
    }
    m.insert("extra".into(), Json::Object(f.extra.clone()));
    let wkb = f.geometry.to_wkb(CoordDimensions::xy()).unwrap_or_default();
    (Json::Object(m), wkb)
}

/// The columns of a layer's table but `geom`, for statements that name them.
fn columns(layer: Layer) -> Vec<String> {
    ["id", "version"]
        .into_iter()
        .map(str::to_string)
        .chain(schema(layer).fields.iter().map(|f| quote(f.name)))
        .chain(std::iter::once("extra".to_string()))
        .collect()
}

/// `INSERT` of rows given as `($1 jsonb[], $2 bytea[])`; `tail` ends the statement.
fn insert_sql(layer: Layer, tail: &str) -> String {
    let cols = columns(layer);
    let picked: Vec<String> = cols.iter().map(|c| format!("r.{c}")).collect();
    format!(
        "INSERT INTO {t} ({cols}, geom) \
         SELECT {picked}, ST_SetSRID(ST_GeomFromWKB(u.g), 4326) \
         FROM unnest($1::jsonb[], $2::bytea[]) AS u(p, g), \
              LATERAL jsonb_populate_record(NULL::{t}, u.p) AS r {tail}",
        t = table(layer),
        cols = cols.join(", "),
        picked = picked.join(", "),
    )
}

/// `UPDATE` of existing rows from `($1 jsonb[], $2 bytea[])`, each only at the version before
/// its own; returns the ids updated.
fn update_sql(layer: Layer) -> String {
    let sets: Vec<String> = columns(layer)
        .iter()
        .filter(|c| c.as_str() != "id")
        .map(|c| format!("{c} = r.{c}"))
        .collect();
    format!(
        "UPDATE {t} AS o SET {sets}, geom = ST_SetSRID(ST_GeomFromWKB(u.g), 4326) \
         FROM unnest($1::jsonb[], $2::bytea[]) AS u(p, g), \
              LATERAL jsonb_populate_record(NULL::{t}, u.p) AS r \
         WHERE o.id = r.id AND o.version = r.version - 1 RETURNING o.id",
        t = table(layer),
        sets = sets.join(", "),
    )
}

/// Rows as the two arrays of [`insert_sql`] and [`update_sql`].
fn row_arrays<'a>(
    layer: Layer,
    features: impl Iterator<Item = &'a Feature>,
) -> (Vec<Json>, Vec<Vec<u8>>) {
    features.map(|f| row_of(layer, f)).unzip()
}

/// The `SELECT` list that [`feature_from_row`] reads.
fn select_sql(layer: Layer, filter: &str) -> String {
    format!(
        "SELECT t.id, t.version, ST_AsBinary(t.geom), \
                to_jsonb(t) - ARRAY['id', 'version', 'geom', 'extra'], t.extra \
         FROM {} AS t {filter}",
        table(layer)
    )
}

/// Builds a feature from its row with the importer's validation (types, enums, ranges,
/// geometry; computed fields such as a plot's area recomputed from the geometry), so a row
/// written by another tool is held to the same rules as an API write. Required fields a
/// holder may lack (material and quantity of a deposit whose streams are not known yet) are
/// waived, as `terriens import --as-holders` does.
pub fn feature_from_row(
    layer: Layer,
    row: &tokio_postgres::Row,
    reprojector: &Reprojector,
) -> Result<Feature, (FeatureId, String)> {
    let id = row.try_get::<_, i64>(0).map_or(0, |id| id as FeatureId);
    // Types another tool may have changed (ALTER TABLE) make the row refused, not a panic.
    let bad = |e: tokio_postgres::Error| (id, format!("unreadable row: {}", with_cause(&e)));
    let version: i64 = row.try_get::<_, Option<i64>>(1).map_err(bad)?.unwrap_or(1);
    let wkb: Vec<u8> = row.try_get(2).map_err(bad)?;
    let Json::Object(mut properties) = row.try_get::<_, Json>(3).map_err(bad)? else {
        return Err((id, "the row is not an object".into()));
    };
    properties.retain(|_, v| !v.is_null());
    for f in schema(layer).fields {
        if f.origin == Origin::Computed {
            properties.remove(f.name);
        }
    }
    if let Some(Json::Object(extra)) = row.try_get::<_, Option<Json>>(4).map_err(bad)? {
        for (k, v) in extra {
            properties.entry(k).or_insert(v);
        }
    }
    let geometry: Result<Geometry<f64>, Reject> = Wkb(wkb)
        .to_geo()
        .map_err(|e| Reject::MalformedGeometry(format!("cannot read the WKB: {e}")));
    let raw = RawFeature {
        index: 0,
        id: None,
        geometry,
        properties,
    };
    let rules = Rules {
        layer,
        as_holders: true,
    };
    let mut feature =
        validate_feature(raw, id, rules, reprojector).map_err(|e| (id, e.to_string()))?;
    feature.version = version.max(1) as u64;
    Ok(feature)
}

fn project_from_row(row: &tokio_postgres::Row) -> Result<Project, (ProjectId, String)> {
    let id: i64 = row.try_get(0).unwrap_or(0);
    let bad = |e: tokio_postgres::Error| {
        (
            id as ProjectId,
            format!("unreadable row: {}", with_cause(&e)),
        )
    };
    let version: i64 = row.try_get::<_, Option<i64>>(1).map_err(bad)?.unwrap_or(1);
    match row.try_get::<_, Json>(2).map_err(bad)? {
        Json::Object(doc) => Ok(Project {
            id: id as ProjectId,
            version: version.max(1) as u64,
            doc,
        }),
        _ => Err((id as ProjectId, "the document is not an object".into())),
    }
}

/// A row that could not be read: its layer (`None`: a project), id and why.
#[derive(Debug, Clone)]
pub struct BadRow {
    pub layer: Option<Layer>,
    pub id: u64,
    pub reason: String,
}

/// Where the change feed stands: every change up to `(xid, seq)` is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub xid: i64,
    pub seq: i64,
}

/// A whole snapshot read in one repeatable-read transaction, and the cursor to follow from.
pub struct Loaded {
    pub snapshot: Snapshot,
    pub cursor: Cursor,
    /// Every transaction below this id is in the snapshot.
    pub horizon: i64,
    pub bad: Vec<BadRow>,
}

fn reprojector() -> Reprojector {
    match Reprojector::to_wgs84(&Crs::Wgs84) {
        Ok(r) => r,
        Err(e) => panic!("the WGS84 identity reprojector: {e}"),
    }
}

/// Reads every layer and project. Rows come out in the order the layer files would give them
/// (the FlatGeobuf writer's Hilbert order, by a round trip in memory), so a replica's rows,
/// and what depends on row order (tile feature order), are those of a server on the same data.
pub async fn load(
    client: &mut Client,
    progress: &(dyn Fn(Layer) + Sync),
) -> Result<Loaded, PgError> {
    load_layers(client, &Layer::ALL, progress).await
}

/// [`load`] of some layers only (the others empty in the snapshot); projects always.
pub async fn load_layers(
    client: &mut Client,
    which: &[Layer],
    progress: &(dyn Fn(Layer) + Sync),
) -> Result<Loaded, PgError> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let horizon: i64 = tx
        .query_one(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
            &[],
        )
        .await?
        .get(0);
    let mut layers = Vec::new();
    let mut bad = Vec::new();
    for &layer in which {
        let rows = tx
            .query_raw(
                &select_sql(layer, "ORDER BY t.id"),
                std::iter::empty::<i64>(),
            )
            .await?;
        pin_mut!(rows);
        // Rows become features (decoding and the importer's validation: most of a load's
        // time, on one core ~88 s of the 97 s the 1M-deposit layer took) on worker threads,
        // a chunk each, while this thread receives the next rows; chunks are joined in
        // order, so the rows keep the database's order.
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut in_flight: std::collections::VecDeque<std::thread::JoinHandle<Converted>> =
            std::collections::VecDeque::new();
        let mut features = Vec::new();
        let mut chunk = Vec::with_capacity(LOAD_CHUNK);
        let mut collect = |handle: std::thread::JoinHandle<Converted>,
                           features: &mut Vec<Feature>| {
            match handle.join() {
                Ok((f, b)) => {
                    features.extend(f);
                    bad.extend(b);
                }
                Err(_) => panic!("a row conversion thread panicked"),
            }
        };
        loop {
            let next = rows.try_next().await?;
            let done = next.is_none();
            if let Some(row) = next {
                chunk.push(row);
            }
            if chunk.len() >= LOAD_CHUNK || (done && !chunk.is_empty()) {
                let rows = std::mem::replace(&mut chunk, Vec::with_capacity(LOAD_CHUNK));
                in_flight.push_back(std::thread::spawn(move || convert(layer, rows)));
                if in_flight.len() >= workers
                    && let Some(h) = in_flight.pop_front()
                {
                    collect(h, &mut features);
                }
            }
            if done {
                break;
            }
        }
        while let Some(h) = in_flight.pop_front() {
            collect(h, &mut features);
        }
        layers.push(LayerData::build(layer, in_file_order(features)));
        progress(layer);
    }
    let mut projects = Projects::new();
    for row in tx
        .query(
            &format!("SELECT id, version, doc FROM {SCHEMA}.{PROJECTS} ORDER BY id"),
            &[],
        )
        .await?
    {
        match project_from_row(&row) {
            Ok(p) => {
                projects.insert(p.id, std::sync::Arc::new(p));
            }
            Err((id, reason)) => bad.push(BadRow {
                layer: None,
                id,
                reason,
            }),
        }
    }
    tx.commit().await?;
    let mut snapshot = Snapshot::new(1, layers);
    snapshot.projects = projects;
    Ok(Loaded {
        snapshot,
        // Changes of transactions from the horizon on may or may not be in the snapshot:
        // follow from there (re-reading a row already loaded changes nothing).
        cursor: Cursor {
            xid: horizon,
            seq: -1,
        },
        horizon,
        bad,
    })
}

/// Rows converted per worker thread at a time during a load.
const LOAD_CHUNK: usize = 20_000;

/// Features of a chunk of rows, and the rows refused.
type Converted = (Vec<Feature>, Vec<BadRow>);

/// [`feature_from_row`] over a chunk of rows, on the calling (worker) thread.
fn convert(layer: Layer, rows: Vec<tokio_postgres::Row>) -> Converted {
    let reprojector = reprojector();
    let mut features = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    for row in &rows {
        match feature_from_row(layer, row, &reprojector) {
            Ok(f) => features.push(f),
            Err((id, reason)) => bad.push(BadRow {
                layer: Some(layer),
                id,
                reason,
            }),
        }
    }
    (features, bad)
}

/// Puts features in the order a layer's FlatGeobuf file holds them: the writer's Hilbert
/// sort of the feature boxes (descending, stable), computed with the crate's own functions
/// rather than by writing and reading the layer back (which cost as much as the load itself).
fn in_file_order(features: Vec<Feature>) -> Vec<Feature> {
    use flatgeobuf::packed_r_tree::{NodeItem, calc_extent, hilbert_sort};
    use geo::BoundingRect;
    let mut nodes: Vec<NodeItem> = features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut n = NodeItem::create(i as u64);
            if let Some(r) = f.geometry.bounding_rect() {
                n.expand_xy(r.min().x, r.min().y);
                n.expand_xy(r.max().x, r.max().y);
            }
            n
        })
        .collect();
    let extent = calc_extent(&nodes);
    hilbert_sort(&mut nodes, &extent);
    let mut slots: Vec<Option<Feature>> = features.into_iter().map(Some).collect();
    nodes
        .iter()
        .filter_map(|n| slots[n.offset as usize].take())
        .collect()
}

/// What changed, as the feed names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Changed {
    Feature(Layer, FeatureId),
    Project(ProjectId),
    /// A `TRUNCATE`: every row of the layer (`None`: of the projects).
    All(Option<Layer>),
}

/// One read of the feed.
#[derive(Debug, Default)]
pub struct Batch {
    pub changed: Vec<Changed>,
    /// Where the feed stands after this batch.
    pub cursor: Cursor,
    /// Every transaction below this id is applied once the batch is.
    pub applied_below: i64,
    /// Age of the oldest change of the batch, seconds.
    pub oldest_age_s: f64,
    /// Whether the batch hit its limit (more changes wait).
    pub full: bool,
}

/// Reads up to `limit` changes after `cursor`, of finished transactions only.
pub async fn poll(client: &Client, cursor: Cursor, limit: i64) -> Result<Batch, PgError> {
    let rows = client
        .query(
            &format!(
                "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x)
                 SELECT c.xid::text::bigint, c.seq, c.layer, c.fid,
                        extract(epoch FROM clock_timestamp() - c.at)::float8,
                        h.x::text::bigint
                 FROM h LEFT JOIN LATERAL (
                   SELECT * FROM {SCHEMA}.changes c
                   WHERE (c.xid, c.seq) > ($1::text::xid8, $2) AND c.xid < h.x
                   ORDER BY c.xid, c.seq LIMIT $3) c ON true"
            ),
            &[&cursor.xid.to_string(), &cursor.seq, &limit],
        )
        .await?;
    let mut batch = Batch {
        cursor,
        ..Batch::default()
    };
    let mut horizon = cursor.xid;
    let mut n = 0;
    for row in &rows {
        horizon = row.get(5);
        let Some(xid) = row.get::<_, Option<i64>>(0) else {
            continue;
        };
        n += 1;
        batch.cursor = Cursor {
            xid,
            seq: row.get(1),
        };
        let age: f64 = row.get(4);
        batch.oldest_age_s = batch.oldest_age_s.max(age);
        let layer: String = row.get(2);
        let fid: Option<i64> = row.get(3);
        let changed = match (layer.as_str(), fid) {
            (PROJECTS, Some(id)) => Changed::Project(id as ProjectId),
            (PROJECTS, None) => Changed::All(None),
            (name, fid) => match name.parse::<Layer>() {
                Ok(l) => match fid {
                    Some(id) => Changed::Feature(l, id as FeatureId),
                    None => Changed::All(Some(l)),
                },
                Err(_) => continue,
            },
        };
        batch.changed.push(changed);
    }
    // A full batch may stop inside a transaction's changes: only the transactions before
    // its last one are wholly applied.
    batch.full = n as i64 >= limit;
    batch.applied_below = if batch.full {
        batch.cursor.xid
    } else {
        horizon
    };
    batch.changed.sort();
    batch.changed.dedup();
    Ok(batch)
}

/// The current state of what a batch names: for each feature its row (validated), or
/// `None` when the row is gone; for each project likewise.
pub struct Current {
    pub features: Vec<(Layer, FeatureId, Option<Feature>)>,
    pub projects: Vec<(ProjectId, Option<Project>)>,
    /// Layers (and projects, `None`) to replace whole.
    pub whole: BTreeSet<Option<Layer>>,
    pub bad: Vec<BadRow>,
}

/// Re-reads the rows a batch names. A row that fails validation (written by another tool)
/// is reported and left as the replica held it.
pub async fn read_current(client: &Client, changed: &[Changed]) -> Result<Current, PgError> {
    let reprojector = reprojector();
    let mut out = Current {
        features: Vec::new(),
        projects: Vec::new(),
        whole: BTreeSet::new(),
        bad: Vec::new(),
    };
    let mut by_layer: BTreeMap<Layer, Vec<i64>> = BTreeMap::new();
    let mut project_ids = Vec::new();
    for c in changed {
        match *c {
            Changed::Feature(l, id) => by_layer.entry(l).or_default().push(id as i64),
            Changed::Project(id) => project_ids.push(id as i64),
            Changed::All(l) => {
                out.whole.insert(l);
            }
        }
    }
    for layer in Layer::ALL {
        let whole = out.whole.contains(&Some(layer));
        let ids = by_layer.remove(&layer).unwrap_or_default();
        if !whole && ids.is_empty() {
            continue;
        }
        let rows = if whole {
            client.query(&select_sql(layer, ""), &[]).await?
        } else {
            client
                .query(&select_sql(layer, "WHERE t.id = ANY($1)"), &[&ids])
                .await?
        };
        let mut found = std::collections::HashSet::new();
        for row in &rows {
            match feature_from_row(layer, row, &reprojector) {
                Ok(f) => {
                    found.insert(f.id);
                    out.features.push((layer, f.id, Some(f)));
                }
                Err((id, reason)) => {
                    found.insert(id);
                    out.bad.push(BadRow {
                        layer: Some(layer),
                        id,
                        reason,
                    });
                }
            }
        }
        for id in ids {
            if !found.contains(&(id as FeatureId)) {
                out.features.push((layer, id as FeatureId, None));
            }
        }
    }
    let whole_projects = out.whole.contains(&None);
    if whole_projects || !project_ids.is_empty() {
        let filter = if whole_projects {
            ""
        } else {
            "WHERE id = ANY($1)"
        };
        let sql = format!("SELECT id, version, doc FROM {SCHEMA}.{PROJECTS} {filter}");
        let rows = if whole_projects {
            client.query(&sql, &[]).await?
        } else {
            client.query(&sql, &[&project_ids]).await?
        };
        let mut found = std::collections::HashSet::new();
        for row in &rows {
            match project_from_row(row) {
                Ok(p) => {
                    found.insert(p.id);
                    out.projects.push((p.id, Some(p)));
                }
                Err((id, reason)) => {
                    found.insert(id);
                    out.bad.push(BadRow {
                        layer: None,
                        id,
                        reason,
                    });
                }
            }
        }
        for id in project_ids {
            if !found.contains(&(id as ProjectId)) {
                out.projects.push((id as ProjectId, None));
            }
        }
    }
    Ok(out)
}

/// A request's write found a row changed since the replica's data (another replica or
/// another tool wrote it first): re-plan on fresher data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

/// One write of a request, with the version the row must have before it.
#[derive(Debug, Clone)]
pub enum RowWrite<'a> {
    /// Created (version 1), replaced (`feature.version − 1` before).
    PutFeature {
        layer: Layer,
        feature: &'a Feature,
    },
    DeleteFeature {
        layer: Layer,
        id: FeatureId,
        version: u64,
    },
    PutProject {
        project: &'a Project,
    },
    DeleteProject {
        id: ProjectId,
        version: u64,
    },
}

/// Writes one request's rows inside the caller's transaction; `Err(Ok(Conflict))` when a
/// row is not as the replica planned it (nothing of the request is kept: the caller rolls
/// back to its savepoint).
pub async fn write_request(
    tx: &impl GenericClient,
    writes: &[RowWrite<'_>],
) -> Result<Result<(), Conflict>, PgError> {
    // Puts of one layer go in two statements (creations, replacements).
    let mut creates: BTreeMap<Layer, Vec<&Feature>> = BTreeMap::new();
    let mut updates: BTreeMap<Layer, Vec<&Feature>> = BTreeMap::new();
    for w in writes {
        match w {
            RowWrite::PutFeature { layer, feature } if feature.version <= 1 => {
                creates.entry(*layer).or_default().push(feature)
            }
            RowWrite::PutFeature { layer, feature } => {
                updates.entry(*layer).or_default().push(feature)
            }
            RowWrite::DeleteFeature { layer, id, version } => {
                let n = tx
                    .execute(
                        &format!(
                            "DELETE FROM {} WHERE id = $1 AND version = $2",
                            table(*layer)
                        ),
                        &[&(*id as i64), &(*version as i64)],
                    )
                    .await?;
                if n != 1 {
                    return Ok(Err(Conflict));
                }
            }
            RowWrite::PutProject { project } => {
                let (id, v, doc) = (
                    project.id as i64,
                    project.version as i64,
                    Json::Object(project.doc.clone()),
                );
                let n = if project.version <= 1 {
                    tx.execute(
                        &format!(
                            "INSERT INTO {SCHEMA}.{PROJECTS} (id, version, doc) VALUES ($1, $2, $3) \
                             ON CONFLICT (id) DO NOTHING"
                        ),
                        &[&id, &v, &doc],
                    )
                    .await?
                } else {
                    tx.execute(
                        &format!(
                            "UPDATE {SCHEMA}.{PROJECTS} SET version = $2::bigint, doc = $3 \
                             WHERE id = $1::bigint AND version = $2::bigint - 1"
                        ),
                        &[&id, &v, &doc],
                    )
                    .await?
                };
                if n != 1 {
                    return Ok(Err(Conflict));
                }
            }
            RowWrite::DeleteProject { id, version } => {
                let n = tx
                    .execute(
                        &format!("DELETE FROM {SCHEMA}.{PROJECTS} WHERE id = $1 AND version = $2"),
                        &[&(*id as i64), &(*version as i64)],
                    )
                    .await?;
                if n != 1 {
                    return Ok(Err(Conflict));
                }
            }
        }
    }
    for (layer, features) in creates {
        let (rows, wkbs) = row_arrays(layer, features.iter().copied());
        let n = tx
            .execute(
                &insert_sql(layer, "ON CONFLICT (id) DO NOTHING"),
                &[&rows, &wkbs],
            )
            .await?;
        if n as usize != features.len() {
            return Ok(Err(Conflict));
        }
    }
    for (layer, features) in updates {
        let (rows, wkbs) = row_arrays(layer, features.iter().copied());
        let n = tx.execute(&update_sql(layer), &[&rows, &wkbs]).await?;
        if n as usize != features.len() {
            return Ok(Err(Conflict));
        }
    }
    Ok(Ok(()))
}

/// The id of the caller's transaction (for read-your-writes: the feed has applied it once
/// its horizon is past it).
pub async fn transaction_id(tx: &impl GenericClient) -> Result<i64, PgError> {
    Ok(tx
        .query_one("SELECT pg_current_xact_id()::text::bigint", &[])
        .await?
        .get(0))
}

/// The horizon below which every transaction committed before this call lies: once the feed
/// has applied everything below it, the replica holds every write committed before the call.
pub async fn horizon_now(client: &Client) -> Result<i64, PgError> {
    Ok(client
        .query_one(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            &[],
        )
        .await?
        .get(0))
}

/// A block of [`ID_BLOCK`] fresh ids of a layer (`None`: of the projects): `[start, start +
/// ID_BLOCK)`.
pub async fn id_block(client: &Client, layer: Option<Layer>) -> Result<u64, PgError> {
    let name = layer.map_or(PROJECTS, Layer::id);
    let start: i64 = client
        .query_one(&format!("SELECT nextval('{SCHEMA}.{name}_ids')"), &[])
        .await?
        .get(0);
    Ok(start.max(1) as u64)
}

/// The largest id of a layer's table (0 when empty).
pub async fn max_id(client: &Client, layer: Layer) -> Result<u64, PgError> {
    let m: i64 = client
        .query_one(
            &format!("SELECT coalesce(max(id), 0) FROM {}", table(layer)),
            &[],
        )
        .await?
        .get(0);
    Ok(m.max(0) as u64)
}

/// Moves the id sequences past every id held, so that the blocks writers take never hold
/// one (after an import, or rows another tool inserted with ids of its own).
pub async fn advance_sequences(client: &Client) -> Result<(), PgError> {
    for name in Layer::ALL.iter().map(|l| l.id()).chain([PROJECTS]) {
        client
            .execute(
                &format!(
                    "SELECT setval('{SCHEMA}.{name}_ids', \
                       greatest((SELECT coalesce(max(id), 0) + 1 FROM {SCHEMA}.{name}), \
                                (SELECT last_value FROM {SCHEMA}.{name}_ids)), false)"
                ),
                &[],
            )
            .await?;
    }
    Ok(())
}

/// `terriens import --source`: writes validated features into a layer's table (`replace`:
/// the table emptied first, by a `TRUNCATE` the replicas follow as one change), in chunks,
/// updating rows of the same id; then moves the id sequences on. Returns (inserted, updated).
pub async fn import(
    client: &mut Client,
    layer: Layer,
    features: &[Feature],
    replace: bool,
    progress: &dyn Fn(usize),
) -> Result<(u64, u64), PgError> {
    let tx = client.transaction().await?;
    if replace {
        tx.execute(&format!("TRUNCATE {}", table(layer)), &[])
            .await?;
    }
    let existing: i64 = tx
        .query_one(&format!("SELECT count(*) FROM {}", table(layer)), &[])
        .await?
        .get(0);
    let sets: Vec<String> = columns(layer)
        .iter()
        .filter(|c| c.as_str() != "id")
        .map(|c| {
            if c == "version" {
                format!("version = {}.version + 1", table(layer))
            } else {
                format!("{c} = EXCLUDED.{c}")
            }
        })
        .chain(std::iter::once("geom = EXCLUDED.geom".to_string()))
        .collect();
    let sql = insert_sql(
        layer,
        &format!("ON CONFLICT (id) DO UPDATE SET {}", sets.join(", ")),
    );
    let statement = tx.prepare(&sql).await?;
    let mut done = 0;
    for chunk in features.chunks(2000) {
        let (rows, wkbs) = row_arrays(layer, chunk.iter());
        let params: [&(dyn ToSql + Sync); 2] = [&rows, &wkbs];
        tx.execute(&statement, &params).await?;
        done += chunk.len();
        progress(done);
    }
    let after: i64 = tx
        .query_one(&format!("SELECT count(*) FROM {}", table(layer)), &[])
        .await?
        .get(0);
    tx.commit().await?;
    advance_sequences(client).await?;
    let inserted = (after - existing).max(0) as u64;
    Ok((inserted, features.len() as u64 - inserted))
}

/// Deletes changes older than `keep` (every replica reads them within seconds; one that was
/// away longer reloads).
pub async fn prune_changes(client: &Client, keep: Duration) -> Result<u64, PgError> {
    Ok(client
        .execute(
            &format!(
                "DELETE FROM {SCHEMA}.changes WHERE at < clock_timestamp() - make_interval(secs => $1)"
            ),
            &[&keep.as_secs_f64()],
        )
        .await?)
}
