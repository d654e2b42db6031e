//! `terriens territory build` on the real national files, then the diagnostic served by a real
//! `terriens serve`, checked against an independent Python script over the raw files
//! (`tests/py/diagnostic_oracle.py`: csv, json and shapely, not terriens' importer).

use crate::common;
use crate::common::python;
use crate::common::server::{BIN, Server};
use crate::common::wire::{Resp, request};

use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;

const LE_HAVRE: &str = "200084952";
/// CU Caen la Mer (Calvados): the national files hold its communes and brownfields, but no
/// commune polygon and no road extract.
const CAEN: &str = "200065597";

fn build(realdata: &Path, siren: &str, out: &Path) -> (bool, String, String) {
    let o = Command::new(BIN)
        .args(["territory", "build", "--epci", siren, "--from"])
        .arg(realdata)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run terriens");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn get(server: &Server, path: &str) -> Resp {
    request(server.addr, "GET", path, &[], None).unwrap()
}

fn oracle(realdata: &Path, siren: &str) -> Json {
    let out = python::run(
        "diagnostic_oracle.py",
        "shapely",
        &[realdata, Path::new(siren)],
    );
    serde_json::from_str(&out).unwrap()
}

/// The groups of a breakdown as key → (count, total).
fn groups(v: &Json, unit: &str) -> std::collections::BTreeMap<String, (u64, f64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_string(),
                (g["count"].as_u64().unwrap(), g[unit].as_f64().unwrap()),
            )
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.002 + 1e-9 * b.abs()
}

fn check_land(land: &Json, want: &Json) {
    assert_eq!(land["count"], want["count"], "plots of the territory");
    assert!(
        close(
            land["area_ha"].as_f64().unwrap(),
            want["area_ha"].as_f64().unwrap()
        ),
        "{} ha against {}",
        land["area_ha"],
        want["area_ha"]
    );
    let size = groups(&land["by_size_class"], "area_ha");
    for (class, w) in want["by_size_class"].as_object().unwrap() {
        let (n, ha) = size[class];
        assert_eq!(n, w[0].as_u64().unwrap(), "{class}");
        assert!(
            close(ha, w[1].as_f64().unwrap()),
            "{class}: {ha} against {}",
            w[1]
        );
    }
    let constraints = groups(&land["constraints"], "area_ha");
    let (n, ha) = constraints["soil_pollution"];
    assert_eq!(
        n,
        want["soil_pollution"][0].as_u64().unwrap(),
        "soil pollution"
    );
    assert!(
        close(ha, want["soil_pollution"][1].as_f64().unwrap()),
        "{ha}"
    );
    for (attr, values) in want["by_source_attribute"].as_object().unwrap() {
        let got = groups(&land["by_source_attribute"][attr], "area_ha");
        assert_eq!(
            got.len(),
            values.as_object().unwrap().len(),
            "{attr}: {got:?} against {values}"
        );
        for (k, w) in values.as_object().unwrap() {
            let (n, ha) = got[k];
            assert_eq!(n, w[0].as_u64().unwrap(), "{attr}={k}");
            assert!(
                close(ha, w[1].as_f64().unwrap()),
                "{attr}={k}: {ha} against {}",
                w[1]
            );
        }
    }
}

/// BMO figures per occupation: the oracle's spread of each bassin's met/xmet/smet by the
/// population share of the territory's communes; masked values unknown, never 0.
fn check_workforce(wf: &Json, want: &Json) {
    assert!(
        wf["job_seekers"].is_null(),
        "no file gives job seekers: unknown"
    );
    assert!(wf["candidates"].is_null());
    let want_occ = want["occupations"].as_object().unwrap();
    let got: Vec<&Json> = wf["occupations"].as_array().unwrap().iter().collect();
    assert_eq!(got.len(), want_occ.len(), "occupations");
    let mut known = 0.0;
    for o in got {
        let code = o["code"].as_str().unwrap();
        let w = &want_occ[code];
        // Labels as published, the trailing no-break spaces of the survey trimmed.
        assert_eq!(
            o["label"].as_str().unwrap(),
            w["label"].as_str().unwrap().trim(),
            "{code}"
        );
        let masked: Vec<&str> = o["masked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        for (field, k) in [
            ("hiring_projects", "met"),
            ("difficult_projects", "xmet"),
            ("seasonal_projects", "smet"),
        ] {
            let is_masked = w["masked"][k].as_bool().unwrap();
            assert_eq!(masked.contains(&field), is_masked, "{code} {field} masked");
            let expected = w[k].as_f64().unwrap();
            match o[field].as_f64() {
                // Masked in every bassin: unknown, not 0.
                None => assert!(
                    is_masked && expected == 0.0,
                    "{code} {field}: null against {expected}"
                ),
                Some(v) => assert!(
                    (v - expected).abs() <= 0.051,
                    "{code} {field}: {v} against {expected}"
                ),
            }
        }
        known += w["met"].as_f64().unwrap();
    }
    let total = wf["hiring_projects"].as_f64().unwrap();
    assert!(
        (total - known).abs() <= 0.05 * want_occ.len() as f64,
        "{total} against {known}"
    );
}

