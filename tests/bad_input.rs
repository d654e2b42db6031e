//! Malformed inputs, through the real `terriens import` command: each gives its precise error,
//! and nothing wrong lands in the store (a file with one bad feature and one good one imports
//! the good one only; a file-level error imports nothing).

use std::process::Command;

use terriens::model::Layer;
use terriens::store::DataDir;

const GOOD_DEPOSIT: &str = r#"{"type":"Feature","id":1,"properties":{"material":"wood","quantity":120},"geometry":{"type":"Point","coordinates":[0.1,49.5]}}"#;

fn deposits_with(bad: &str) -> String {
    format!(r#"{{"type":"FeatureCollection","features":[{GOOD_DEPOSIT},{bad}]}}"#)
}

fn bad_deposit(props: &str, coords: &str) -> String {
    deposits_with(&format!(
        r#"{{"type":"Feature","id":2,"properties":{props},"geometry":{{"type":"Point","coordinates":{coords}}}}}"#
    ))
}

fn plot(geometry: &str) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","id":5,"properties":{{}},"geometry":{geometry}}}]}}"#
    )
}

struct Case {
    name: &'static str,
    layer: &'static str,
    file_name: &'static str,
    content: String,
    extra_args: &'static [&'static str],
    /// Text the error output must contain.
    expect: &'static str,
    /// Features the layer holds afterwards.
    imported: usize,
}

