//! CQL2 `filter` on OGC items, against a real server on the demo data:
//! - 50 generated filters, written both in CQL2 (text, or JSON for every third) and in the
//!   filter grammar of query parameters, select the same features;
//! - `OR`, `NOT`, `<>`, strict comparisons, `LIKE`, `CASEI`, `IS NULL` and `S_INTERSECTS` equal
//!   a brute-force evaluation over every feature, done here in the test;
//! - malformed filters are 400s naming the line and column, unknown properties a 400 listing
//!   the queryables.

use crate::common;

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value as Json, json};

use common::server::Server;
use common::wire::{Resp, request};

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn get(server: &Server, path: &str) -> Resp {
    request(server.addr, "GET", path, &[], None).unwrap()
}

/// Every feature id an items query answers, following `next` links.
fn ids(server: &Server, layer: &str, query: &str) -> BTreeSet<u64> {
    features(server, layer, query)
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect()
}

fn features(server: &Server, layer: &str, query: &str) -> Vec<Json> {
    let mut out = Vec::new();
    let mut path = format!("/ogc/collections/{layer}/items?limit=1000&{query}");
    loop {
        let r = get(server, &path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let page = r.json();
        out.extend(page["features"].as_array().unwrap().iter().cloned());
        let next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .and_then(|l| l["href"].as_str());
        match next {
            Some(h) => path = h.split_once(&server.addr.to_string()).unwrap().1.into(),
            None => return out,
        }
    }
}

/// One condition in three spellings: grammar parameter, CQL2 text, CQL2 JSON.
struct Case {
    param: (String, String),
    text: String,
    json: Json,
}

fn prop(name: &str) -> Json {
    json!({ "property": name })
}

/// A value of `field` taken from a random feature that has one.
fn sample<'a>(rng: &mut ChaCha8Rng, all: &'a [Json], field: &str) -> &'a Json {
    loop {
        let v = &all[rng.random_range(0..all.len())]["properties"][field];
        if !v.is_null() {
            return v;
        }
    }
}

fn number_case(rng: &mut ChaCha8Rng, all: &[Json], field: &str) -> Case {
    let a = sample(rng, all, field).as_f64().unwrap();
    let b = sample(rng, all, field).as_f64().unwrap();
    let (lo, hi) = (a.min(b), a.max(b));
    match rng.random_range(0..3) {
        0 => Case {
            param: (field.into(), format!("{lo}..{hi}")),
            text: format!("{field} BETWEEN {lo} AND {hi}"),
            json: json!({ "op": "between", "args": [prop(field), lo, hi] }),
        },
        1 => Case {
            param: (format!("{field}_min"), lo.to_string()),
            text: format!("{field} >= {lo}"),
            json: json!({ "op": ">=", "args": [prop(field), lo] }),
        },
        _ => Case {
            param: (format!("{field}_max"), hi.to_string()),
            text: format!("{hi} >= {field}"),
            json: json!({ "op": "<=", "args": [prop(field), hi] }),
        },
    }
}

fn enum_case(rng: &mut ChaCha8Rng, all: &[Json], field: &str) -> Case {
    let a = sample(rng, all, field).as_str().unwrap().to_string();
    let b = sample(rng, all, field).as_str().unwrap().to_string();
    if rng.random_bool(0.5) || a == b {
        Case {
            param: (field.into(), a.clone()),
            text: format!("{field} = '{a}'"),
            json: json!({ "op": "=", "args": [prop(field), a] }),
        }
    } else {
        Case {
            param: (field.into(), format!("{a},{b}")),
            text: format!("{field} IN ('{a}', '{b}')"),
            json: json!({ "op": "in", "args": [prop(field), [a, b]] }),
        }
    }
}

fn bool_case(rng: &mut ChaCha8Rng, field: &str) -> Case {
    let v = rng.random_bool(0.5);
    Case {
        param: (field.into(), v.to_string()),
        text: format!("{field} = {v}"),
        json: json!({ "op": "=", "args": [prop(field), v] }),
    }
}

fn date_case(rng: &mut ChaCha8Rng, all: &[Json], field: &str) -> Case {
    let d = sample(rng, all, field).as_str().unwrap().to_string();
    if rng.random_bool(0.5) {
        Case {
            param: (field.into(), format!("..{d}")),
            text: format!("{field} <= DATE('{d}')"),
            json: json!({ "op": "<=", "args": [prop(field), { "date": d }] }),
        }
    } else {
        Case {
            param: (format!("{field}_after"), d.clone()),
            text: format!("{field} >= DATE('{d}')"),
            json: json!({ "op": ">=", "args": [prop(field), { "date": d }] }),
        }
    }
}

/// Fields per layer and their kind: n(umber), e(num), b(oolean), d(ate).
const FIELDS: &[(&str, &[(&str, char)])] = &[
    (
        "plots",
        &[
            ("area_ha", 'n'),
            ("status", 'e'),
            ("turnkey", 'b'),
            ("available_from", 'd'),
            ("price_eur_m2", 'n'),
            ("flood_zone", 'b'),
        ],
    ),
    (
        "buildings",
        &[
            ("floor_area_m2", 'n'),
            ("dock_doors", 'n'),
            ("tenure", 'e'),
            ("status", 'e'),
            ("rail_siding", 'b'),
        ],
    ),
    (
        "waste_deposits",
        &[("material", 'e'), ("quantity", 'n'), ("hazardous", 'b')],
    ),
];

