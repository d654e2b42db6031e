//! Radius, nearest, box and polygon search, and the sites–waste join, against brute force with
//! independent oracles: Karney's distance from GeographicLib (`geographiclib-rs`, not the code
//! under test), polygon distances by densified sampling, crossing-number point-in-polygon and
//! segment intersection written here. Hundreds of random queries on the embedded demo data
//! (`fixtures/`), and more on a second, seeded synthetic set that also has point plots and
//! buildings (the seed is printed).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use geo_types::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon, point};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use common::{in_polygon, oracle_distance, rough_lower_bound, tolerance};
use terriens::index::{Filter, LayerData, Snapshot, ValueRef};
use terriens::model::{Access, FeatureId, Layer};
use terriens::query::{
    Hit, LayerQuery, NearWasteQuery, PageRequest, Relation, Scope, SiteFilter, WasteSort,
    near_waste, search,
};

const SEED: u64 = 76_2024;

/// The data sets queried: the demo fixtures, and a synthetic set with point sites; with the
/// box queries are drawn in and how many of each kind to run.
fn worlds() -> Vec<(&'static str, Snapshot, [f64; 4], usize)> {
    println!("seed {SEED}");
    let demo = terriens::store::embedded_snapshot().expect("the embedded demo data loads");
    let b = demo
        .layer(Layer::Territories)
        .bounds()
        .expect("the demo territory");
    let demo_box = [b.min().x, b.min().y, b.max().x, b.max().y];
    vec![
        ("demo", demo, demo_box, 240),
        (
            "synthetic",
            common::synthetic(SEED, common::Sizes::DEMO, common::WORLD),
            common::WORLD,
            90,
        ),
    ]
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(SEED + 1)
}

/// Filters tried, as query pairs, with an independent predicate on the row's values.
type Pred = fn(&LayerData, u32) -> bool;

