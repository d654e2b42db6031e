//! `territory build`: a data directory for one territory from the national open data files.
//!
//! Steps, in order: recognise the files ([`discover`]) → the member communes from the COG
//! table (an EPCI's SIREN or a list of INSEE codes) → the boundary (the EPCI file's polygon,
//! else the union of the member communes' polygons) → the clip region (the boundary grown by
//! `buffer_km`; without any polygon, the member communes' codes) → each layer imported through
//! [`crate::ingest`] (same validation and rejects as `terriens import`) and kept when inside the
//! clip region → `commune_insee` and `territory` derived from the location where the source
//! lacks them → road graphs from the extract that covers the territory best → the layer files,
//! the graphs and the manifest written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use geo::{BoundingRect, Buffer, Intersects, MapCoords};
use geo_types::{Geometry, MultiPolygon, Rect};
use indicatif::ProgressBar;

use super::discover::{Discovered, Found, SourceKind, discover};
use super::locate::{Areas, Locator};
use crate::index::LayerData;
use crate::ingest::bmo::{self, OccupationTable};
use crate::ingest::{ImportOptions, ImportOutcome, import_file, string_id};
use crate::model::{Feature, FeatureId, Layer, Value, schema};
use crate::routing::{
    BuildOptions as GraphOptions, ProfileId, RawNetwork, RoadGraph, graph_file_name, write_graph,
};
use crate::store::{Bassin, Commune, DataDir, LayerReport, Manifest, RoadsReport, Source};

/// Which communes make the territory.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// The member communes of an EPCI (its SIREN).
    Epci(String),
    /// A list of communes (INSEE codes): a group of EPCI, a PETR, a pays.
    Communes(Vec<String>),
    /// The communes inside a boundary (a GeoJSON polygon file, any CRS): a PETR, a SCoT, a
    /// group of EPCI; a commune belongs when its interior point lies inside.
    Boundary(PathBuf),
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub selection: Selection,
    /// Name of the territory (default: the EPCI's name).
    pub name: Option<String>,
    /// Folder holding the national files.
    pub from: PathBuf,
    /// Data directory to write (must be empty or absent).
    pub out: PathBuf,
    /// Distance the boundary is grown by, so that sites, deposits and workforce just across
    /// it count (a plant 2 km outside the boundary supplies a site inside).
    pub buffer_km: f64,
    /// Road profiles to build.
    pub profiles: Vec<ProfileId>,
}

/// Why a build could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TerritoryError {
    #[error("{0}")]
    Input(String),
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error(transparent)]
    Routing(#[from] crate::routing::RoutingError),
}

/// One row of the COG commune table.
#[derive(Debug, Clone)]
struct CogRow {
    name: String,
    population: Option<u64>,
    epci_siren: String,
    epci_name: String,
    epci_type: String,
}

/// The commune table: INSEE code → row.
fn read_cog(found: &Found) -> Result<HashMap<String, CogRow>, TerritoryError> {
    let io = |source| TerritoryError::Io {
        path: found.path.display().to_string(),
        source,
    };
    let bytes = read_maybe_gz(&found.path).map_err(io)?;
    let mut rd = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&bytes[..]);
    let headers = rd
        .headers()
        .map_err(|e| TerritoryError::Input(format!("{}: {e}", found.file_name())))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                TerritoryError::Input(format!("{}: no column {name}", found.file_name()))
            })
    };
    let (code, nom, pop, siren, enom, etype) = (
        col("code_insee")?,
        col("nom")?,
        col("population_municipale")?,
        col("epci_siren")?,
        col("epci_nom").ok(),
        col("epci_type").ok(),
    );
    let mut out = HashMap::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| TerritoryError::Input(format!("{}: {e}", found.file_name())))?;
        let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        out.insert(
            get(code),
            CogRow {
                name: get(nom),
                population: get(pop).parse::<f64>().ok().map(|p| p as u64),
                epci_siren: get(siren),
                epci_name: enom.map(get).unwrap_or_default(),
                epci_type: etype.map(get).unwrap_or_default(),
            },
        );
    }
    Ok(out)
}