#[test]
fn cql2_equals_the_filter_grammar_on_50_generated_filters() {
    let server = Server::start(&[], &[]);
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let all: Vec<(&str, Vec<Json>)> = FIELDS
        .iter()
        .map(|(l, _)| (*l, features(&server, l, "")))
        .collect();
    let mut informative = 0;
    for i in 0..50 {
        let li = rng.random_range(0..FIELDS.len());
        let (layer, fields) = FIELDS[li];
        let data = &all[li].1;
        let n = rng.random_range(1..=3);
        let cases: Vec<Case> = (0..n)
            .map(|_| {
                let (field, kind) = fields[rng.random_range(0..fields.len())];
                match kind {
                    'n' => number_case(&mut rng, data, field),
                    'e' => enum_case(&mut rng, data, field),
                    'b' => bool_case(&mut rng, field),
                    _ => date_case(&mut rng, data, field),
                }
            })
            .collect();
        let grammar: Vec<String> = cases
            .iter()
            .map(|c| format!("{}={}", enc(&c.param.0), enc(&c.param.1)))
            .collect();
        let cql2 = if i % 3 == 2 {
            let j = json!({ "op": "and", "args": cases.iter().map(|c| c.json.clone()).collect::<Vec<_>>() });
            format!("filter-lang=cql2-json&filter={}", enc(&j.to_string()))
        } else {
            let t: Vec<&str> = cases.iter().map(|c| c.text.as_str()).collect();
            format!("filter={}", enc(&t.join(" AND ")))
        };
        let want = ids(&server, layer, &grammar.join("&"));
        let got = ids(&server, layer, &cql2);
        assert_eq!(got, want, "case {i} on {layer}: {cql2} vs {grammar:?}");
        if !want.is_empty() && want.len() < data.len() {
            informative += 1;
        }
    }
    assert!(
        informative >= 25,
        "only {informative} cases select a proper subset"
    );
}

/// The ids of `all` for which `keep` holds.
fn brute(all: &[Json], keep: impl Fn(&Json) -> bool) -> BTreeSet<u64> {
    all.iter()
        .filter(|f| keep(&f["properties"]))
        .map(|f| f["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn logic_text_and_space_equal_a_brute_force_evaluation() {
    let server = Server::start(&[], &[]);
    let plots = features(&server, "plots", "");
    let deposits = features(&server, "waste_deposits", "");
    let num = |p: &Json, k: &str| p[k].as_f64();
    let text = |p: &Json, k: &str| p[k].as_str().map(str::to_string);
    let checks: Vec<(&str, &str, BTreeSet<u64>)> = vec![
        (
            "plots",
            "status = 'sold' OR (area_ha > 20 AND NOT turnkey = true)",
            brute(&plots, |p| {
                text(p, "status").as_deref() == Some("sold")
                    || (num(p, "area_ha").is_some_and(|a| a > 20.0)
                        && p["turnkey"].as_bool().is_some_and(|t| !t))
            }),
        ),
        (
            "plots",
            "status <> 'available' AND area_ha < 1.5",
            brute(&plots, |p| {
                text(p, "status").is_some_and(|s| s != "available")
                    && num(p, "area_ha").is_some_and(|a| a < 1.5)
            }),
        ),
        (
            "plots",
            "declared_area_ha IS NULL AND area_ha < 2",
            brute(&plots, |p| {
                p["declared_area_ha"].is_null() && num(p, "area_ha").is_some_and(|a| a < 2.0)
            }),
        ),
        (
            "plots",
            "NOT (price_eur_m2 IS NULL) AND price_eur_m2 > 40",
            brute(&plots, |p| num(p, "price_eur_m2").is_some_and(|x| x > 40.0)),
        ),
        (
            "waste_deposits",
            "holder LIKE 'S%' OR CASEI(holder) LIKE casei('%bois%')",
            brute(&deposits, |p| {
                text(p, "holder")
                    .is_some_and(|h| h.starts_with('S') || h.to_lowercase().contains("bois"))
            }),
        ),
        (
            "waste_deposits",
            "S_INTERSECTS(geometry, BBOX(0.95, 49.45, 1.05, 49.55)) AND material IN ('wood', 'metal')",
            deposits
                .iter()
                .filter(|f| {
                    let c = &f["geometry"]["coordinates"];
                    let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
                    (0.95..=1.05).contains(&x)
                        && (49.45..=49.55).contains(&y)
                        && matches!(f["properties"]["material"].as_str(), Some("wood" | "metal"))
                })
                .map(|f| f["id"].as_u64().unwrap())
                .collect(),
        ),
    ];
    for (layer, filter, want) in checks {
        assert!(
            !want.is_empty(),
            "{filter} selects nothing: not a useful check"
        );
        let got = ids(&server, layer, &format!("filter={}", enc(filter)));
        assert_eq!(got, want, "{layer}: {filter}");
    }
}

#[test]
fn bad_filters_are_400s_that_say_where() {
    let server = Server::start(&[], &[]);
    let cases = [
        ("status = ", "line 1, column"),
        ("status = 'available' AND (area_ha > 5", "line 1, column"),
        ("colour = 'red'", "filterable fields are"),
        ("status = 'gone'", "valid values are"),
        ("area_ha > 'big'", "must be a number"),
        (
            "T_BEFORE(available_from, DATE('2027-01-01'))",
            "not supported",
        ),
    ];
    for (filter, says) in cases {
        let r = get(
            &server,
            &format!("/ogc/collections/plots/items?filter={}", enc(filter)),
        );
        assert_eq!(r.status, 400, "{filter}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let p = r.json();
        assert_eq!(p["param"], "filter");
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{filter}: {detail}");
    }
    let r = get(
        &server,
        "/ogc/collections/plots/items?filter-lang=cql2-json&filter=%7B%22op%22%3A",
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("line 1, column")
    );
}