fn cases() -> Vec<Case> {
    let c = |name, layer, file_name, content: String, extra_args, expect, imported| Case {
        name,
        layer,
        file_name,
        content,
        extra_args,
        expect,
        imported,
    };
    vec![
        c("broken JSON", "waste_deposits", "a.geojson", r#"{"type":"FeatureCollection","features":[{"type":"Feature",}]}"#.into(), &[], "broken JSON at line 1, column", 0),
        c("empty file", "waste_deposits", "a.geojson", String::new(), &[], "the file is empty", 0),
        c("not GeoJSON", "waste_deposits", "a.geojson", r#"{"foo": 1}"#.into(), &[], "not GeoJSON: the top-level object has no `type`", 0),
        c("unknown GeoJSON type", "waste_deposits", "a.geojson", r#"{"type": "Topology"}"#.into(), &[], "unknown GeoJSON type `Topology`", 0),
        c("unclosed ring", "plots", "a.geojson", plot(r#"{"type":"Polygon","coordinates":[[[0.1,49.5],[0.2,49.5],[0.2,49.6],[0.1,49.6]]]}"#), &[], "ring 0 of polygon 0 is not closed", 0),
        c("ring too short", "plots", "a.geojson", plot(r#"{"type":"Polygon","coordinates":[[[0.1,49.5],[0.2,49.5],[0.1,49.5]]]}"#), &[], "has 3 positions; a closed ring needs at least 4", 0),
        c("self-intersecting polygon", "plots", "a.geojson", plot(r#"{"type":"Polygon","coordinates":[[[0,49],[1,50],[1,49],[0,50],[0,49]]]}"#), &[], "invalid geometry", 0),
        c("line in a polygon layer", "plots", "a.geojson", plot(r#"{"type":"LineString","coordinates":[[0.1,49.5],[0.2,49.5]]}"#), &[], "geometry type LineString is not accepted in layer plots", 0),
        c("latitude 95", "waste_deposits", "a.geojson", bad_deposit(r#"{"material":"wood","quantity":3}"#, "[0.1,95]"), &[], "latitude 95 is out of range", 1),
        c("projected coordinates without --crs", "waste_deposits", "a.geojson", bad_deposit(r#"{"material":"wood","quantity":3}"#, "[489353.59,6939110.78]"), &[], "latitude 6939110.78 is out of range", 1),
        c("null coordinate", "waste_deposits", "a.geojson", bad_deposit(r#"{"material":"wood","quantity":3}"#, "[null,49.5]"), &[], "is not a finite number", 1),
        c("NaN in CSV", "waste_deposits", "a.csv", "lon,lat,material,quantity\n0.1,49.5,wood,3\nNaN,49.5,wood,4\n".into(), &[], "coordinate NaN is not a finite number", 1),
        c("CSV without geometry columns", "waste_deposits", "a.csv", "a,b\n1,2\n".into(), &[], "CSV has no geometry columns", 0),
        c("unknown material", "waste_deposits", "a.geojson", bad_deposit(r#"{"material":"unobtainium","quantity":3}"#, "[0.1,49.5]"), &[], "unknown material `unobtainium`; valid values are: wood, concrete", 1),
        c("missing required field", "waste_deposits", "a.geojson", bad_deposit(r#"{"quantity":3}"#, "[0.1,49.5]"), &[], "missing required field `material`", 1),
        c("wrong type", "waste_deposits", "a.geojson", bad_deposit(r#"{"material":"wood","quantity":"lots"}"#, "[0.1,49.5]"), &[], "field `quantity` must be a number, found \"lots\"", 1),
        c("negative quantity", "waste_deposits", "a.geojson", bad_deposit(r#"{"material":"wood","quantity":-5}"#, "[0.1,49.5]"), &[], "`quantity` = -5 is out of range", 1),
        c("unit that does not fit the material", "waste_deposits", "a.geojson", bad_deposit(r#"{"material":"heat","quantity":5,"unit":"t"}"#, "[0.1,49.5]"), &[], "unit `t` does not match material `heat`, which is counted in MWh", 1),
        c("malformed waste code", "waste_deposits", "a.geojson", bad_deposit(r#"{"material":"wood","quantity":5,"waste_code":"1702"}"#, "[0.1,49.5]"), &[], "is not a 6-digit European waste code", 1),
        c("impossible date", "plots", "a.geojson", r#"{"type":"Feature","id":3,"properties":{"available_from":"2027-02-31"},"geometry":{"type":"Point","coordinates":[0.1,49.5]}}"#.into(), &[], "`available_from` must be a date (YYYY-MM-DD)", 0),
        c("bad SIREN", "territories", "a.geojson", r#"{"type":"Feature","properties":{"siren":"12345"},"geometry":{"type":"Polygon","coordinates":[[[0,49],[1,49],[1,50],[0,49]]]}}"#.into(), &[], "is not a 9-digit SIREN", 0),
        c("duplicate id", "waste_deposits", "a.geojson", deposits_with(GOOD_DEPOSIT), &[], "duplicate id 1: feature 0 has it already", 1),
        c("unknown CRS in the file", "waste_deposits", "a.geojson", r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::99999"}},"features":[]}"#.into(), &[], "unknown CRS EPSG:99999", 0),
        c("unreadable CRS name", "waste_deposits", "a.geojson", r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"Lambert 93 svp"}},"features":[]}"#.into(), &[], "cannot read the CRS name `Lambert 93 svp`", 0),
        c("unknown CRS on the command line", "waste_deposits", "a.geojson", deposits_with(GOOD_DEPOSIT), &["--crs", "EPSG:99999"], "unknown CRS EPSG:99999", 0),
        c("unknown layer", "roads", "a.geojson", deposits_with(GOOD_DEPOSIT), &[], "unknown layer `roads`; valid layers are: plots, buildings, waste_deposits", 0),
        c("strict import with one bad feature", "waste_deposits", "a.geojson", bad_deposit(r#"{"material":"wood"}"#, "[0.1,49.5]"), &["--strict"], "strict import: 1 of 2 features rejected, nothing imported", 0),
        c("--set of an unknown field", "waste_deposits", "a.geojson", deposits_with(GOOD_DEPOSIT), &["--set", "colour=red"], "--set colour: expected FIELD=VALUE with a field of the layer", 0),
    ]
}

#[test]
fn every_malformed_input_gives_its_precise_error() {
    let cases = cases();
    assert!(cases.len() >= 15);
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(case.file_name);
        std::fs::write(&file, &case.content).unwrap();
        let data = dir.path().join("data");
        let out = Command::new(env!("CARGO_BIN_EXE_terriens"))
            .args(["import", "--data"])
            .arg(&data)
            .args(["--layer", case.layer])
            .arg(&file)
            .args(case.extra_args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(case.expect),
            "{}: expected «{}» in:\n{stderr}",
            case.name,
            case.expect
        );
        let held = match case.layer.parse::<Layer>() {
            Ok(layer) if data.exists() => DataDir::open(&data)
                .unwrap()
                .load_layer(layer)
                .unwrap()
                .len(),
            _ => 0,
        };
        assert_eq!(
            held, case.imported,
            "{}: layer holds {held} features",
            case.name
        );
        if case.imported == 0 && !out.status.success() {
            // A file-level failure must not leave a layer file behind.
            assert!(
                !data.join(format!("{}.fgb", case.layer)).exists(),
                "{}",
                case.name
            );
        }
    }
}
