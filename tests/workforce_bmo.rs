//! France Travail's BMO survey joined to commune catchments (`terriens import-bmo`), checked
//! against an independent Python oracle over the raw files (tests/py/bmo_oracle.py, plain csv);
//! `/workforce` saying "unknown" (null) rather than 0; road coverage of catchments checked
//! against shapely + pyproj (tests/py/coverage_oracle.py) on Le Havre and Sainte-Adresse, which
//! the OSM extract covers only in part. Real data only: skipped without `TERRIENS_REALDATA`.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value as Json;
use terriens::api::{AppState, router};
use terriens::index::SharedSnapshot;
use terriens::model::{Layer, Value, schema};
use terriens::routing::Routing;
use terriens::store::DataDir;
use tower::ServiceExt;

const EPCI: &str = "200084952";
const BMO: &str = "bmo_2024_france_travail_bassins.csv.gz";
const BASSINS: &str = "bmo_bassin_emploi_communes.csv";
const COG: &str = "communes_france_cog2021_attributs.csv";
const COMMUNES: &str = "communes_cu_le_havre_seine_metropole_l93.geojson";
const OSM: &str = "osm_lehavre_centre_2023-02-19.osm.pbf";

fn terriens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_terriens"))
        .args(args)
        .output()
        .expect("run terriens")
}

fn ok(args: &[&str]) -> String {
    let out = terriens(args);
    assert!(
        out.status.success(),
        "terriens {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A data directory with the 54 communes of the EPCI as catchments, the BMO survey joined
/// (the report of import-bmo kept) and the car graph of the Le Havre OSM extract. Built once.
fn territory(real: &Path) -> &'static (tempfile::TempDir, String) {
    static DIR: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        let p = |f: &str| real.join(f).to_str().unwrap().to_string();
        ok(&[
            "import",
            "--layer",
            "catchments",
            &p(COMMUNES),
            "--data",
            &d,
        ]);
        let report = ok(&[
            "import-bmo",
            "--bmo",
            &p(BMO),
            "--bassins",
            &p(BASSINS),
            "--cog",
            &p(COG),
            "--data",
            &d,
        ]);
        ok(&["import-roads", &p(OSM), "--profile", "car", "--data", &d]);
        (dir, report)
    })
}

fn counts(v: Option<&Value>) -> BTreeMap<String, f64> {
    match v {
        Some(Value::Counts(m)) => m.clone(),
        other => panic!("expected counts, got {other:?}"),
    }
}

fn codes(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Text(s)) => s.split(',').map(str::to_string).collect(),
        None => Vec::new(),
        other => panic!("expected text, got {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn import_bmo_matches_the_python_oracle() {
    let Some(real) = common::realdata("import_bmo_matches_the_python_oracle") else {
        return;
    };
    let (dir, report) = territory(&real);
    assert!(
        report.contains("communes matched to a bassin: 54"),
        "{report}"
    );
    assert!(
        report.contains("bassins matched: 2 (2806, 2807)"),
        "{report}"
    );
    let oracle: BTreeMap<String, Json> = serde_json::from_str(&common::python::run(
        "bmo_oracle.py",
        "csv",
        &[
            &real.join(BMO),
            &real.join(BASSINS),
            &real.join(COG),
            Path::new(EPCI),
        ],
    ))
    .unwrap();
    assert_eq!(oracle.len(), 54);
    let layer = DataDir::open(dir.path())
        .unwrap()
        .load_layer(Layer::Catchments)
        .unwrap();
    let s = schema(Layer::Catchments);
    let mut seen = BTreeSet::new();
    let mut masked_total = 0;
    for f in layer.features() {
        let code = f.get(s, "zone_code").and_then(Value::as_str).unwrap();
        let want = &oracle[code];
        seen.insert(code.to_string());
        assert_eq!(
            f.get(s, "bassin_code").and_then(Value::as_str),
            want["bassin"].as_str(),
            "{code}"
        );
        assert_eq!(
            f.get(s, "bassin_name").and_then(Value::as_str),
            want["bassin_name"].as_str()
        );
        assert_eq!(f.get(s, "bmo_year"), Some(&Value::Int(2024)));
        let share = f.get(s, "bmo_share").and_then(Value::as_f64).unwrap();
        assert!(close(share, want["share"].as_f64().unwrap()), "{code}");
        for (field, masked_field, col) in [
            ("hiring_projects", "hiring_masked", "met"),
            ("difficult_projects", "difficult_masked", "xmet"),
            ("seasonal_projects", "seasonal_masked", "smet"),
        ] {
            let got = counts(f.get(s, field));
            let exp = want[col].as_object().unwrap();
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                exp.keys().collect::<Vec<_>>(),
                "{code} {col}: occupations"
            );
            for (occ, v) in exp {
                assert!(
                    close(got[occ], v.as_f64().unwrap()),
                    "{code} {col} {occ}: {} vs {v}",
                    got[occ]
                );
            }
            let masked = codes(f.get(s, masked_field));
            let exp_masked: Vec<String> = want["masked"][col]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
                .collect();
            assert_eq!(masked, exp_masked, "{code} {col}: masked");
            // Masked stays unknown: never a 0 in the counts.
            for m in &masked {
                assert!(!got.contains_key(m), "{code} {col}: masked {m} counted");
            }
            masked_total += masked.len();
        }
    }
    assert_eq!(seen.len(), 54);
    assert!(masked_total > 0, "the survey masks values in these bassins");
}

