//! Helpers shared by integration tests (and the search bench): the real data folder, a seeded
//! synthetic data set shaped like the demo data, the independent oracles (GeographicLib's Karney distance, a densified polygon
//! distance, a crossing-number point-in-polygon), and a request helper for the router.
#![allow(dead_code)]

use std::path::PathBuf;

use geo_types::{Coord, Geometry, LineString, Point, Polygon, point};
use geographiclib_rs::{Geodesic, InverseGeodesic};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Map;

use terriens::geo_util::area_ha;
use terriens::index::{LayerData, Snapshot};
use terriens::model::{Feature, Layer, MATERIALS, Value, material_unit, schema};

/// Area of the synthetic world: around Le Havre.
pub const WORLD: [f64; 4] = [-0.1, 49.3, 0.6, 49.75];
pub const TERRITORY_SIREN: &str = "299000001";

/// Sizes of a synthetic data set.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub plots: usize,
    pub buildings: usize,
    pub deposits: usize,
}

impl Sizes {
    /// About the demo data set.
    pub const DEMO: Sizes = Sizes {
        plots: 1_500,
        buildings: 400,
        deposits: 2_000,
    };
}

fn set(props: &mut [Option<Value>], layer: Layer, name: &str, v: Value) {
    props[schema(layer).index_of(name)] = Some(v);
}

fn square(rng: &mut ChaCha8Rng, lon: f64, lat: f64, max_side_deg: f64) -> Polygon<f64> {
    // A random convex quadrilateral around (lon, lat).
    let w = rng.random_range(max_side_deg * 0.2..max_side_deg);
    let h = rng.random_range(max_side_deg * 0.2..max_side_deg) * 0.66;
    let j = |rng: &mut ChaCha8Rng| rng.random_range(-0.15..0.15) * w;
    let ring = vec![
        Coord {
            x: lon - w / 2.0 + j(rng),
            y: lat - h / 2.0,
        },
        Coord {
            x: lon + w / 2.0 + j(rng),
            y: lat - h / 2.0,
        },
        Coord {
            x: lon + w / 2.0,
            y: lat + h / 2.0 + j(rng) * 0.5,
        },
        Coord {
            x: lon - w / 2.0,
            y: lat + h / 2.0,
        },
        Coord {
            x: lon - w / 2.0 + 0.0,
            y: lat - h / 2.0,
        },
    ];
    let mut ring = ring;
    ring[4] = ring[0];
    Polygon::new(LineString(ring), vec![])
}

fn place(rng: &mut ChaCha8Rng, world: [f64; 4]) -> (f64, f64) {
    (
        rng.random_range(world[0]..world[2]),
        rng.random_range(world[1]..world[3]),
    )
}

fn date(rng: &mut ChaCha8Rng) -> Value {
    let d = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
        + chrono::Days::new(rng.random_range(0..1500));
    Value::Date(d)
}