fn read_maybe_gz(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let bytes = std::fs::read(path)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out)?;
        return Ok(out);
    }
    Ok(bytes)
}

/// The index of a named field of a layer's schema.
fn slot(layer: Layer, name: &str) -> usize {
    schema(layer)
        .field(name)
        .unwrap_or_else(|| panic!("{layer} has a field {name}"))
        .0
}

fn text(f: &Feature, layer: Layer, name: &str) -> Option<String> {
    match f.props.get(slot(layer, name))? {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

pub(super) fn as_multipolygon(g: &Geometry<f64>) -> Option<MultiPolygon<f64>> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        _ => None,
    }
}

/// The boundary grown by `km`. The buffer is computed in a local equirectangular frame
/// centred on the territory (metres): over the few tens of kilometres of a territory the
/// frame's scale error is below 0.5 %, far under the precision a buffer of kilometres needs.
fn grow(boundary: &MultiPolygon<f64>, km: f64) -> MultiPolygon<f64> {
    if km <= 0.0 {
        return boundary.clone();
    }
    let Some(r) = boundary.bounding_rect() else {
        return boundary.clone();
    };
    let (lon0, lat0) = ((r.min().x + r.max().x) / 2.0, (r.min().y + r.max().y) / 2.0);
    let (mx, my) = crate::geo_util::metres_per_degree(lat0);
    let local =
        boundary.map_coords(|c| geo_types::coord! { x: (c.x - lon0) * mx, y: (c.y - lat0) * my });
    local
        .buffer(km * 1000.0)
        .map_coords(|c| geo_types::coord! { x: c.x / mx + lon0, y: c.y / my + lat0 })
}

/// Where features are kept.
enum Clip {
    /// Inside this region (the boundary and its buffer).
    Region(MultiPolygon<f64>, Rect<f64>),
    /// In these communes (no polygon available).
    Communes(BTreeSet<String>),
}

impl Clip {
    fn keeps(&self, f: &Feature, layer: Layer) -> bool {
        match self {
            Clip::Region(region, rect) => {
                f.geometry
                    .bounding_rect()
                    .is_some_and(|b| b.intersects(rect))
                    && f.geometry.intersects(region)
            }
            Clip::Communes(codes) => {
                text(f, layer, "commune_insee").is_some_and(|c| codes.contains(&c))
            }
        }
    }
}

/// An import of one file into a layer, clipped, with its report.
fn import_clipped(
    found: &Found,
    opts: &ImportOptions,
    clip: &Clip,
    progress: &ProgressBar,
    report: &mut LayerReport,
) -> Result<Vec<Feature>, TerritoryError> {
    progress.set_message(format!("reading {}", found.file_name()));
    let ImportOutcome {
        features,
        report: r,
    } = import_file(&found.path, opts, progress)?;
    report.sources.push(found.kind.id().to_string());
    report.files.push(found.file_name());
    report.read += r.read;
    for rej in &r.rejected {
        *report.rejected.entry(rej.reason.to_string()).or_insert(0) += 1;
    }
    let before = features.len();
    let kept: Vec<Feature> = features
        .into_iter()
        .filter(|f| clip.keeps(f, opts.layer))
        .collect();
    report.outside += before - kept.len();
    Ok(kept)
}

/// Gives ids to features in file order, after those they already have, without repeats.
fn renumber(features: &mut [Feature]) {
    let mut seen = BTreeSet::new();
    let mut next: FeatureId = 1;
    for f in features.iter_mut() {
        if !seen.insert(f.id) {
            while seen.contains(&next) {
                next += 1;
            }
            f.id = next;
            seen.insert(next);
        }
    }
}