fn app(dir: &Path) -> AppState {
    let data = DataDir::open(dir).unwrap();
    let snap = data.load().unwrap();
    let routing = Routing::load_dir(dir).unwrap().expect("a road graph");
    routing.prepare(&snap);
    AppState::new(SharedSnapshot::new(snap), Some(data)).with_routing(routing)
}

/// Answers recorded for the contract check against openapi.yaml.
static ANSWERS: std::sync::Mutex<Vec<Json>> = std::sync::Mutex::new(Vec::new());

async fn get(state: AppState, uri: &str) -> (StatusCode, Json) {
    let resp = router(state)
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    // The path template of the operation.
    let route = match path.strip_prefix("/layers/") {
        Some(rest) if rest.ends_with("/search") => "/layers/{layer}/search",
        _ => path,
    };
    let names: Vec<&str> = query
        .split('&')
        .filter(|q| !q.is_empty())
        .map(|q| q.split('=').next().unwrap())
        .collect();
    ANSWERS.lock().unwrap().push(serde_json::json!({
        "method": "GET",
        "route": route,
        "query": names,
        "status": status.as_u16(),
        "content_type": content_type,
        "body": body,
    }));
    (status, body)
}

/// The convex-hull coverage of Le Havre and Sainte-Adresse, by shapely over the graph's nodes.
fn coverage_oracle(real: &Path, dir: &Path) -> BTreeMap<String, f64> {
    let routing = Routing::load_dir(dir).unwrap().unwrap();
    let g = routing
        .engine(terriens::routing::ProfileId::Car)
        .unwrap()
        .graph();
    let nodes: Vec<[f64; 2]> = (0..g.node_count() as u32).map(|n| g.lonlat(n)).collect();
    let nodes_path: PathBuf = dir.join("nodes.json");
    std::fs::write(&nodes_path, serde_json::to_vec(&nodes).unwrap()).unwrap();
    serde_json::from_str(&common::python::run(
        "coverage_oracle.py",
        "shapely",
        &[
            &nodes_path,
            &real.join(COMMUNES),
            Path::new("76351"),
            Path::new("76552"),
        ],
    ))
    .unwrap()
}