/// Plots, buildings, waste deposits and one territory, in `world`, from `seed`.
pub fn synthetic(seed: u64, sizes: Sizes, world: [f64; 4]) -> Snapshot {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut plots = Vec::with_capacity(sizes.plots);
    let ps = schema(Layer::Plots);
    for i in 0..sizes.plots {
        let (lon, lat) = place(&mut rng, world);
        let mut props = vec![None; ps.fields.len()];
        let geometry = if rng.random_bool(0.75) {
            let g = Geometry::Polygon(square(&mut rng, lon, lat, 0.006));
            let a = area_ha(&g);
            set(&mut props, Layer::Plots, "area_ha", Value::Float(a));
            set(
                &mut props,
                Layer::Plots,
                "area_source",
                Value::Text("geometry".into()),
            );
            g
        } else {
            if rng.random_bool(0.9) {
                let a = rng.random_range(0.1..40.0);
                set(&mut props, Layer::Plots, "area_ha", Value::Float(a));
                set(
                    &mut props,
                    Layer::Plots,
                    "declared_area_ha",
                    Value::Float(a),
                );
                set(
                    &mut props,
                    Layer::Plots,
                    "area_source",
                    Value::Text("declared".into()),
                );
            }
            Geometry::Point(point!(x: lon, y: lat))
        };
        let status = ["available", "reserved", "sold"][rng.random_range(0..3)];
        set(
            &mut props,
            Layer::Plots,
            "name",
            Value::Text(format!("Plot {i}")),
        );
        set(
            &mut props,
            Layer::Plots,
            "status",
            Value::Text(status.into()),
        );
        set(
            &mut props,
            Layer::Plots,
            "territory",
            Value::Text(TERRITORY_SIREN.into()),
        );
        set(
            &mut props,
            Layer::Plots,
            "turnkey",
            Value::Bool(rng.random_bool(0.3)),
        );
        if rng.random_bool(0.8) {
            set(
                &mut props,
                Layer::Plots,
                "price_eur_m2",
                Value::Float(rng.random_range(5.0..120.0)),
            );
        }
        if rng.random_bool(0.7) {
            set(
                &mut props,
                Layer::Plots,
                "power_mva",
                Value::Float(rng.random_range(0.0..40.0)),
            );
        }
        if rng.random_bool(0.5) {
            set(
                &mut props,
                Layer::Plots,
                "water_m3_day",
                Value::Float(rng.random_range(0.0..5000.0)),
            );
        }
        set(
            &mut props,
            Layer::Plots,
            "rail_siding",
            Value::Bool(rng.random_bool(0.15)),
        );
        if rng.random_bool(0.9) {
            set(
                &mut props,
                Layer::Plots,
                "flood_zone",
                Value::Bool(rng.random_bool(0.2)),
            );
        }
        set(
            &mut props,
            Layer::Plots,
            "seveso",
            Value::Bool(rng.random_bool(0.1)),
        );
        if rng.random_bool(0.8) {
            set(&mut props, Layer::Plots, "available_from", date(&mut rng));
        }
        plots.push(Feature {
            id: 1_000_000 + i as u64,
            version: 1,
            geometry,
            props,
            extra: Map::new(),
        });
    }
    let bs = schema(Layer::Buildings);
    let mut buildings = Vec::with_capacity(sizes.buildings);
    for i in 0..sizes.buildings {
        let (lon, lat) = place(&mut rng, world);
        let mut props = vec![None; bs.fields.len()];
        let geometry = if rng.random_bool(0.7) {
            Geometry::Polygon(square(&mut rng, lon, lat, 0.002))
        } else {
            Geometry::Point(point!(x: lon, y: lat))
        };
        let status = ["available", "reserved", "sold", "let"][rng.random_range(0..4)];
        set(
            &mut props,
            Layer::Buildings,
            "name",
            Value::Text(format!("Building {i}")),
        );
        set(
            &mut props,
            Layer::Buildings,
            "status",
            Value::Text(status.into()),
        );
        set(
            &mut props,
            Layer::Buildings,
            "territory",
            Value::Text(TERRITORY_SIREN.into()),
        );
        set(
            &mut props,
            Layer::Buildings,
            "floor_area_m2",
            Value::Float(rng.random_range(200.0..40_000.0)),
        );
        if rng.random_bool(0.8) {
            set(
                &mut props,
                Layer::Buildings,
                "land_area_ha",
                Value::Float(rng.random_range(0.1..20.0)),
            );
        }
        if rng.random_bool(0.6) {
            set(
                &mut props,
                Layer::Buildings,
                "price_eur",
                Value::Float(rng.random_range(1e5..3e7)),
            );
        }
        if rng.random_bool(0.7) {
            set(
                &mut props,
                Layer::Buildings,
                "power_mva",
                Value::Float(rng.random_range(0.0..10.0)),
            );
        }
        set(
            &mut props,
            Layer::Buildings,
            "rail_siding",
            Value::Bool(rng.random_bool(0.1)),
        );
        set(
            &mut props,
            Layer::Buildings,
            "flood_zone",
            Value::Bool(rng.random_bool(0.2)),
        );
        set(
            &mut props,
            Layer::Buildings,
            "seveso",
            Value::Bool(rng.random_bool(0.1)),
        );
        if rng.random_bool(0.8) {
            set(
                &mut props,
                Layer::Buildings,
                "available_from",
                date(&mut rng),
            );
        }
        buildings.push(Feature {
            id: 2_000_000 + i as u64,
            version: 1,
            geometry,
            props,
            extra: Map::new(),
        });
    }
    let ws = schema(Layer::WasteDeposits);
    let mut deposits = Vec::with_capacity(sizes.deposits);
    for i in 0..sizes.deposits {
        let (lon, lat) = place(&mut rng, world);
        let mut props = vec![None; ws.fields.len()];
        // Skewed towards the first materials, as real streams are.
        let m =
            MATERIALS[(rng.random_range(0.0f64..1.0).powi(2) * MATERIALS.len() as f64) as usize];
        set(
            &mut props,
            Layer::WasteDeposits,
            "material",
            Value::Text(m.into()),
        );
        set(
            &mut props,
            Layer::WasteDeposits,
            "unit",
            Value::Text(material_unit(m).unwrap_or("t").into()),
        );
        set(
            &mut props,
            Layer::WasteDeposits,
            "quantity",
            Value::Float((rng.random_range(1.0f64..5_000.0) * 10.0).round() / 10.0),
        );
        set(
            &mut props,
            Layer::WasteDeposits,
            "hazardous",
            Value::Bool(rng.random_bool(0.1)),
        );
        set(
            &mut props,
            Layer::WasteDeposits,
            "name",
            Value::Text(format!("Deposit {i}")),
        );
        deposits.push(Feature {
            id: 3_000_000 + i as u64,
            version: 1,
            geometry: Geometry::Point(point!(x: lon, y: lat)),
            props,
            extra: Map::new(),
        });
    }
    let ts = schema(Layer::Territories);
    let mut tprops = vec![None; ts.fields.len()];
    set(
        &mut tprops,
        Layer::Territories,
        "siren",
        Value::Text(TERRITORY_SIREN.into()),
    );
    set(
        &mut tprops,
        Layer::Territories,
        "name",
        Value::Text("Synthetic territory".into()),
    );
    let (cx, cy) = ((world[0] + world[2]) / 2.0, (world[1] + world[3]) / 2.0);
    let (rx, ry) = ((world[2] - world[0]) * 0.3, (world[3] - world[1]) * 0.3);
    let ring: Vec<Coord<f64>> = (0..=24)
        .map(|k| {
            let a = std::f64::consts::TAU * (k % 24) as f64 / 24.0;
            let wob = 1.0 + 0.2 * (3.0 * a).sin();
            Coord {
                x: cx + rx * wob * a.cos(),
                y: cy + ry * wob * a.sin(),
            }
        })
        .collect();
    let territory = Feature {
        id: 1,
        version: 1,
        geometry: Geometry::Polygon(Polygon::new(LineString(ring), vec![])),
        props: tprops,
        extra: Map::new(),
    };
    Snapshot::new(
        1,
        [
            LayerData::build(Layer::Plots, plots),
            LayerData::build(Layer::Buildings, buildings),
            LayerData::build(Layer::WasteDeposits, deposits),
            LayerData::build(Layer::Territories, vec![territory]),
        ],
    )
}