#[test]
fn le_havre_built_from_the_national_files_and_its_diagnostic_equals_the_oracle() {
    let Some(realdata) = common::realdata("le_havre_diagnostic") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("lh");
    let (ok, report, err) = build(&realdata, LE_HAVRE, &out);
    assert!(ok, "{report}\n{err}");
    assert!(
        report.contains("54 communes, 269060 inhabitants"),
        "{report}"
    );
    assert!(
        report.contains("roads: osm_lehavre_centre_2023-02-19.osm.pbf"),
        "{report}"
    );
    // A second build into the same directory is refused: nothing is overwritten.
    let (ok2, _, err2) = build(&realdata, LE_HAVRE, &out);
    assert!(!ok2 && err2.contains("is not empty"), "{err2}");

    let want = oracle(&realdata, LE_HAVRE);
    let server = Server::start(&["--data", out.to_str().unwrap()], &[]);
    let r = get(&server, &format!("/territories/{LE_HAVRE}/diagnostic"));
    assert_eq!(r.status, 200, "{}", r.text());
    let d = r.json();
    assert_eq!(d["territory"]["population"], want["population"]);
    assert_eq!(d["territory"]["communes"], want["members"]);
    check_land(&d["land"], &want["land"]);
    assert_eq!(d["waste"]["deposits"], want["waste"]["deposits"]);
    assert_eq!(d["waste"]["holders"], want["waste"]["holders"]);
    // IREP lists establishments, not streams: no tonnage is invented.
    assert_eq!(d["waste"]["not_characterised"], want["waste"]["deposits"]);
    assert_eq!(d["waste"]["tonnes_per_year"], 0.0);
    assert!(d["waste"].get("partners_only").is_none(), "anonymous");
    check_workforce(&d["workforce"], &want["workforce"]);
    // Sources and vintages come from the files read.
    let vintages: Vec<(String, String)> = d["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["vintage"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (kind, vintage) in [
        ("cartofriches", "2023-10-02"),
        ("irep", "2021"),
        ("bmo", "2024"),
        ("roads", "2023-02-19"),
    ] {
        assert!(
            vintages.contains(&(kind.to_string(), vintage.to_string())),
            "{kind} {vintage}: {vintages:?}"
        );
    }

    // The same figures as CSV.
    let csv = get(
        &server,
        &format!("/territories/{LE_HAVRE}/diagnostic?f=csv"),
    );
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let text = csv.text();
    let total = format!(
        "land,total,,{},{},ha",
        d["land"]["count"], d["land"]["area_ha"]
    );
    assert!(text.lines().any(|l| l == total), "{total} not in\n{text}");
    let accept = request(
        server.addr,
        "GET",
        &format!("/territories/{LE_HAVRE}/diagnostic"),
        &[("Accept", "text/csv")],
        None,
    )
    .unwrap();
    assert_eq!(accept.text(), text);

    // Filters on the derived fields: the plots of the territory by its SIREN.
    let plots = get(
        &server,
        &format!("/layers/plots/search?territory={LE_HAVRE}&limit=1000"),
    );
    assert_eq!(plots.status, 200, "{}", plots.text());
    assert_eq!(
        plots.json()["features"].as_array().unwrap().len() as u64,
        want["land"]["count"].as_u64().unwrap()
    );

    // Credits: the real producers, not the demo's.
    let tj = get(&server, "/tiles/all.json").json();
    let attribution = tj["attribution"].as_str().unwrap();
    assert!(attribution.contains("Cartofriches"), "{attribution}");
    assert!(attribution.contains("IREP"), "{attribution}");
    assert!(!attribution.contains("synthetic"), "{attribution}");

    // The page, and clear errors.
    let page = get(&server, &format!("/territories/{LE_HAVRE}"));
    assert_eq!(page.status, 200);
    assert!(page.text().contains("chart.umd.min.js"));
    for (path, status, slug) in [
        (
            "/territories/123456789/diagnostic".to_string(),
            404,
            "territory-not-found",
        ),
        (
            "/territories/12/diagnostic".to_string(),
            400,
            "bad-parameter",
        ),
        (
            format!("/territories/{LE_HAVRE}/diagnostic?f=xml"),
            400,
            "bad-parameter",
        ),
        (
            format!("/territories/{LE_HAVRE}/diagnostic?foo=1"),
            400,
            "bad-parameter",
        ),
        (
            "/territories/123456789".to_string(),
            404,
            "territory-not-found",
        ),
    ] {
        let r = get(&server, &path);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(r.json()["type"].as_str().unwrap().ends_with(slug), "{path}");
    }
}