fn filters(layer: Layer) -> Vec<(Vec<(&'static str, &'static str)>, Pred)> {
    fn text(d: &LayerData, r: u32, f: &str) -> Option<String> {
        match d.value_by_name(r, f) {
            Some(ValueRef::Text(s)) => Some(s.to_string()),
            _ => None,
        }
    }
    fn num(d: &LayerData, r: u32, f: &str) -> Option<f64> {
        d.value_by_name(r, f).and_then(ValueRef::as_f64)
    }
    let all: Pred = |_, _| true;
    match layer {
        Layer::WasteDeposits => vec![
            (vec![], all),
            (vec![("material", "wood")], |d, r| {
                text(d, r, "material").as_deref() == Some("wood")
            }),
            (
                vec![("material", "wood,plastic"), ("quantity_min", "500")],
                |d, r| {
                    matches!(text(d, r, "material").as_deref(), Some("wood" | "plastic"))
                        && num(d, r, "quantity").is_some_and(|q| q >= 500.0)
                },
            ),
            (vec![("hazardous", "true")], |d, r| {
                d.value_by_name(r, "hazardous") == Some(ValueRef::Bool(true))
            }),
        ],
        Layer::Plots => vec![
            (vec![], all),
            (vec![("status", "available")], |d, r| {
                text(d, r, "status").as_deref() == Some("available")
            }),
            (vec![("area_ha", "1..10"), ("turnkey", "false")], |d, r| {
                num(d, r, "area_ha").is_some_and(|a| (1.0..=10.0).contains(&a))
                    && d.value_by_name(r, "turnkey") == Some(ValueRef::Bool(false))
            }),
        ],
        _ => vec![
            (vec![], all),
            (vec![("floor_area_m2_min", "5000")], |d, r| {
                num(d, r, "floor_area_m2").is_some_and(|a| a >= 5000.0)
            }),
        ],
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every hit of a query, following cursors page by page (pages of 1000 at most).
fn all_pages(snap: &Snapshot, layer: Layer, scope: Scope, filter: Filter) -> Vec<Hit> {
    let mut q = LayerQuery {
        layer,
        scope,
        filter,
        origin: None,
        sort: Vec::new(),
        page: PageRequest::first(1000),
    };
    let mut out = Vec::new();
    loop {
        let page = search(&snap.view(&Access::PARTNER), &q, None).expect("query runs");
        out.extend(page.items);
        match page.next {
            Some(c) => q.page.cursor = Some(c),
            None => {
                assert_eq!(out.len(), page.matched, "pages add up to numberMatched");
                return out;
            }
        }
    }
}

fn random_centre(rng: &mut ChaCha8Rng, w: [f64; 4]) -> Point<f64> {
    point!(x: rng.random_range(w[0] - 0.05..w[2] + 0.05), y: rng.random_range(w[1] - 0.05..w[3] + 0.05))
}

const LAYERS: [Layer; 3] = [Layer::Plots, Layer::Buildings, Layer::WasteDeposits];

#[test]
fn radius_equals_brute_force() {
    let mut checked = 0;
    for (name, snap, w, n) in worlds() {
        let mut rng = rng();
        for i in 0..n {
            let layer = LAYERS[i % 3];
            let data = snap.layer(layer);
            let fs = filters(layer);
            let (fp, pred) = &fs[rng.random_range(0..fs.len())];
            let centre = random_centre(&mut rng, w);
            let max_r: f64 = if layer == Layer::WasteDeposits {
                15_000.0
            } else {
                5_000.0
            };
            let r = (rng.random_range(50f64.ln()..max_r.ln())).exp();
            let filter = Filter::parse(layer, &pairs(fp), &[]).unwrap();
            let hits = all_pages(
                &snap,
                layer,
                Scope::Radius {
                    centre,
                    radius_m: r,
                },
                filter,
            );
            // Sorted by distance.
            for w in hits.windows(2) {
                assert!(w[0].distance_m <= w[1].distance_m);
            }
            let got: BTreeMap<u32, f64> = hits
                .iter()
                .map(|h| (h.row, h.distance_m.unwrap()))
                .collect();
            assert_eq!(got.len(), hits.len(), "no duplicates");
            for row in 0..data.len() as u32 {
                if !pred(data, row) {
                    assert!(
                        !got.contains_key(&row),
                        "{layer} row {row} fails the filter"
                    );
                    continue;
                }
                let g = data.geometry(row);
                if rough_lower_bound(centre, g) > r + 100.0 {
                    assert!(!got.contains_key(&row));
                    continue;
                }
                let d = oracle_distance(centre, g, 20.0);
                let tol = tolerance(d);
                match got.get(&row) {
                    Some(mine) => {
                        assert!(
                            (mine - d).abs() <= tol,
                            "{layer} row {row}: {mine} vs oracle {d}"
                        );
                        assert!(d <= r + tol, "{layer} row {row} at {d} m is outside {r} m");
                    }
                    None => assert!(
                        d > r - tol || (matches!(g, Geometry::Point(_)) && d > r),
                        "{layer} row {row} at {d} m is missing from radius {r} m around {centre:?} ({fp:?})"
                    ),
                }
                if matches!(g, Geometry::Point(_)) {
                    // Points: decided with Karney near the radius, so the sets are equal exactly.
                    assert_eq!(
                        got.contains_key(&row),
                        d <= r,
                        "{layer} row {row}: {d} vs {r}"
                    );
                }
                checked += 1;
            }
        }
        println!("{name}: {checked} candidate rows checked in {n} radius queries");
    }
}

#[test]
fn nearest_equals_brute_force() {
    for (name, snap, w, n) in worlds() {
        let mut rng = rng();
        for i in 0..n {
            let layer = LAYERS[i % 3];
            let data = snap.layer(layer);
            let fs = filters(layer);
            let (fp, pred) = &fs[rng.random_range(0..fs.len())];
            let centre = random_centre(&mut rng, w);
            let k = rng.random_range(1..=40);
            let within_m = rng
                .random_bool(0.2)
                .then(|| rng.random_range(500.0..8_000.0));
            let filter = Filter::parse(layer, &pairs(fp), &[]).unwrap();
            let hits = all_pages(
                &snap,
                layer,
                Scope::Nearest {
                    centre,
                    k,
                    within_m,
                },
                filter,
            );
            // Oracle: matching rows by increasing rough lower bound; measure exactly until the next
            // bound exceeds the k-th distance found (plus a margin), then sort.
            let mut by_bound: Vec<(f64, u32)> = (0..data.len() as u32)
                .filter(|r| pred(data, *r))
                .map(|r| (rough_lower_bound(centre, data.geometry(r)), r))
                .collect();
            by_bound.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut oracle: Vec<(f64, u32)> = Vec::new();
            for (lb, r) in by_bound {
                if oracle.len() >= k {
                    oracle.sort_by(|a, b| a.0.total_cmp(&b.0));
                    if lb > oracle[k - 1].0 + 50.0 {
                        break;
                    }
                }
                let d = oracle_distance(centre, data.geometry(r), 20.0);
                if within_m.is_none_or(|w| d <= w) {
                    oracle.push((d, r));
                }
            }
            oracle.sort_by(|a, b| a.0.total_cmp(&b.0));
            let expected = k.min(oracle.len());
            let ctx = format!("{name} {layer} k={k} within={within_m:?} {fp:?} at {centre:?}");
            if within_m.is_none() {
                assert_eq!(
                    hits.len(),
                    expected,
                    "{ctx}: a filtered kNN returns k when k match"
                );
            } else {
                assert!(
                    hits.len().abs_diff(expected) <= 1,
                    "{ctx}: {} vs {expected}",
                    hits.len()
                );
            }
            for (i, h) in hits.iter().enumerate() {
                let mine = h.distance_m.unwrap();
                assert!(pred(data, h.row), "{ctx}: row fails filter");
                if i < oracle.len() {
                    let o = oracle[i].0;
                    assert!(
                        (mine - o).abs() <= tolerance(o),
                        "{ctx}: #{i} {mine} vs oracle {o}"
                    );
                }
            }
            for w in hits.windows(2) {
                assert!(w[0].distance_m <= w[1].distance_m, "{ctx}: sorted");
            }
        }
        println!("{name}: {n} nearest queries");
    }
}

// ------------------------------------------------------------ planar predicates (oracle)

fn orient(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

fn segments_cross(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> bool {
    let (o1, o2, o3, o4) = (
        orient(a, b, c),
        orient(a, b, d),
        orient(c, d, a),
        orient(c, d, b),
    );
    (o1 > 0.0) != (o2 > 0.0) && (o3 > 0.0) != (o4 > 0.0) && o1 != 0.0 && o2 != 0.0
}

fn edges(polys: &[Polygon<f64>]) -> Vec<(Coord<f64>, Coord<f64>)> {
    polys
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.0.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>())
        .collect()
}

fn as_polys(g: &Geometry<f64>) -> Vec<Polygon<f64>> {
    match g {
        Geometry::Polygon(p) => vec![p.clone()],
        Geometry::MultiPolygon(mp) => mp.0.clone(),
        _ => vec![],
    }
}

fn inside_any(p: Point<f64>, polys: &[Polygon<f64>]) -> bool {
    polys.iter().any(|q| in_polygon(p, q))
}

/// Oracle for a feature against a query area given as polygons.
fn relation_oracle(g: &Geometry<f64>, area: &[Polygon<f64>], rel: Relation) -> bool {
    if let Geometry::Point(p) = g {
        return inside_any(*p, area);
    }
    let fp = as_polys(g);
    let fe = edges(&fp);
    let ae = edges(area);
    let crossing = fe
        .iter()
        .any(|(a, b)| ae.iter().any(|(c, d)| segments_cross(*a, *b, *c, *d)));
    let f_in_a = fp
        .iter()
        .flat_map(|p| p.exterior().0.iter())
        .map(|c| inside_any(point!(x: c.x, y: c.y), area));
    match rel {
        Relation::Within => !crossing && f_in_a.clone().all(|x| x),
        Relation::Intersects => {
            crossing
                || f_in_a.clone().any(|x| x)
                || area
                    .iter()
                    .flat_map(|p| p.exterior().0.iter())
                    .any(|c| inside_any(point!(x: c.x, y: c.y), &fp))
        }
    }
}

fn rect_poly(b: [f64; 4]) -> Polygon<f64> {
    Polygon::new(
        LineString(vec![
            Coord { x: b[0], y: b[1] },
            Coord { x: b[2], y: b[1] },
            Coord { x: b[2], y: b[3] },
            Coord { x: b[0], y: b[3] },
            Coord { x: b[0], y: b[1] },
        ]),
        vec![],
    )
}

fn ids(hits: &[Hit]) -> BTreeSet<u32> {
    hits.iter().map(|h| h.row).collect()
}

#[test]
fn bbox_equals_brute_force() {
    for (name, snap, w, n) in worlds() {
        let mut rng = rng();
        for i in 0..n {
            let layer = LAYERS[i % 3];
            let data = snap.layer(layer);
            let fs = filters(layer);
            let (fp, pred) = &fs[rng.random_range(0..fs.len())];
            let c = random_centre(&mut rng, w);
            let (w, h) = (rng.random_range(0.001..0.3), rng.random_range(0.001..0.2));
            let b = [
                c.x() - w / 2.0,
                c.y() - h / 2.0,
                c.x() + w / 2.0,
                c.y() + h / 2.0,
            ];
            let filter = Filter::parse(layer, &pairs(fp), &[]).unwrap();
            let hits = all_pages(&snap, layer, Scope::BBox(b), filter);
            let area = [rect_poly(b)];
            let want: BTreeSet<u32> = (0..data.len() as u32)
                .filter(|r| pred(data, *r))
                .filter(|r| relation_oracle(data.geometry(*r), &area, Relation::Intersects))
                .collect();
            assert_eq!(ids(&hits), want, "{name} {layer} bbox {b:?} {fp:?}");
            for pair in hits.windows(2) {
                assert!(pair[0].row < pair[1].row, "storage order");
            }
        }
        println!("{name}: {n} box queries");
    }
}

/// A random star-shaped polygon around c, radius up to r degrees.
fn star(rng: &mut ChaCha8Rng, c: Point<f64>, r: f64) -> Polygon<f64> {
    let n = rng.random_range(5..14);
    let mut ring: Vec<Coord<f64>> = (0..n)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / n as f64;
            let rr = r * rng.random_range(0.3..1.0);
            Coord {
                x: c.x() + rr * a.cos() * 1.5,
                y: c.y() + rr * a.sin(),
            }
        })
        .collect();
    ring.push(ring[0]);
    Polygon::new(LineString(ring), vec![])
}

#[test]
fn polygon_equals_brute_force() {
    for (name, snap, w, n) in worlds() {
        let mut rng = rng();
        for i in 0..n {
            let layer = LAYERS[i % 3];
            let data = snap.layer(layer);
            let fs = filters(layer);
            let (fp, pred) = &fs[rng.random_range(0..fs.len())];
            let rel = if rng.random_bool(0.5) {
                Relation::Intersects
            } else {
                Relation::Within
            };
            let (c, r) = (random_centre(&mut rng, w), rng.random_range(0.005..0.1));
            let mut polys = vec![star(&mut rng, c, r)];
            if rng.random_bool(0.2) {
                let c2 = random_centre(&mut rng, w);
                polys.push(star(&mut rng, c2, 0.01));
            }
            let shape = match terriens::query::check_polygon(Geometry::MultiPolygon(MultiPolygon(
                polys.clone(),
            ))) {
                Ok(s) => s,
                Err(_) => continue, // two stars overlapped: not a valid MultiPolygon
            };
            let filter = Filter::parse(layer, &pairs(fp), &[]).unwrap();
            let hits = all_pages(
                &snap,
                layer,
                Scope::Polygon {
                    shape,
                    relation: rel,
                },
                filter,
            );
            let want: BTreeSet<u32> = (0..data.len() as u32)
                .filter(|r| pred(data, *r))
                .filter(|r| relation_oracle(data.geometry(*r), &polys, rel))
                .collect();
            assert_eq!(ids(&hits), want, "{name} {layer} {rel:?} {fp:?}");
        }
        println!("{name}: {n} polygon queries");
    }
}

#[test]
fn near_waste_equals_pairwise_brute_force() {
    for (name, snap, _, _) in worlds() {
        let mut rng = rng();
        let deposits = snap.layer(Layer::WasteDeposits);
        let material_sets: [&[&'static str]; 4] = [
            &["wood"],
            &["wood", "plastic"],
            &["concrete", "metal", "glass"],
            &["water"],
        ];
        for round in 0..6 {
            let materials = material_sets[round % material_sets.len()].to_vec();
            let within_m = rng.random_range(200.0..1_500.0);
            let min_total = [0.0, 500.0, 3_000.0][rng.random_range(0..3)];
            let site_pairs = if round % 3 == 0 {
                pairs(&[("status", "available")])
            } else {
                vec![]
            };
            let sites = SiteFilter::parse(&site_pairs, &[]).unwrap();
            let deposit_filter = Filter::parse(
                Layer::WasteDeposits,
                &pairs(&[("material", &materials.join(","))]),
                &[],
            )
            .unwrap();
            let q = NearWasteQuery {
                sites: sites.clone(),
                scope: Scope::All,
                deposits: deposit_filter,
                unit: NearWasteQuery::unit_of(&materials).unwrap(),
                materials: materials.clone(),
                within_m,
                min_total,
                sort: WasteSort::Total,
                deposits_limit: 1000,
                page: PageRequest::first(1000),
            };
            let mut got: BTreeMap<(Layer, FeatureId), (f64, usize)> = BTreeMap::new();
            let mut q2 = q.clone();
            let mut last_total = f64::INFINITY;
            loop {
                let page = near_waste(&snap.view(&Access::PARTNER), &q2, None, None).unwrap();
                for w in &page.items {
                    assert!(w.total <= last_total + 1e-9, "sorted by total");
                    last_total = w.total;
                    let listed: f64 = w.deposits.iter().map(|d| d.quantity).sum();
                    assert!((listed - w.total).abs() < 1e-6 * w.total.max(1.0));
                    got.insert((w.site.layer, w.site.id), (w.total, w.deposit_count));
                }
                match page.next {
                    Some(c) => q2.page.cursor = Some(c),
                    None => break,
                }
            }
            // Brute force: every site against every deposit of the materials.
            let mut want: BTreeMap<(Layer, FeatureId), (f64, f64, usize)> = BTreeMap::new();
            let mut ambiguous = BTreeSet::new();
            for filter in &sites.layers {
                let data = snap.layer(filter.layer());
                for srow in 0..data.len() as u32 {
                    let ok_status = site_pairs.is_empty()
                        || data.value_by_name(srow, "status") == Some(ValueRef::Text("available"));
                    if !ok_status {
                        continue;
                    }
                    let g = data.geometry(srow);
                    let (mut lo, mut hi, mut n) = (0.0, 0.0, 0);
                    for drow in 0..deposits.len() as u32 {
                        let m = match deposits.value_by_name(drow, "material") {
                            Some(ValueRef::Text(m)) => m,
                            _ => continue,
                        };
                        if !materials.contains(&m) {
                            continue;
                        }
                        let Geometry::Point(p) = deposits.geometry(drow) else {
                            continue;
                        };
                        if rough_lower_bound(*p, g) > within_m + 100.0 {
                            continue;
                        }
                        let d = oracle_distance(*p, g, 20.0);
                        let qty = deposits
                            .value_by_name(drow, "quantity")
                            .and_then(ValueRef::as_f64)
                            .unwrap_or(0.0);
                        let tol = if matches!(g, Geometry::Point(_)) {
                            0.0
                        } else {
                            tolerance(d)
                        };
                        if d <= within_m - tol {
                            lo += qty;
                            n += 1;
                        }
                        if d <= within_m + tol {
                            hi += qty;
                        }
                        if (d - within_m).abs() <= tol && tol > 0.0 {
                            ambiguous.insert((data.layer(), data.id(srow)));
                        }
                    }
                    if hi > 0.0 && hi >= min_total {
                        want.insert((data.layer(), data.id(srow)), (lo, hi, n));
                    }
                }
            }
            for (key, (lo, hi, n)) in &want {
                if ambiguous.contains(key) {
                    continue;
                }
                let (total, count) = got.get(key).unwrap_or_else(|| {
                panic!("round {round}: site {key:?} with {lo}..{hi} {materials:?} within {within_m} m is missing")
            });
                assert!(
                    (total - lo).abs() < 1e-6 * lo.max(1.0),
                    "round {round} {key:?}: {total} vs {lo}"
                );
                assert_eq!(count, n, "round {round} {key:?}");
            }
            for key in got.keys() {
                assert!(
                    want.contains_key(key) || ambiguous.contains(key),
                    "round {round}: {key:?} should not be there"
                );
            }
            println!(
                "{name} round {round}: {materials:?} within {within_m:.0} m, total ≥ {min_total}: {} sites",
                got.len()
            );
        }
    }
}
