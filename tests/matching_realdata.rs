//! Matching on a real territory: `terriens territory build` of CU Le Havre Seine Métropole from
//! the national files (Cerema brownfields as plots, IREP establishments as waste holders, the
//! OpenStreetMap extract as roads, BMO and communes as catchments). IREP says who holds waste,
//! not what: each holder is characterised through the editing API as a prospection team
//! would (a material, a tonnage, some confidential), by a rule the oracle applies on its own.
//! Then 20 random projects are matched and the Python oracle (`tests/py/match_oracle.py`, on
//! raw sites and deposits read from the national CSVs by `tests/py/realdata_match_fixtures.py`)
//! recomputes every constraint, criterion, total, ranking and impact.

use crate::common;
use crate::matching::run_oracle_on;

use std::path::Path;

use axum::http::StatusCode;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use terriens::model::Layer;
use terriens::routing::Routing;
use terriens::store::DataDir;

const LE_HAVRE: &str = "200084952";
const PROJECTS: usize = 20;
const MATERIALS: [&str; 5] = ["wood", "plastic", "metal", "organic", "paper_cardboard"];

/// The characterisation rule (the same as `characterise` of the fixtures script).
fn characterise(id: u64) -> (&'static str, f64, &'static str) {
    (
        MATERIALS[(id % 5) as usize],
        (50 + (id * 37) % 5000) as f64,
        if id.is_multiple_of(7) {
            "partners"
        } else {
            "public"
        },
    )
}

fn project(rng: &mut ChaCha8Rng) -> Value {
    let mut p = serde_json::Map::new();
    if rng.random_bool(0.6) {
        p.insert(
            "land_min_ha".into(),
            json!([0.1, 0.5, 1.0, 3.0].choose(rng)),
        );
    }
    if rng.random_bool(0.4) {
        p.insert("land_max_ha".into(), json!([5.0, 10.0, 30.0].choose(rng)));
    }
    // The brownfields' zones are not all known: every zone accepted, so that the constraints
    // checked are the land ones.
    p.insert(
        "accepts".into(),
        json!(["flood_zone", "seveso", "natura2000", "soil_pollution"]),
    );
    let n = rng.random_range(1..=2);
    let materials: Vec<Value> = MATERIALS
        .choose_multiple(rng, n)
        .map(|m| {
            let tonnes = [100.0, 1000.0, 10000.0].choose(rng);
            let minutes = [3.0, 6.0, 10.0].choose(rng);
            let profile = ["car", "hgv"].choose(rng);
            json!({
                "material": m,
                "tonnes_per_year": tonnes,
                "max_drive_min": minutes,
                "profile": profile,
            })
        })
        .collect();
    p.insert("materials".into(), json!(materials));
    if rng.random_bool(0.5) {
        let headcount = [5, 50].choose(rng);
        p.insert(
            "occupations".into(),
            json!([{"code": "D1X33", "headcount": headcount, "max_commute_min": 10}]),
        );
    }
    p.insert(
        "weights".into(),
        json!({"land": rng.random_range(1..=3), "materials": rng.random_range(1..=3), "workforce": 1}),
    );
    Value::Object(p)
}

#[tokio::test(flavor = "multi_thread")]
async fn le_havre_matches_agree_with_the_oracle_on_raw_files() {
    let Some(realdata) = common::realdata("the Le Havre matching oracle") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data_path = tmp.path().join("data");
    let o = std::process::Command::new(common::server::BIN)
        .args(["territory", "build", "--epci", LE_HAVRE, "--from"])
        .arg(&realdata)
        .arg("--out")
        .arg(&data_path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let data = DataDir::open(&data_path).unwrap();
    let routing = Routing::load_dir(&data_path)
        .unwrap()
        .expect("the OSM roads");
    let d = crate::projects::serving(tmp, data, routing);
    // Characterise every holder through the editing API.
    let deposit_ids: Vec<u64> = d
        .state
        .snapshot
        .load()
        .layer(Layer::WasteDeposits)
        .ids()
        .iter()
        .copied()
        .collect();
    assert!(
        deposit_ids.len() >= 20,
        "IREP holders in the territory: {}",
        deposit_ids.len()
    );
    for &id in &deposit_ids {
        let (material, tonnes, confidentiality) = characterise(id);
        let body = json!({"properties": {"material": material, "quantity": tonnes, "confidentiality": confidentiality}});
        let (s, _, b) = common::app::call(
            &d.router,
            Some(&d.partner),
            "PATCH",
            &format!("/layers/waste_deposits/features/{id}"),
            &[("content-type", "application/merge-patch+json")],
            Some(body.to_string()),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{id}: {b}");
    }
    let seed: u64 = rand::rng().random();
    println!("Le Havre match oracle seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let projects: Vec<Value> = (0..PROJECTS).map(|_| project(&mut rng)).collect();
    let mut answers = Vec::new();
    let mut listed = 0;
    for p in &projects {
        let (s, _, a) = common::app::call(
            &d.router,
            None,
            "POST",
            "/match?explain=all&limit=200",
            &[
                ("content-type", "application/json"),
                ("accept-language", "en"),
            ],
            Some(p.to_string()),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{p}: {a}");
        listed += a["numberReturned"].as_u64().unwrap();
        answers.push(a);
    }
    assert!(listed > 0, "no site matched any project");
    let snap = d.state.snapshot.load();
    let ids = json!({
        "plots": snap.layer(Layer::Plots).ids().iter().collect::<Vec<_>>(),
        "waste_deposits": deposit_ids,
    });
    let raw = tempfile::tempdir().unwrap();
    let ids_file = raw.path().join("ids.json");
    std::fs::write(&ids_file, ids.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/realdata_match_fixtures.py");
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(&realdata)
        .arg(&ids_file)
        .arg(raw.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "raw fixtures: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    println!("raw fixtures: {out}");
    let summary = run_oracle_on(&d, raw.path(), &projects, &answers);
    println!("Le Havre oracle: {summary}");
    assert!(
        summary["checked"]["sites"].as_u64().unwrap() >= (PROJECTS * 100) as u64,
        "{summary}"
    );
    assert!(
        summary["checked"]["impacts"].as_u64().unwrap_or(0) >= 20,
        "{summary}"
    );
}