// ---------------------------------------------------------------- real data

/// The real data folder named by `TERRIENS_REALDATA`, or `None` after saying clearly why the
/// calling test is skipped.
/// The `href` of a page's `rel: next` link (GeoJSON and OGC API pages), if any.
pub fn next_href(page: &serde_json::Value) -> Option<&str> {
    page["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == "next")
        .and_then(|l| l["href"].as_str())
}

pub fn realdata(test: &str) -> Option<PathBuf> {
    match std::env::var_os("TERRIENS_REALDATA") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("README.md").exists(),
                "TERRIENS_REALDATA={} does not hold the real data (no README.md)",
                dir.display()
            );
            Some(dir)
        }
        _ => {
            eprintln!(
                "TERRIENS_REALDATA unset: skipping {test} (set it to the real data folder, e.g. ../shared/realdata)"
            );
            None
        }
    }
}

/// What a browser test needs: `tests/browser` (with `node_modules/playwright-core`), node and
/// Chromium, as `(browser dir, chromium path)`. Without them the test says so and passes, except
/// under CI (`CI` set), where it fails.
pub fn browser(test: &str) -> Option<(PathBuf, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let missing = match chromium {
        None => Some("Chromium (/usr/bin/chromium)"),
        Some(_) if !dir.join("node_modules/playwright-core").exists() => {
            Some("tests/browser/node_modules (npm ci --prefix tests/browser)")
        }
        Some(_)
            if std::process::Command::new("node")
                .arg("--version")
                .output()
                .is_err() =>
        {
            Some("node")
        }
        _ => None,
    };
    if let Some(what) = missing {
        let msg = format!("{test} needs {what}: run scripts/ensure-deps.sh --test");
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    Some((dir, chromium.unwrap_or_default().to_string()))
}

/// Serves `state` on a free port, runs `node tests/browser/SCRIPT URL SHOT CHROMIUM` for the
/// page at `path`, and returns its JSON report once checked clean: no fatal error, no console
/// or page error, nothing asked outside the server, no error seen by the page (`status`).
/// `TERRIENS_KEEP_SCREENSHOT=FILE.png` keeps the screenshot.
pub fn run_page(
    browser: &(PathBuf, String),
    state: terriens::api::AppState,
    script: &str,
    path: &str,
) -> serde_json::Value {
    use serde_json::Value as Json;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, terriens::api::router(state)).await });
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("page.png");
    let out = std::process::Command::new("node")
        .arg(browser.0.join(script))
        .arg(format!("http://{addr}{path}"))
        .arg(&shot)
        .arg(&browser.1)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut r: Json = serde_json::from_str(stdout.trim()).expect("json from the page script");
    if let Ok(keep) = std::env::var("TERRIENS_KEEP_SCREENSHOT") {
        let _ = std::fs::copy(&shot, keep);
    }
    assert!(r["fatal"].is_null(), "{}", r["fatal"]);
    assert_eq!(r["consoleErrors"], Json::Array(vec![]), "console errors");
    assert_eq!(r["pageErrors"], Json::Array(vec![]), "page errors");
    assert_eq!(
        r["failedRequests"],
        Json::Array(vec![]),
        "requests outside the server"
    );
    assert_eq!(
        r["status"]["errors"],
        Json::Array(vec![]),
        "errors seen by the page"
    );
    r["screenshotBytes"] = std::fs::metadata(&shot).map_or(0, |m| m.len()).into();
    drop(rt);
    r
}

