//! GeoPackage and Shapefile imports against an independent reader, their clear errors on
//! malformed files, the exit status of `terriens import`, and filters on source attributes.
//!
//! The .gpkg, .shp and .zip files are made at test time with GDAL's `ogr2ogr` from the real
//! files of `TERRIENS_REALDATA` (Cartofriches 76 in WGS84, the Lambert-93 communes of Le Havre
//! Seine Métropole kept in EPSG:2154); GDAL then reads the same files back to GeoJSON in
//! EPSG:4326 (`ogr2ogr -t_srs EPSG:4326`) as the oracle of counts, attributes and coordinates
//! (1e-6°). Filters on source attributes are checked against plain Python over the raw GeoJSON
//! (`tests/py/extras_filter.py`). `ogr2ogr` comes from `scripts/ensure-deps.sh --test`.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use geo::CoordsIter;
use indicatif::ProgressBar;
use serde_json::Value as Json;
use terriens::index::{LayerData, Snapshot};
use terriens::ingest::{ImportOptions, ImportOutcome, IngestError, import_file};
use terriens::model::{Feature, Layer, Value, schema};

const CARTOFRICHES: &str = "cartofriches_76_wgs84.geojson";
const COMMUNES_L93: &str = "communes_cu_le_havre_seine_metropole_l93.geojson";