/// Builds the territory; the progress bar shows each step.
pub fn build(opts: &BuildOptions, progress: &ProgressBar) -> Result<Manifest, TerritoryError> {
    if opts.out.exists()
        && std::fs::read_dir(&opts.out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(TerritoryError::Input(format!(
            "{} is not empty: a territory is built into a new data directory (remove it or choose another --out)",
            opts.out.display()
        )));
    }
    if !(0.0..=100.0).contains(&opts.buffer_km) {
        return Err(TerritoryError::Input(format!(
            "--buffer-km {} is out of range (0 to 100)",
            opts.buffer_km
        )));
    }
    progress.set_message(format!("looking at {}", opts.from.display()));
    let found = discover(&opts.from).map_err(|source| TerritoryError::Io {
        path: opts.from.display().to_string(),
        source,
    })?;
    let mut m = Manifest {
        buffer_km: opts.buffer_km,
        built_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ignored_files: found.ignored.clone(),
        ..Manifest::default()
    };
    for f in &found.found {
        let (producer, licence, attribution) = f.kind.credits(&f.file_name());
        m.sources.push(Source {
            kind: f.kind.id().to_string(),
            file: f.file_name(),
            producer: producer.into(),
            licence: licence.into(),
            vintage: f.vintage(),
            attribution: attribution.into(),
        });
    }
    let cog_file = found.best(SourceKind::CommuneTable).ok_or_else(|| {
        TerritoryError::Input(format!(
            "{} holds no commune table (INSEE COG with code_insee, population_municipale, epci_siren): the member communes cannot be known",
            opts.from.display()
        ))
    })?;
    let cog = read_cog(cog_file)?;
    // Commune polygons: every file, later files do not replace earlier codes.
    let mut commune_features: Vec<Feature> = Vec::new();
    let mut report_c = LayerReport::default();
    let mut seen_codes = BTreeSet::new();
    for f in found.all(SourceKind::CommunePolygons) {
        progress.set_message(format!("reading {}", f.file_name()));
        let out = import_file(&f.path, &ImportOptions::new(Layer::Catchments), progress)?;
        report_c.sources.push(f.kind.id().into());
        report_c.files.push(f.file_name());
        report_c.read += out.report.read;
        for rej in &out.report.rejected {
            *report_c.rejected.entry(rej.reason.to_string()).or_insert(0) += 1;
        }
        for feat in out.features {
            if let Some(code) = text(&feat, Layer::Catchments, "zone_code")
                && seen_codes.insert(code)
            {
                commune_features.push(feat);
            }
        }
    }
    let commune_areas = Areas::new(commune_features.iter().filter_map(|f| {
        Some((
            text(f, Layer::Catchments, "zone_code")?,
            as_multipolygon(&f.geometry)?,
        ))
    }));

    let locator = Locator {
        communes: &commune_areas,
        territories: Areas::default(),
        commune_epci: cog
            .iter()
            .filter(|(_, r)| !r.epci_siren.is_empty())
            .map(|(c, r)| (c.clone(), r.epci_siren.clone()))
            .collect(),
    };
    let file_boundary = match &opts.selection {
        Selection::Boundary(path) => Some(read_boundary(path)?),
        _ => None,
    };
    let selection = match (&opts.selection, &file_boundary) {
        (Selection::Boundary(path), Some(b)) => {
            Selection::Communes(communes_in(b, &commune_areas, &cog, path)?)
        }
        (s, _) => s.clone(),
    };
    let members = members(&selection, &cog, &mut m)?;
    if let Selection::Boundary(path) = &opts.selection {
        m.kind = "boundary".into();
        m.name = path
            .file_stem()
            .map(|s| s.to_string_lossy().trim_end_matches(".geojson").to_string())
            .unwrap_or_default();
        m.boundary_source = Some(format!("boundary file {}", path.display()));
    }
    if let Some(n) = &opts.name {
        m.name = n.clone();
    }
    m.population = Some(m.communes.iter().filter_map(|c| c.population).sum());

    // The boundary.
    let boundary = match file_boundary {
        Some(b) => Some(b),
        None => boundary(
            &opts.selection,
            &found,
            &commune_features,
            &members,
            &mut m,
            progress,
        )?,
    };
    let clip = match &boundary {
        Some(b) => {
            let region = grow(b, opts.buffer_km);
            let rect = region.bounding_rect().expect("a boundary has a box");
            Clip::Region(region, rect)
        }
        None => {
            m.missing.push(format!(
                "no polygon of the member communes: features are kept by their commune code only; \
                 sources without one (IREP) cannot be placed, catchments and the workforce are not built, \
                 and the {} km buffer is not applied",
                opts.buffer_km
            ));
            Clip::Communes(members.clone())
        }
    };

    let mut layers: BTreeMap<Layer, Vec<Feature>> = BTreeMap::new();
    let mut occupations = None;

    // Catchments: the communes meeting the clip region, with their INSEE code as id.
    if boundary.is_some() {
        let mut kept: Vec<Feature> = Vec::new();
        for f in commune_features {
            if clip.keeps(&f, Layer::Catchments) {
                kept.push(f);
            } else {
                report_c.outside += 1;
            }
        }
        for f in &mut kept {
            let code = text(f, Layer::Catchments, "zone_code").unwrap_or_default();
            f.id = code
                .parse::<FeatureId>()
                .unwrap_or_else(|_| string_id(&code));
        }
        locator.derive(&mut kept, Layer::Catchments, &mut report_c.derived);
        report_c.sources.push(SourceKind::CommuneTable.id().into());
        report_c.imported = kept.len();
        report_c.notes.push(
            "one catchment per commune meeting the territory or its buffer; id = INSEE code".into(),
        );
        occupations = workforce(&found, cog_file, &mut kept, &mut m, &mut report_c, progress)?;
        layers.insert(Layer::Catchments, kept);
    } else {
        report_c
            .notes
            .push("no commune polygon for the territory".into());
    }
    m.layers.insert(Layer::Catchments.id().into(), report_c);

    // Plots: Cartofriches brownfields.
    let mut report_p = LayerReport::default();
    if let Some(f) = found.best(SourceKind::Cartofriches) {
        let mut o = ImportOptions::new(Layer::Plots);
        o.set = vec![
            ("brownfield".into(), "true".into()),
            ("source".into(), "Cerema Cartofriches".into()),
        ];
        let mut feats = import_clipped(f, &o, &clip, progress, &mut report_p)?;
        cartofriches_soil(&mut feats, &mut report_p);
        report_p
            .sources
            .push(SourceKind::CommunePolygons.id().into());
        locator.derive(&mut feats, Layer::Plots, &mut report_p.derived);
        renumber(&mut feats);
        report_p.imported = feats.len();
        layers.insert(Layer::Plots, feats);
    } else {
        m.missing
            .push("no Cartofriches file: plots are empty".into());
    }
    m.layers.insert(Layer::Plots.id().into(), report_p);

    // Waste deposits: IREP establishments, as holders (material and quantity unknown).
    let mut report_w = LayerReport::default();
    match (found.best(SourceKind::Irep), &clip) {
        (Some(f), Clip::Region(..)) => {
            let mut o = ImportOptions::new(Layer::WasteDeposits);
            o.as_holders = true;
            o.set = vec![("source".into(), "Géorisques IREP".into())];
            let mut feats = import_clipped(f, &o, &clip, progress, &mut report_w)?;
            report_w
                .sources
                .push(SourceKind::CommunePolygons.id().into());
            locator.derive(&mut feats, Layer::WasteDeposits, &mut report_w.derived);
            renumber(&mut feats);
            report_w.imported = feats.len();
            report_w.notes.push(
                "IREP lists establishments, not streams: imported as holders, material and tonnage unknown until characterised".into(),
            );
            layers.insert(Layer::WasteDeposits, feats);
        }
        (Some(f), Clip::Communes(_)) => {
            report_w.sources.push(f.kind.id().into());
            report_w.notes.push(format!(
                "{}: IREP establishments carry no commune code, and no commune polygon places them: none imported",
                f.file_name()
            ));
            m.missing
                .push("waste holders (IREP) cannot be placed without commune polygons".into());
        }
        (None, _) => m
            .missing
            .push("no IREP file: waste deposits are empty".into()),
    }
    m.layers.insert(Layer::WasteDeposits.id().into(), report_w);

    // Buildings: no national open file lists buildings for sale or lease.
    m.layers.insert(
        Layer::Buildings.id().into(),
        LayerReport {
            notes: vec![
                "no national open data lists buildings offered for sale or lease: import the territory's own inventory with `terriens import --layer buildings`".into(),
            ],
            ..LayerReport::default()
        },
    );
    m.missing
        .push("buildings: no national open source (import the territory's inventory)".into());

    // Territories: the boundary.
    let mut report_t = LayerReport::default();
    if let Some(b) = &boundary {
        let mut f = Feature {
            id: m.siren.as_deref().and_then(|s| s.parse().ok()).unwrap_or(1),
            version: 1,
            geometry: Geometry::MultiPolygon(b.clone()),
            props: vec![None; schema(Layer::Territories).fields.len()],
            extra: Default::default(),
        };
        let l = Layer::Territories;
        if let Some(s) = &m.siren {
            f.props[slot(l, "siren")] = Some(Value::Text(s.clone()));
        }
        f.props[slot(l, "name")] = Some(Value::Text(m.name.clone()));
        if let Some(t) = &m.epci_type {
            f.props[slot(l, "epci_type")] = Some(Value::Text(t.clone()));
        }
        if let Some(p) = m.population {
            f.props[slot(l, "population")] = Some(Value::Int(p as i64));
        }
        f.props[slot(l, "communes_count")] = Some(Value::Int(m.communes.len() as i64));
        report_t.sources = m
            .boundary_source
            .iter()
            .map(|s| {
                if s.starts_with("EPCI") {
                    SourceKind::EpciBoundary.id().to_string()
                } else {
                    SourceKind::CommunePolygons.id().to_string()
                }
            })
            .chain([SourceKind::CommuneTable.id().to_string()])
            .collect();
        report_t.imported = 1;
        layers.insert(Layer::Territories, vec![f]);
    }
    m.layers.insert(Layer::Territories.id().into(), report_t);

    if found.best(SourceKind::Bmo).is_none() {
        m.missing
            .push("no BMO survey: hiring projects by occupation are unknown".into());
    }
    if found.best(SourceKind::BmoBassins).is_none() {
        m.missing.push(
            "no commune → BMO employment area table: the BMO survey cannot be joined to communes"
                .into(),
        );
    }

    // Write the layers.
    std::fs::create_dir_all(&opts.out).map_err(|source| TerritoryError::Io {
        path: opts.out.display().to_string(),
        source,
    })?;
    let dir = DataDir::open(&opts.out)?;
    if let Some(t) = &occupations {
        t.write(dir.path())
            .map_err(|e| TerritoryError::Input(e.to_string()))?;
    }
    for layer in Layer::ALL {
        let feats = layers.remove(&layer).unwrap_or_default();
        progress.set_message(format!("writing {layer} ({} features)", feats.len()));
        dir.save_layer(&LayerData::build(layer, feats))?;
    }

    // Roads.
    m.roads = roads(&found, &clip, &opts.profiles, &dir, progress)?;
    if !m.has_roads() {
        m.missing.push(
            "no road network covers the territory: drive times, isochrones and the workforce within reach are refused (add an OSM extract of the territory and rebuild, or run `terriens import-roads`)".into(),
        );
    }
    // Sources: the files read; the others said so.
    let mut used: BTreeSet<String> = m
        .layers
        .values()
        .flat_map(|l| l.files.iter().cloned())
        .collect();
    used.extend(m.roads.file.clone());
    used.insert(cog_file.file_name());
    used.extend(m.boundary_file.clone());
    for kind in [SourceKind::Bmo, SourceKind::BmoBassins] {
        if let Some(f) = found.best(kind) {
            used.insert(f.file_name());
        }
    }
    let (kept, unused): (Vec<Source>, Vec<Source>) =
        m.sources.drain(..).partition(|s| used.contains(&s.file));
    m.sources = kept;
    for s in unused {
        let why = if s.kind == SourceKind::Roads.id() {
            "a road network that does not cover the territory as well as the one read"
        } else {
            "another file of the same kind was read (the largest, or the one naming the territory)"
        };
        m.ignored_files.push(format!("{}: not used: {why}", s.file));
    }
    m.write(dir.path())?;
    Ok(m)
}