#[test]
fn an_epci_of_another_departement_without_polygons_or_roads() {
    let Some(realdata) = common::realdata("caen_without_roads") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("caen");
    let (ok, report, err) = build(&realdata, CAEN, &out);
    assert!(ok, "{report}\n{err}");
    assert!(report.contains("roads: none"), "{report}");
    assert!(
        report.contains("missing: no road network covers the territory"),
        "{report}"
    );
    assert!(
        report.contains("missing: no polygon of the member communes"),
        "{report}"
    );
    assert!(
        report.contains("IREP establishments carry no commune code"),
        "{report}"
    );

    let want = oracle(&realdata, CAEN);
    assert_eq!(want["waste"]["placed"], false);
    let server = Server::start(&["--data", out.to_str().unwrap()], &[]);
    let d = get(&server, &format!("/territories/{CAEN}/diagnostic")).json();
    assert_eq!(d["territory"]["communes"], want["members"]);
    check_land(&d["land"], &want["land"]);
    assert_eq!(d["waste"]["deposits"], 0);
    assert!(
        d["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("no road network")),
        "{}",
        d["missing"]
    );
    // Drive times are refused with a clear 4xx, not guessed.
    for path in [
        "/workforce?lon=-0.37&lat=49.18&minutes=20",
        "/isochrone?lon=-0.37&lat=49.18&contours_min=10",
        "/sites/search?drive_from=-0.37,49.18&drive_max_min=10",
    ] {
        let r = get(&server, path);
        assert!(
            (400..500).contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.text()
        );
        let detail = r.json()["detail"].as_str().unwrap_or("").to_string();
        assert!(detail.contains("road"), "{path}: {detail}");
    }
}

#[test]
fn a_boundary_file_or_a_list_of_communes_selects_the_communes() {
    let Some(realdata) = common::realdata("territory_by_boundary") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str], out: &str| {
        let o = Command::new(BIN)
            .args(["territory", "build", "--profile", "car", "--from"])
            .arg(&realdata)
            .arg("--out")
            .arg(tmp.path().join(out))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // The EPCI's own outline, in Lambert-93, as a boundary: the same 54 communes.
    let boundary = realdata.join("epci_cu_le_havre_seine_metropole_l93.geojson");
    let report = run(&["--boundary", boundary.to_str().unwrap()], "b");
    assert!(
        report.contains("54 communes, 269060 inhabitants"),
        "{report}"
    );
    // Le Havre and Sainte-Adresse (170,147 + 7,389 inhabitants, COG 2021).
    let report = run(&["--commune", "76351,76552"], "c");
    assert!(
        report.contains("2 communes, 177536 inhabitants"),
        "{report}"
    );
    assert!(
        report.contains("employment area 2806 LE HAVRE: 2 of its 34 communes"),
        "{report}"
    );
}

#[test]
fn import_derives_commune_and_territory_from_the_location() {
    let Some(realdata) = common::realdata("import_derives_location") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for (layer, file, extra) in [
        (
            "catchments",
            "communes_76_seine-maritime_wgs84.geojson",
            None,
        ),
        (
            "territories",
            "epci_cu_le_havre_seine_metropole_l93.geojson",
            None,
        ),
        ("plots", "cartofriches_76_wgs84.geojson", None),
        (
            "waste_deposits",
            "irep_2021_etablissements_76_wgs84.geojson",
            Some("--as-holders"),
        ),
    ] {
        let o = Command::new(BIN)
            .args(["import", "--layer", layer, "--data"])
            .arg(&data)
            .arg(realdata.join(file))
            .args(extra)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{layer}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let want = oracle(&realdata, LE_HAVRE);
    let snap = terriens::store::DataDir::open(&data)
        .unwrap()
        .load()
        .unwrap();
    let count = |layer, field: &str, value: &str| {
        let l = snap.layer(layer);
        (0..l.len() as u32)
            .filter(|&r| matches!(l.value_by_name(r, field), Some(terriens::index::ValueRef::Text(t)) if t == value))
            .count() as u64
    };
    use terriens::model::Layer;
    // Cartofriches carries its commune; the territory comes from the commune's EPCI.
    assert_eq!(
        count(Layer::Plots, "territory", LE_HAVRE),
        want["land"]["count"].as_u64().unwrap()
    );
    // IREP carries neither: both come from the commune polygons (shapely agrees).
    assert_eq!(
        count(Layer::WasteDeposits, "territory", LE_HAVRE),
        want["waste"]["deposits"].as_u64().unwrap()
    );
    assert!(count(Layer::WasteDeposits, "commune_insee", "76351") > 0);
}

#[test]
fn bad_builds_say_why_and_exit_non_zero() {
    let Some(realdata) = common::realdata("bad_territory_builds") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for (siren, needle) in [
        ("123", "a SIREN has 9 digits"),
        (
            "999999999",
            "no commune of the commune table belongs to EPCI 999999999",
        ),
    ] {
        let (ok, _, err) = build(&realdata, siren, &tmp.path().join(siren));
        assert!(!ok, "{siren}");
        assert!(err.contains(needle), "{siren}: {err}");
    }
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, err) = build(empty.path(), LE_HAVRE, &tmp.path().join("x"));
    assert!(!ok);
    assert!(err.contains("no commune table"), "{err}");
}