pub mod app;
pub mod openapi_doc;
pub mod pg;
pub mod python;
pub mod server;
pub mod wire;
pub mod world;

// ---------------------------------------------------------------- oracles

/// Karney's geodesic distance (GeographicLib), metres.
pub fn karney(a: Point<f64>, b: Point<f64>) -> f64 {
    Geodesic::wgs84().inverse(a.y(), a.x(), b.y(), b.x())
}

/// Crossing-number point-in-ring test (lon/lat plane).
pub fn in_ring(p: Point<f64>, ring: &LineString<f64>) -> bool {
    let (x, y) = (p.x(), p.y());
    let mut inside = false;
    for w in ring.0.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > y) != (b.y > y) {
            let xi = a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x);
            if x < xi {
                inside = !inside;
            }
        }
    }
    inside
}

pub fn in_polygon(p: Point<f64>, poly: &Polygon<f64>) -> bool {
    in_ring(p, poly.exterior()) && !poly.interiors().iter().any(|r| in_ring(p, r))
}

fn polygons(g: &Geometry<f64>) -> Vec<&Polygon<f64>> {
    match g {
        Geometry::Polygon(p) => vec![p],
        Geometry::MultiPolygon(mp) => mp.0.iter().collect(),
        _ => vec![],
    }
}