/// The member communes (INSEE codes); fills the manifest's identity and commune list.
fn members(
    sel: &Selection,
    cog: &HashMap<String, CogRow>,
    m: &mut Manifest,
) -> Result<BTreeSet<String>, TerritoryError> {
    let codes: BTreeSet<String> = match sel {
        Selection::Epci(siren) => {
            let siren = siren.trim();
            if siren.len() != 9 || !siren.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TerritoryError::Input(format!(
                    "--epci {siren}: a SIREN has 9 digits (e.g. 200084952)"
                )));
            }
            let codes: BTreeSet<String> = cog
                .iter()
                .filter(|(_, r)| r.epci_siren == siren)
                .map(|(c, _)| c.clone())
                .collect();
            let Some(first) = codes.iter().next().and_then(|c| cog.get(c)) else {
                return Err(TerritoryError::Input(format!(
                    "no commune of the commune table belongs to EPCI {siren}: check the SIREN"
                )));
            };
            m.siren = Some(siren.to_string());
            m.name = first.epci_name.clone();
            m.kind = "epci".into();
            m.epci_type = (!first.epci_type.is_empty()).then(|| first.epci_type.clone());
            codes
        }
        // `build` turns a boundary into the list of the communes inside it first.
        Selection::Boundary(path) => {
            return Err(TerritoryError::Input(format!(
                "--boundary {}: the communes inside it were not listed",
                path.display()
            )));
        }
        Selection::Communes(list) => {
            let unknown: Vec<&String> = list
                .iter()
                .filter(|c| !cog.contains_key(c.trim()))
                .collect();
            if !unknown.is_empty() {
                return Err(TerritoryError::Input(format!(
                    "--commune: not in the commune table: {}",
                    unknown
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            if list.is_empty() {
                return Err(TerritoryError::Input("--commune: no commune given".into()));
            }
            m.kind = "communes".into();
            m.name = format!("{} communes", list.len());
            list.iter().map(|c| c.trim().to_string()).collect()
        }
    };
    m.communes = codes
        .iter()
        .map(|c| {
            let r = &cog[c];
            Commune {
                insee: c.clone(),
                name: r.name.clone(),
                population: r.population,
                bassin: None,
            }
        })
        .collect();
    Ok(codes)
}

/// The EPCI polygon of the EPCI file, else the union of the member communes' polygons.
fn boundary(
    sel: &Selection,
    found: &Discovered,
    communes: &[Feature],
    members: &BTreeSet<String>,
    m: &mut Manifest,
    progress: &ProgressBar,
) -> Result<Option<MultiPolygon<f64>>, TerritoryError> {
    if let Selection::Epci(siren) = sel {
        for f in found.all(SourceKind::EpciBoundary) {
            progress.set_message(format!("reading {}", f.file_name()));
            let out = import_file(&f.path, &ImportOptions::new(Layer::Territories), progress)?;
            if let Some(poly) = out
                .features
                .iter()
                .find(|t| text(t, Layer::Territories, "siren").as_deref() == Some(siren.trim()))
                .and_then(|t| as_multipolygon(&t.geometry))
            {
                m.boundary_source = Some(format!("EPCI boundary file {}", f.file_name()));
                m.boundary_file = Some(f.file_name());
                return Ok(Some(poly));
            }
        }
    }
    let polys: Vec<MultiPolygon<f64>> = communes
        .iter()
        .filter(|f| text(f, Layer::Catchments, "zone_code").is_some_and(|c| members.contains(&c)))
        .filter_map(|f| as_multipolygon(&f.geometry))
        .collect();
    if polys.is_empty() {
        return Ok(None);
    }
    let found_codes = polys.len();
    if found_codes < members.len() {
        m.missing.push(format!(
            "commune polygons: {found_codes} of the {} member communes have one; the boundary is their union",
            members.len()
        ));
    }
    m.boundary_source = Some("union of the member communes' polygons".into());
    Ok(Some(geo::unary_union(polys.iter())))
}

/// Builds the road graphs from the extract with the most road nodes in the clip region's box.
fn roads(
    found: &Discovered,
    clip: &Clip,
    profiles: &[ProfileId],
    dir: &DataDir,
    progress: &ProgressBar,
) -> Result<RoadsReport, TerritoryError> {
    let mut report = RoadsReport::default();
    let Clip::Region(_, rect) = clip else {
        report.notes.push(
            "no boundary polygon: which road extract covers the territory cannot be told".into(),
        );
        return Ok(report);
    };
    let inside = |p: &[f64; 2]| {
        p[0] >= rect.min().x && p[0] <= rect.max().x && p[1] >= rect.min().y && p[1] <= rect.max().y
    };
    let mut best: Option<(usize, RawNetwork, String, [f64; 4])> = None;
    for f in found.all(SourceKind::Roads) {
        progress.set_message(format!("reading roads {}", f.file_name()));
        let net = match RawNetwork::read_file(&f.path, None) {
            Ok(n) => n,
            Err(e) => {
                report
                    .notes
                    .push(format!("{}: unreadable ({e})", f.file_name()));
                continue;
            }
        };
        let mut n = 0;
        let mut bb = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
        for p in net.lonlat.iter().filter(|p| inside(p)) {
            n += 1;
            bb = [
                bb[0].min(p[0]),
                bb[1].min(p[1]),
                bb[2].max(p[0]),
                bb[3].max(p[1]),
            ];
        }
        if n == 0 {
            report.notes.push(format!(
                "{}: no road node inside the territory's box",
                f.file_name()
            ));
        } else if best.as_ref().is_none_or(|b| n > b.0) {
            best = Some((n, net, f.file_name(), bb));
        }
    }
    let Some((_, net, file, bb)) = best else {
        return Ok(report);
    };
    let area = |b: [f64; 4]| ((b[2] - b[0]).max(0.0)) * ((b[3] - b[1]).max(0.0));
    let whole = area([rect.min().x, rect.min().y, rect.max().x, rect.max().y]);
    let share = if whole > 0.0 { area(bb) / whole } else { 0.0 };
    report.bbox_share = Some((share * 1000.0).round() / 1000.0);
    if share < 0.9 {
        report.notes.push(format!(
            "the extract spans {:.0} % of the territory's box: drive times and the workforce within reach are partial outside it",
            share * 100.0
        ));
    }
    for &profile in profiles {
        progress.set_message(format!("building the {profile} road graph"));
        let graph = RoadGraph::build(&net, profile, &GraphOptions::default())?;
        write_graph(&graph, &dir.path().join(graph_file_name(profile)))?;
        report.nodes.insert(profile.id().into(), graph.node_count());
    }
    report.file = Some(file);
    Ok(report)
}

/// The BMO survey joined to the catchments (hiring projects per occupation, spread from each
/// bassin by population share: see [`crate::ingest::bmo`]); the bassins meeting the territory
/// in the manifest. Returns the occupation labels to write beside the layers.
fn workforce(
    found: &Discovered,
    cog_file: &Found,
    catchments: &mut [Feature],
    m: &mut Manifest,
    report: &mut LayerReport,
    progress: &ProgressBar,
) -> Result<Option<OccupationTable>, TerritoryError> {
    let (Some(bmo_file), Some(bassins_file)) = (
        found.best(SourceKind::Bmo),
        found.best(SourceKind::BmoBassins),
    ) else {
        report
            .notes
            .push("no BMO survey with its commune → bassin table: hiring projects unknown".into());
        return Ok(None);
    };
    let bad = |e: bmo::BmoError| TerritoryError::Input(e.to_string());
    progress.set_message(format!("reading {}", bmo_file.file_name()));
    let survey = bmo::read_bmo(&bmo_file.path).map_err(bad)?;
    let table = bmo::read_bassins(&bassins_file.path).map_err(bad)?;
    let population = bmo::bassin_population_from_cog(&cog_file.path, &table).map_err(bad)?;
    let r = bmo::apply_to_catchments(catchments, &survey, &table, &population);
    report.sources.push(SourceKind::Bmo.id().into());
    report.sources.push(SourceKind::BmoBassins.id().into());
    report.files.push(bmo_file.file_name());
    report.files.push(bassins_file.file_name());
    report.notes.push(format!(
        "BMO {}: {} catchments in {} bassins; masked values (*) kept unknown",
        survey.year.map_or("?".to_string(), |y| y.to_string()),
        r.communes_matched,
        r.bassins_matched.len()
    ));
    // The bassins of the member communes, with the territory's share of their population.
    let mut per_bassin: BTreeMap<String, (String, usize, f64)> = BTreeMap::new();
    for c in &mut m.communes {
        if let Some((code, name)) = table.communes.get(&c.insee) {
            c.bassin = Some(code.clone());
            let e = per_bassin
                .entry(code.clone())
                .or_insert((name.clone(), 0, 0.0));
            e.1 += 1;
            e.2 += c.population.unwrap_or(0) as f64;
        }
    }
    m.bassins = per_bassin
        .into_iter()
        .map(|(code, (name, n, pop))| {
            let total = table.communes.values().filter(|(b, _)| *b == code).count();
            let share = population
                .get(&code)
                .filter(|p| **p > 0.0)
                .map_or(0.0, |p| pop / p);
            Bassin {
                code,
                name,
                communes_in_territory: n,
                communes_total: total,
                population_share: (share * 10_000.0).round() / 10_000.0,
            }
        })
        .collect();
    Ok(Some(OccupationTable::of_survey(&survey)))
}

/// The polygons of a GeoJSON boundary file, in WGS84, as one multipolygon.
fn read_boundary(path: &Path) -> Result<MultiPolygon<f64>, TerritoryError> {
    let bad = |why: String| TerritoryError::Input(format!("--boundary {}: {why}", path.display()));
    let bytes = read_maybe_gz(path).map_err(|source| TerritoryError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let doc = crate::ingest::read_geojson(&bytes).map_err(|e| bad(e.to_string()))?;
    let crs = doc.crs.unwrap_or(crate::geo_util::Crs::Wgs84);
    let rp = crate::geo_util::Reprojector::to_wgs84(&crs).map_err(|e| bad(e.to_string()))?;
    let mut polys = Vec::new();
    for f in doc.features {
        let g = f.geometry.map_err(|e| bad(e.to_string()))?;
        let g = crate::ingest::validate_geometry(g, Layer::Territories, &rp)
            .map_err(|e| bad(format!("feature {}: {e}", f.index)))?;
        polys.extend(as_multipolygon(&g));
    }
    if polys.is_empty() {
        return Err(bad("no polygon in the file".into()));
    }
    Ok(geo::unary_union(polys.iter()))
}

/// The communes of the COG table whose polygon's interior point lies inside the boundary.
fn communes_in(
    boundary: &MultiPolygon<f64>,
    communes: &Areas,
    cog: &HashMap<String, CogRow>,
    path: &Path,
) -> Result<Vec<String>, TerritoryError> {
    use geo::InteriorPoint;
    let codes: Vec<String> = communes
        .items
        .iter()
        .filter(|(code, poly)| {
            cog.contains_key(code)
                && poly
                    .interior_point()
                    .is_some_and(|p| boundary.intersects(&p))
        })
        .map(|(code, _)| code.clone())
        .collect();
    if codes.is_empty() {
        return Err(TerritoryError::Input(format!(
            "--boundary {}: no commune polygon of the source folder lies inside it",
            path.display()
        )));
    }
    Ok(codes)
}

/// Cartofriches states soil pollution in words (`sol_pollution_existe`: "pollution avérée",
/// "pollution supposée", "pollution inexistante", "inconnu"); `soil_pollution` is "known or
/// suspected": true for the first two, false for the third, unknown (empty) otherwise.
fn cartofriches_soil(features: &mut [Feature], report: &mut LayerReport) {
    let s = slot(Layer::Plots, "soil_pollution");
    for f in features.iter_mut().filter(|f| f.props[s].is_none()) {
        let Some(v) = f.extra.get("sol_pollution_existe").and_then(|v| v.as_str()) else {
            continue;
        };
        let known = match v.trim() {
            "pollution avérée" | "pollution supposée" => Some(true),
            "pollution inexistante" => Some(false),
            _ => None,
        };
        if let Some(b) = known {
            f.props[s] = Some(Value::Bool(b));
            *report.derived.entry("soil_pollution".into()).or_insert(0) += 1;
        }
    }
}