fn ogr2ogr(args: &[&str]) {
    let out = Command::new("ogr2ogr").args(args).output().unwrap_or_else(|e| {
        panic!("ogr2ogr (GDAL, the independent reader) is needed: run scripts/ensure-deps.sh --test ({e})")
    });
    assert!(
        out.status.success(),
        "ogr2ogr {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What GDAL reads from `src`, as GeoJSON in EPSG:4326 (lon, lat).
fn ogr_wgs84(src: &Path, layer: Option<&str>) -> Vec<Json> {
    let out = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "-t_srs", "EPSG:4326"])
        .args(["-lco", "COORDINATE_PRECISION=12", "/vsistdout/"])
        .arg(if src.extension().is_some_and(|e| e == "zip") {
            format!("/vsizip/{}/communes/communes.shp", src.display())
        } else {
            src.display().to_string()
        })
        .args(layer)
        .output()
        .expect("ogr2ogr runs");
    assert!(
        out.status.success(),
        "ogr2ogr {}: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Json = serde_json::from_slice(&out.stdout).expect("GDAL writes GeoJSON");
    doc["features"].as_array().expect("features").clone()
}

fn import(path: &Path, layer: Layer) -> ImportOutcome {
    import_file(path, &ImportOptions::new(layer), &ProgressBar::hidden())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn import_err(path: &Path, layer: Layer) -> IngestError {
    match import_file(path, &ImportOptions::new(layer), &ProgressBar::hidden()) {
        Ok(o) => panic!(
            "{} imported ({} features) instead of failing",
            path.display(),
            o.features.len()
        ),
        Err(e) => e,
    }
}

/// Every position of a GeoJSON geometry, ring closings included.
fn json_coords(g: &Json, out: &mut Vec<[f64; 2]>) {
    match g {
        Json::Array(a) if a.first().is_some_and(Json::is_number) => {
            out.push([a[0].as_f64().unwrap(), a[1].as_f64().unwrap()]);
        }
        Json::Array(a) => a.iter().for_each(|x| json_coords(x, out)),
        _ => {}
    }
}

/// The two geometries have the same positions (as multisets, whatever the ring orientation,
/// start or polygon order) within 1e-6°.
fn assert_same_positions(ours: &Feature, oracle: &Json, what: &str) {
    let mut want = Vec::new();
    json_coords(&oracle["geometry"]["coordinates"], &mut want);
    let got: Vec<[f64; 2]> = ours.geometry.coords_iter().map(|c| [c.x, c.y]).collect();
    let key = |v: &[[f64; 2]]| {
        // Ring closings repeat a position; compare distinct positions and their count.
        let mut m: Vec<[f64; 2]> = v.to_vec();
        m.sort_by(|a, b| a.partial_cmp(b).unwrap());
        m.dedup_by(|a, b| (a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9);
        m
    };
    let (want, got) = (key(&want), key(&got));
    assert_eq!(
        want.len(),
        got.len(),
        "{what}: number of distinct positions"
    );
    for w in &want {
        let nearest = got
            .iter()
            .map(|g| (g[0] - w[0]).abs().max((g[1] - w[1]).abs()))
            .fold(f64::INFINITY, f64::min);
        assert!(nearest < 1e-6, "{what}: {w:?} is {nearest}° from ours");
    }
}

fn text(f: &Feature, layer: Layer, field: &str) -> Option<String> {
    match f.get(schema(layer), field) {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The Lambert-93 communes, imported from `path` as catchments, equal what GDAL reads of the
/// same file: count, INSEE code as id and zone code, name, population, positions.
fn check_communes(path: &Path, layer: Option<&str>, population_field: &str) {
    let out = import(path, Layer::Catchments);
    let crs = out.report.crs.to_string();
    assert!(
        crs == "EPSG:2154" || crs.contains("Lambert_93"),
        "CRS read: {crs}"
    );
    let oracle = ogr_wgs84(path, layer);
    assert_eq!(oracle.len(), 54);
    assert_eq!(out.report.read, 54);
    assert_eq!(out.features.len(), 54, "{:?}", out.report.rejected.first());
    let by_code: BTreeMap<String, &Feature> = out
        .features
        .iter()
        .map(|f| (text(f, Layer::Catchments, "zone_code").unwrap(), f))
        .collect();
    assert_eq!(by_code.len(), 54);
    for o in &oracle {
        let p = &o["properties"];
        let code = p["code_insee"].as_str().unwrap();
        let f = by_code
            .get(code)
            .unwrap_or_else(|| panic!("commune {code} missing"));
        // Catchments keep their INSEE code as id (a numeric code is the number itself).
        assert_eq!(f.id, code.parse::<u64>().unwrap(), "id of {code}");
        assert_eq!(
            text(f, Layer::Catchments, "zone_name").as_deref(),
            p["nom"].as_str(),
            "name of {code}"
        );
        assert_eq!(
            f.get(schema(Layer::Catchments), "population"),
            Some(&Value::Int(p[population_field].as_i64().unwrap())),
            "population of {code}"
        );
        assert_same_positions(f, o, code);
    }
    let le_havre = by_code["76351"];
    assert_eq!(
        text(le_havre, Layer::Catchments, "zone_name").as_deref(),
        Some("Le Havre")
    );
}

struct Work {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn work() -> Work {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    Work { _dir: dir, path }
}

#[test]
fn geopackage_cartofriches_equals_gdal() {
    let Some(real) = common::realdata("geopackage_cartofriches_equals_gdal") else {
        return;
    };
    let w = work();
    let gpkg = w.path.join("friches.gpkg");
    let src = real.join(CARTOFRICHES);
    ogr2ogr(&[
        "-f",
        "GPKG",
        "-nln",
        "friches",
        gpkg.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    let out = import(&gpkg, Layer::Plots);
    assert_eq!(format!("{:?}", out.report.format), "GeoPackage");
    assert_eq!(out.report.crs.to_string(), "EPSG:4326");
    let oracle = ogr_wgs84(&gpkg, None);
    assert_eq!(oracle.len(), 840);
    assert_eq!(out.features.len(), 840, "{:?}", out.report.rejected.first());
    // The ids follow the same rule as for the GeoJSON (hashed Cerema site_id).
    let from_geojson = import(&src, Layer::Plots);
    let ids = |o: &ImportOutcome| o.features.iter().map(|f| f.id).collect::<BTreeSet<_>>();
    assert_eq!(ids(&out), ids(&from_geojson));
    let by_site: BTreeMap<String, &Feature> = out
        .features
        .iter()
        .map(|f| (text(f, Layer::Plots, "source_id").unwrap(), f))
        .collect();
    for o in &oracle {
        let p = &o["properties"];
        let site = p["site_id"].as_str().unwrap();
        let f = by_site[site];
        assert_same_positions(f, o, site);
        assert_eq!(f.extra.get("site_type"), Some(&p["site_type"]), "{site}");
        assert_eq!(
            f.extra.get("site_statut"),
            Some(&p["site_statut"]),
            "{site}"
        );
        assert_eq!(
            text(f, Layer::Plots, "commune_insee").as_deref(),
            p["comm_insee"].as_str()
        );
        let Some(Value::Float(declared)) = f.get(schema(Layer::Plots), "declared_area_ha") else {
            panic!("{site}: no declared area")
        };
        let surface = p["site_surface"].as_f64().unwrap();
        assert!((declared - surface * 1e-4).abs() < 1e-9, "{site}");
    }
}

#[test]
fn geopackage_lambert93_communes_equal_gdal() {
    let Some(real) = common::realdata("geopackage_lambert93_communes_equal_gdal") else {
        return;
    };
    let w = work();
    let gpkg = w.path.join("communes.gpkg");
    let src = real.join(COMMUNES_L93);
    // Two feature tables: the communes (kept in EPSG:2154), then a copy in WGS84.
    ogr2ogr(&[
        "-f",
        "GPKG",
        "-nln",
        "communes",
        gpkg.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    ogr2ogr(&[
        "-update",
        "-f",
        "GPKG",
        "-nln",
        "communes_wgs84",
        "-t_srs",
        "EPSG:4326",
        gpkg.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    let srs = Command::new("ogrinfo")
        .args(["-so", gpkg.to_str().unwrap(), "communes"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&srs.stdout).contains("Lambert-93"));
    check_communes(&gpkg, Some("communes"), "population_municipale");
    let out = import(&gpkg, Layer::Catchments);
    assert!(
        out.report
            .warnings
            .iter()
            .any(|w| w.contains("2 feature tables") && w.contains("--table")),
        "{:?}",
        out.report.warnings
    );
    let mut opts = ImportOptions::new(Layer::Catchments);
    opts.table = Some("communes_wgs84".into());
    let wgs = import_file(&gpkg, &opts, &ProgressBar::hidden()).unwrap();
    assert_eq!(wgs.report.crs.to_string(), "EPSG:4326");
    assert_eq!(wgs.features.len(), 54);
    opts.table = Some("nope".into());
    let err = import_file(&gpkg, &opts, &ProgressBar::hidden()).unwrap_err();
    assert!(
        err.to_string().contains("no feature table `nope`")
            && err.to_string().contains("communes_wgs84"),
        "{err}"
    );
}

#[test]
fn shapefile_and_zip_lambert93_communes_equal_gdal() {
    let Some(real) = common::realdata("shapefile_and_zip_lambert93_communes_equal_gdal") else {
        return;
    };
    let w = work();
    let src = real.join(COMMUNES_L93);
    // GDAL's default (no .cpg, the .dbf header says ISO-8859-1), and UTF-8 and Latin-1 .cpg.
    for (dir, lco) in [
        ("default", None),
        ("utf8", Some("ENCODING=UTF-8")),
        ("latin1", Some("ENCODING=ISO-8859-1")),
    ] {
        let d = w.path.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        let shp = d.join("communes.shp");
        let mut args = vec!["-f", "ESRI Shapefile"];
        if let Some(l) = lco {
            args.extend(["-lco", l]);
        }
        args.extend([shp.to_str().unwrap(), src.to_str().unwrap()]);
        ogr2ogr(&args);
        // The .dbf names are cut to 10 characters: population_municipale → population.
        check_communes(&shp, None, "population");
    }
    // The same files in a zip, under a folder.
    let zip_path = w.path.join("communes.zip");
    zip(
        &zip_path,
        &w.path.join("utf8"),
        "communes/",
        &["shp", "shx", "dbf", "prj", "cpg"],
    );
    check_communes(&zip_path, None, "population");
    // Accents come through the code pages.
    for p in [
        w.path.join("latin1/communes.shp"),
        w.path.join("default/communes.shp"),
        zip_path.clone(),
    ] {
        let out = import(&p, Layer::Catchments);
        let names: BTreeSet<String> = out
            .features
            .iter()
            .filter_map(|f| text(f, Layer::Catchments, "zone_name"))
            .collect();
        assert!(names.contains("Épouville"), "{}: {names:?}", p.display());
    }
}

/// Writes a zip of `dir/communes.{exts}` with names under `prefix`, with Python's zipfile.
fn zip(out: &Path, dir: &Path, prefix: &str, exts: &[&str]) {
    let files: Vec<String> = exts
        .iter()
        .map(|e| dir.join(format!("communes.{e}")).display().to_string())
        .collect();
    let script = "import sys, zipfile, os\n\
                  out, prefix, files = sys.argv[1], sys.argv[2], sys.argv[3:]\n\
                  with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n\
                  \x20   for f in files:\n\
                  \x20       z.write(f, prefix + os.path.basename(f))\n";
    let st = Command::new("python3")
        .args(["-c", script, out.to_str().unwrap(), prefix])
        .args(&files)
        .status()
        .expect("python3 runs");
    assert!(st.success());
}

fn communes_shp(real: &Path, w: &Work) -> PathBuf {
    let d = w.path.join("shp");
    std::fs::create_dir_all(&d).unwrap();
    let shp = d.join("communes.shp");
    ogr2ogr(&[
        "-f",
        "ESRI Shapefile",
        shp.to_str().unwrap(),
        real.join(COMMUNES_L93).to_str().unwrap(),
    ]);
    shp
}

#[test]
fn truncated_geopackage_is_a_clear_error() {
    let Some(real) = common::realdata("truncated_geopackage_is_a_clear_error") else {
        return;
    };
    let w = work();
    let gpkg = w.path.join("communes.gpkg");
    ogr2ogr(&[
        "-f",
        "GPKG",
        gpkg.to_str().unwrap(),
        real.join(COMMUNES_L93).to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&gpkg).unwrap();
    let cut = w.path.join("cut.gpkg");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = import_err(&cut, Layer::Catchments).to_string();
    assert!(err.starts_with("GeoPackage: "), "{err}");
    assert!(err.contains("damaged or truncated"), "{err}");
    // Not even the header page: still a GeoPackage error, not a CSV one.
    let head = w.path.join("head.gpkg");
    std::fs::write(&head, &bytes[..100]).unwrap();
    let err = import_err(&head, Layer::Catchments).to_string();
    assert!(err.starts_with("GeoPackage: "), "{err}");
}

#[test]
fn geopackage_without_geometry_column_is_a_clear_error() {
    let Some(real) = common::realdata("geopackage_without_geometry_column_is_a_clear_error") else {
        return;
    };
    let w = work();
    let gpkg = w.path.join("attributes.gpkg");
    ogr2ogr(&[
        "-f",
        "GPKG",
        gpkg.to_str().unwrap(),
        real.join("communes_france_cog2021_attributs.csv")
            .to_str()
            .unwrap(),
    ]);
    let err = import_err(&gpkg, Layer::Catchments).to_string();
    assert!(
        err.contains("no feature table with a geometry column"),
        "{err}"
    );
    // Also when the file is not named .gpkg: the SQLite magic says what it is.
    let renamed = w.path.join("attributes.dat");
    std::fs::copy(&gpkg, &renamed).unwrap();
    let err = import_err(&renamed, Layer::Catchments).to_string();
    assert!(
        err.contains("no feature table with a geometry column"),
        "{err}"
    );
}

#[test]
fn shapefile_without_dbf_is_a_clear_error() {
    let Some(real) = common::realdata("shapefile_without_dbf_is_a_clear_error") else {
        return;
    };
    let w = work();
    let shp = communes_shp(&real, &w);
    std::fs::remove_file(shp.with_extension("dbf")).unwrap();
    let err = import_err(&shp, Layer::Catchments).to_string();
    assert!(err.contains("the .dbf file is missing"), "{err}");
}

#[test]
fn shapefile_with_wrong_or_unknown_crs_is_a_clear_error() {
    let Some(real) = common::realdata("shapefile_with_wrong_or_unknown_crs_is_a_clear_error")
    else {
        return;
    };
    let w = work();
    let shp = communes_shp(&real, &w);
    let prj = shp.with_extension("prj");
    std::fs::write(&prj, "Lambert 93").unwrap();
    let err = import_err(&shp, Layer::Catchments).to_string();
    assert!(err.contains("not WKT"), "{err}");
    // A definition PROJ cannot read (cut short).
    std::fs::write(
        &prj,
        r#"PROJCS["RGF_1993_Lambert_93",GEOGCS["GCS_RGF_1993",DATUM["D_RGF_1993",SPHEROID["GRS_1980""#,
    )
    .unwrap();
    let err = import_err(&shp, Layer::Catchments).to_string();
    assert!(err.contains("unknown CRS"), "{err}");
    // A .prj that names a geographic CRS while the coordinates are Lambert-93 metres: every
    // feature is rejected with the hint about the CRS.
    std::fs::write(
        &prj,
        r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#,
    )
    .unwrap();
    let out = import(&shp, Layer::Catchments);
    assert!(out.features.is_empty());
    assert_eq!(out.report.rejected.len(), 54);
    assert!(
        out.report.rejected[0].to_string().contains("out of range"),
        "{}",
        out.report.rejected[0]
    );
}

#[test]
fn zip_without_shp_is_a_clear_error() {
    let Some(real) = common::realdata("zip_without_shp_is_a_clear_error") else {
        return;
    };
    let w = work();
    let shp = communes_shp(&real, &w);
    let zip_path = w.path.join("nothing.zip");
    zip(&zip_path, shp.parent().unwrap(), "", &["dbf", "prj"]);
    let err = import_err(&zip_path, Layer::Catchments).to_string();
    assert!(err.contains("the zip holds no .shp file"), "{err}");
    assert!(err.contains("communes.dbf"), "{err}");
}

/// `terriens import` in a fresh data directory: exit status, stdout, stderr.
fn run_import(data: &Path, layer: &str, file: &Path, more: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_terriens"))
        .args(["import", "--layer", layer, "--data"])
        .arg(data)
        .arg(file)
        .args(more)
        .env("NO_COLOR", "1")
        .output()
        .expect("the terriens binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn import_exit_status_says_whether_anything_was_imported() {
    let w = work();
    let dir = &w.path;
    let good = r#"{"type":"Feature","properties":{"name":"a"},"geometry":{"type":"Point","coordinates":[0.1,49.5]}}"#;
    let bad = r#"{"type":"Feature","properties":{"name":"b"},"geometry":null}"#;
    let write = |name: &str, features: &[&str]| {
        let p = dir.join(name);
        std::fs::write(
            &p,
            format!(
                r#"{{"type":"FeatureCollection","features":[{}]}}"#,
                features.join(",")
            ),
        )
        .unwrap();
        p
    };
    let partial = write("partial.geojson", &[good, bad]);
    let all_bad = write("all_bad.geojson", &[bad, bad]);
    let empty = write("empty.geojson", &[]);

    // A partial import succeeds, with its rejects reported.
    let (ok, stdout, stderr) = run_import(&dir.join("d1"), "plots", &partial, &[]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("imported 1") && stdout.contains("rejected 1"),
        "{stdout}"
    );
    assert!(
        stderr.contains("rejected feature 1: feature has no geometry"),
        "{stderr}"
    );

    // Everything rejected: non-zero, and why.
    let (ok, _, stderr) = run_import(&dir.join("d2"), "plots", &all_bad, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("nothing imported: all 2 features") && stderr.contains("no geometry"),
        "{stderr}"
    );

    // No features at all.
    let (ok, _, stderr) = run_import(&dir.join("d3"), "plots", &empty, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("nothing imported") && stderr.contains("holds no features"),
        "{stderr}"
    );

    // --strict refuses the partial file.
    let (ok, _, stderr) = run_import(&dir.join("d4"), "plots", &partial, &["--strict"]);
    assert!(!ok);
    assert!(
        stderr.contains("strict import: 1 of 2 features rejected"),
        "{stderr}"
    );
}

#[test]
fn import_exit_status_on_real_files() {
    let Some(real) = common::realdata("import_exit_status_on_real_files") else {
        return;
    };
    let w = work();
    // IREP establishments are no waste streams: all 227 rejected without --as-holders.
    let irep = real.join("irep_2021_etablissements_76_wgs84.geojson");
    let (ok, _, stderr) = run_import(&w.path.join("d1"), "waste_deposits", &irep, &[]);
    assert!(!ok);
    assert!(
        stderr.contains("nothing imported: all 227 features"),
        "{stderr}"
    );
    assert!(stderr.contains("--as-holders"), "{stderr}");
    // A GeoPackage through the binary, with --table.
    let gpkg = w.path.join("communes.gpkg");
    ogr2ogr(&[
        "-f",
        "GPKG",
        "-nln",
        "communes",
        gpkg.to_str().unwrap(),
        real.join(COMMUNES_L93).to_str().unwrap(),
    ]);
    let (ok, stdout, stderr) = run_import(
        &w.path.join("d2"),
        "catchments",
        &gpkg,
        &["--table", "communes"],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("imported 54"), "{stdout}");
}

/// Plots from the real Cartofriches file, served by the router.
fn cartofriches_router(real: &Path) -> axum::Router {
    let out = import(&real.join(CARTOFRICHES), Layer::Plots);
    common::router(Snapshot::new(
        1,
        [LayerData::build(Layer::Plots, out.features)],
    ))
}

fn python_ids(real: &Path, conds: &[&str]) -> BTreeSet<String> {
    let mut args = vec![
        "tests/py/extras_filter.py".to_string(),
        real.join(CARTOFRICHES).display().to_string(),
        "site_id".into(),
    ];
    args.extend(conds.iter().map(|c| c.to_string()));
    let out = Command::new("python3")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<String>>(&out.stdout)
        .unwrap()
        .into_iter()
        .collect()
}

fn source_ids(body: &Json) -> BTreeSet<String> {
    body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["source_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn source_attributes_filter_like_fields() {
    let Some(real) = common::realdata("source_attributes_filter_like_fields") else {
        return;
    };
    let router = cartofriches_router(&real);
    let cases: &[(&str, &[&str])] = &[
        (
            "site_type=friche%20industrielle",
            &["site_type=friche industrielle"],
        ),
        (
            "site_type=friche%20industrielle,mixte&unite_fonciere_surface_min=10000",
            &[
                "site_type=friche industrielle,mixte",
                "unite_fonciere_surface>=10000",
            ],
        ),
        (
            "unite_fonciere_surface=..5000&site_statut=friche%20potentielle",
            &[
                "unite_fonciere_surface<=5000",
                "site_statut=friche potentielle",
            ],
        ),
    ];
    for (query, conds) in cases {
        let want = python_ids(&real, conds);
        assert!(!want.is_empty(), "{query}: the oracle selects something");
        for path in ["/layers/plots/search", "/ogc/collections/plots/items"] {
            let (status, _, body) =
                common::http::get(&router, &format!("{path}?{query}&limit=1000")).await;
            assert_eq!(status, 200, "{path}?{query}: {body}");
            assert_eq!(source_ids(&body), want, "{path}?{query}");
        }
    }
    // With a typed field too, and the reserved names stay reserved.
    let (status, _, body) = common::http::get(
        &router,
        "/layers/plots/search?site_type=friche%20industrielle&declared_area_ha_min=1&limit=1000",
    )
    .await;
    assert_eq!(status, 200);
    let big: BTreeSet<String> = python_ids(
        &real,
        &["site_type=friche industrielle", "site_surface>=10000"],
    );
    assert_eq!(source_ids(&body), big);

    // A typo names the parameter and lists the source attributes with their types.
    let (status, _, body) = common::http::get(&router, "/layers/plots/search?site_typ=mixte").await;
    assert_eq!(status, 400, "{body}");
    let detail = body.to_string();
    assert!(
        detail.contains("site_typ") && detail.contains("site_type (string)"),
        "{detail}"
    );
    assert!(
        detail.contains("unite_fonciere_surface (number)"),
        "{detail}"
    );
    // A number attribute refuses text.
    let (status, _, body) = common::http::get(
        &router,
        "/layers/plots/search?unite_fonciere_surface_min=big",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("must be a number"), "{body}");

    // Tiles of the layer filter on them too: tile 10/512/349 holds Le Havre, whose
    // brownfields include industrial ones (the oracle says how many in the tile's box).
    let tile_box = |x: f64, y: f64| {
        let n = 1024.0;
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| {
            (std::f64::consts::PI * (1.0 - 2.0 * y / n))
                .sinh()
                .atan()
                .to_degrees()
        };
        (lon(x), lat(y + 1.0), lon(x + 1.0), lat(y))
    };
    let (w, so, e, no) = tile_box(512.0, 349.0);
    let (status, _, body) = common::http::get(
        &router,
        &format!(
            "/layers/plots/search?site_type=friche%20industrielle&bbox={w},{so},{e},{no}&limit=1000"
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !source_ids(&body).is_empty(),
        "industrial brownfields in the tile"
    );
    for (query, want) in [
        ("site_type=friche%20industrielle", 200),
        ("site_type=nothing%20of%20the%20kind", 204),
        ("site_typ=mixte", 400),
    ] {
        let (status, _, body) =
            common::http::get(&router, &format!("/tiles/plots/10/512/349.mvt?{query}")).await;
        assert_eq!(status, want, "tile ?{query}: {body}");
    }

    // The catalog lists them, typed and marked as source attributes.
    let (status, _, catalog) = common::http::get(&router, "/catalog").await;
    assert_eq!(status, 200);
    let plots = catalog["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "plots")
        .unwrap();
    let attrs: BTreeMap<String, &Json> = plots["source_attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap().to_string(), a))
        .collect();
    assert_eq!(attrs["site_type"]["type"], "string");
    assert_eq!(attrs["site_type"]["source"], true);
    assert_eq!(attrs["site_type"]["rows"], 840);
    assert_eq!(attrs["unite_fonciere_surface"]["type"], "number");
    assert!(
        !attrs.contains_key("site_surface"),
        "an alias of a field is no source attribute"
    );
}