/// Distance from p to a geometry by brute force: Karney to the point, or for polygons 0 inside
/// and otherwise the least Karney distance to the edges sampled every ~`step_m` metres.
pub fn oracle_distance(p: Point<f64>, g: &Geometry<f64>, step_m: f64) -> f64 {
    match g {
        Geometry::Point(q) => karney(p, *q),
        _ => {
            let polys = polygons(g);
            if polys.iter().any(|poly| in_polygon(p, poly)) {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for poly in polys {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for w in ring.0.windows(2) {
                        let (a, b) = (point!(x: w[0].x, y: w[0].y), point!(x: w[1].x, y: w[1].y));
                        let at = |t: f64| {
                            let t = t.clamp(0.0, 1.0);
                            point!(x: a.x() + (b.x() - a.x()) * t, y: a.y() + (b.y() - a.y()) * t)
                        };
                        // Sample every `step_m`, then twice more finely around the best sample
                        // (the distance along a short edge has one minimum).
                        let n = ((karney(a, b) / step_m).ceil() as usize).clamp(1, 100_000);
                        let (mut t0, mut dt) = (0.0, 1.0 / n as f64);
                        let mut samples = n;
                        for _ in 0..3 {
                            let mut best_t = t0;
                            let mut best_d = f64::INFINITY;
                            for k in 0..=samples {
                                let t = t0 + dt * k as f64;
                                let d = karney(p, at(t));
                                if d < best_d {
                                    (best_d, best_t) = (d, t);
                                }
                            }
                            best = best.min(best_d);
                            let span = 2.0 * dt;
                            t0 = best_t - dt;
                            samples = 40;
                            dt = span / samples as f64;
                        }
                    }
                }
            }
            best
        }
    }
}

/// A cheap distance that is never more than 1 % below the geodesic one at these scales (for
/// skipping obviously far pairs in brute-force loops, never for deciding).
pub fn rough_distance_m(a: Point<f64>, b: Point<f64>) -> f64 {
    let r = 6_371_000.0;
    let (p1, p2) = (a.y().to_radians(), b.y().to_radians());
    let dp = p2 - p1;
    let dl = (b.x() - a.x()).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

/// The least rough distance from p to any vertex of g, minus the geometry's diagonal: a lower
/// bound for skipping.
pub fn rough_lower_bound(p: Point<f64>, g: &Geometry<f64>) -> f64 {
    use geo::{BoundingRect, CoordsIter};
    let r = g.bounding_rect().unwrap();
    let diag = rough_distance_m(
        point!(x: r.min().x, y: r.min().y),
        point!(x: r.max().x, y: r.max().y),
    );
    let least = g
        .coords_iter()
        .map(|c| rough_distance_m(p, point!(x: c.x, y: c.y)))
        .fold(f64::INFINITY, f64::min);
    (least * 0.99 - diag).max(0.0)
}

/// Tolerance of a distance check: 0.1 % or 0.5 m, whichever is larger.
pub fn tolerance(d: f64) -> f64 {
    (d * 1e-3).max(0.5)
}

// ---------------------------------------------------------------- HTTP

pub mod http {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::Value as Json;
    use tower::ServiceExt;

    /// Sends a request to the router; returns status, content type and JSON body.
    pub async fn send(
        router: &axum::Router,
        method: &str,
        uri: &str,
        body: Option<&str>,
    ) -> (StatusCode, String, Json) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "terriens.test");
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, ct, json)
    }

    pub async fn get(router: &axum::Router, uri: &str) -> (StatusCode, String, Json) {
        send(router, "GET", uri, None).await
    }
}

/// A router over a snapshot.
pub fn router(snapshot: Snapshot) -> axum::Router {
    use terriens::api::{AppState, router};
    use terriens::index::SharedSnapshot;
    router(AppState::new(SharedSnapshot::new(snapshot), None))
}

/// A road graph's segments for the Python oracles, one per line:
/// `a  b  w_ab_ms  w_ba_ms  length_m` (w = -1: that direction is closed).
pub fn write_segments(g: &terriens::routing::RoadGraph, path: &std::path::Path) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let closed = |x: u32| {
        if x == terriens::routing::NO_EDGE {
            -1
        } else {
            i64::from(x)
        }
    };
    for s in g.segments() {
        writeln!(
            w,
            "{}\t{}\t{}\t{}\t{}",
            s.nodes[0],
            s.nodes[1],
            closed(s.weight_ms[0]),
            closed(s.weight_ms[1]),
            s.length_m
        )
        .unwrap();
    }
    w.flush().unwrap();
}