#[tokio::test]
async fn workforce_says_unknown_and_states_road_coverage() {
    let Some(real) = common::realdata("workforce_says_unknown_and_states_road_coverage") else {
        return;
    };
    let (dir, _) = territory(&real);
    let oracle = coverage_oracle(&real, dir.path());
    let state = app(dir.path());
    // Le Havre city hall, 10 minutes.
    let (status, body) = get(
        state.clone(),
        "/workforce?lon=0.1079&lat=49.4944&minutes=10&direction=to",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No job seekers file was loaded: unknown, not 0.
    assert_eq!(body["totals"]["job_seekers"], Json::Null, "{body}");
    assert_eq!(body["totals"]["candidates"], Json::Null);
    let cs = body["catchments"].as_array().unwrap();
    let by_code = |code: &str| {
        cs.iter()
            .find(|c| c["zone_code"] == code)
            .unwrap_or_else(|| panic!("{code} not in reach: {body}"))
    };
    for code in ["76351", "76552"] {
        let c = by_code(code);
        assert_eq!(c["job_seekers"], Json::Null);
        assert_eq!(c["candidates"], Json::Null);
        let got = c["road_coverage"].as_f64().unwrap();
        let want = oracle[code];
        assert!(
            (got - want).abs() < 2e-3,
            "{code}: road_coverage {got}, shapely {want}"
        );
        assert!(got < 0.99, "{code} is only partly covered: {got}");
    }
    assert_eq!(body["coverage"]["partial"], Json::Bool(true), "{body}");
    let share = body["coverage"]["share"].as_f64().unwrap();
    assert!(share > 0.0 && share < 0.99, "{share}");
    // BMO figures are there, masked ones listed, labels from the occupations table.
    let occ = body["occupations"].as_array().unwrap();
    assert!(!occ.is_empty());
    assert!(occ[0]["label"].is_string() && occ[0]["family_label"].is_string());
    assert!(occ[0]["hiring_projects"].as_f64().unwrap() > 0.0);
    let masked = body["totals"]["masked"]["hiring_projects"]
        .as_array()
        .unwrap();
    assert!(
        !masked.is_empty(),
        "the LE HAVRE bassin masks some met values"
    );
    let hp = body["totals"]["hiring_projects"].as_object().unwrap();
    for m in masked {
        let m = m.as_str().unwrap();
        // Masked in every catchment counted (one bassin): absent, not 0.
        assert!(!hp.contains_key(m), "masked {m} counted as {}", hp[m]);
    }
    assert!(!body["families"].as_array().unwrap().is_empty());

    // The isochrone states the same coverage of the catchments it touches.
    let (status, iso) = get(
        state.clone(),
        "/isochrone?lon=0.1079&lat=49.4944&contours_min=10",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{iso}");
    let cov = &iso["coverage"];
    assert_eq!(cov["partial"], Json::Bool(true), "{cov}");
    let le_havre = cov["catchments_touched"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["zone_code"] == "76351")
        .unwrap();
    assert!((le_havre["road_coverage"].as_f64().unwrap() - oracle["76351"]).abs() < 2e-3);
    let iso_share = cov["isochrone_share"].as_f64().unwrap();
    assert!(iso_share > 0.9, "{iso_share}");

    // A drive-time search states the coverage of what it reached.
    let (status, found) = get(
        state.clone(),
        "/layers/catchments/search?drive_to=0.1079,49.4944&drive_max_min=10",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["coverage"]["partial"], Json::Bool(true), "{found}");
    assert!(found["coverage"]["catchments"].as_u64().unwrap() >= 2);

    // The catalog says how the survey is spread and names the occupations.
    let (_, catalog) = get(state, "/catalog").await;
    assert_eq!(catalog["bmo"]["year"], 2024);
    assert!(
        catalog["bmo"]["spread_rule"]
            .as_str()
            .unwrap()
            .contains("population")
    );
    assert!(catalog["bmo"]["occupations"].as_array().unwrap().len() > 100);

    // The answers (with their nulls) match openapi.yaml.
    let file = dir.path().join("answers.json");
    let answers = std::mem::take(&mut *ANSWERS.lock().unwrap());
    std::fs::write(&file, serde_json::to_vec(&answers).unwrap()).unwrap();
    let spec = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"));
    let out = common::python::run("openapi_answers.py", "jsonschema", &[spec, &file]);
    eprintln!("{out}");
    assert!(out.contains(" 0 problems"), "{out}");
}

#[test]
fn import_bmo_refuses_a_bad_header_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bmo.csv");
    std::fs::write(&bad, "annee,code,met\n2024,A0X40,1\n").unwrap();
    let bassins = dir.path().join("b.csv");
    std::fs::write(
        &bassins,
        "code_commune_insee,code_bassin_BMO,lib_bassin_BMO\n76351,2806,LE HAVRE\n",
    )
    .unwrap();
    let out = terriens(&[
        "import-bmo",
        "--bmo",
        bad.to_str().unwrap(),
        "--bassins",
        bassins.to_str().unwrap(),
        "--cog",
        bassins.to_str().unwrap(),
        "--data",
        dir.path().join("data").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no column for the occupation code") && err.contains("Code métier BMO"),
        "{err}"
    );
}
