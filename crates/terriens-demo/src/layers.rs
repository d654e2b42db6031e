//! The synthetic resource layers: plots, buildings, waste deposits, catchments and the
//! territory, drawn on a [`Territory`] from a seed. Every feature says it is synthetic
//! (`source`), and its attributes follow the layer schemas so the importer accepts them as
//! they are.
//!
//! Counts at scale 1 (the committed fixtures): ~1,500 plots, ~400 buildings, ~2,000 deposits,
//! one catchment per commune (~40), one territory. At scale N: 1,100 + 400·N plots,
//! 400·N buildings, 2,000·N deposits, on a territory up to 3× wider.

use geo_types::{Coord, Geometry, LineString, Point, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rstar::{AABB, RTree};
use serde_json::{Map, Value as Json, json};

use super::territory::{LocalFrame, SOURCE, Territory};
use terriens::model::Layer;

/// A generated feature, in the form the importer reads.
#[derive(Debug, Clone)]
pub struct GenFeature {
    pub id: u64,
    pub geometry: Geometry<f64>,
    pub properties: Map<String, Json>,
}

/// How many features of each kind a scale gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub plots: usize,
    pub buildings: usize,
    pub deposits: usize,
}

impl Counts {
    pub fn at_scale(scale: u32) -> Counts {
        let n = scale.max(1) as usize;
        Counts {
            plots: 1_100 + 400 * n,
            buildings: 400 * n,
            deposits: 2_000 * n,
        }
    }
}

/// Real France Travail BMO 2024 occupation codes of industrial and logistics jobs (the codes
/// and labels are real; the counts attached to them in the demo data are not).
pub const OCCUPATIONS: &[(&str, &str)] = &[
    ("D1X33", "Soudeurs"),
    ("D1X30", "Ouvriers en chaudronnerie et tôlerie"),
    ("D1X32", "Tuyauteurs"),
    (
        "D0X31",
        "Ouvriers qualifiés en conduite d'équipement d'usinage",
    ),
    (
        "E2X40",
        "Ouvriers qualifiés des industries chimiques et plastiques",
    ),
    (
        "E0X30",
        "Pilotes d'installations lourdes des industries de transformation et d'énergie",
    ),
    ("E5X70", "Techniciens des industries de process"),
    ("G0A40", "Ouvriers de la maintenance générale et mécanique"),
    (
        "G0A41",
        "Ouvriers de la maintenance en électricité et en électronique",
    ),
    ("C0X30", "Ouvriers de l'électricité et de l'électronique"),
    ("H0X90", "Techniciens du contrôle qualité"),
    (
        "H1X90",
        "Ingénieurs et cadres de fabrication et de la production",
    ),
    ("J0X31", "Manutentionnaires et déménageurs qualifiés"),
    (
        "J0X32",
        "Conducteurs d'engins légers de déplacement de charges",
    ),
    ("J0X34", "Magasiniers et préparateurs de commande qualifiés"),
    (
        "B5X40",
        "Conducteurs d'engins du bâtiment et des travaux publics",
    ),
];

/// A material of the demo mix: name, share of deposits, yearly quantity range, waste codes.
type MaterialMix = (&'static str, f64, (f64, f64), &'static [&'static str]);

const MATERIAL_MIX: &[MaterialMix] = &[
    (
        "wood",
        0.14,
        (20.0, 5_000.0),
        &["170201", "030105", "150103", "170204*"],
    ),
    ("concrete", 0.10, (200.0, 50_000.0), &["170101", "170107"]),
    (
        "plastic",
        0.11,
        (5.0, 2_000.0),
        &["170203", "150102", "070213"],
    ),
    (
        "metal",
        0.10,
        (10.0, 6_000.0),
        &["170405", "120101", "170407"],
    ),
    ("shells", 0.03, (100.0, 8_000.0), &["020202"]),
    (
        "raw_earth",
        0.07,
        (500.0, 100_000.0),
        &["170504", "170503*"],
    ),
    (
        "organic",
        0.10,
        (50.0, 20_000.0),
        &["020304", "200108", "020204"],
    ),
    (
        "paper_cardboard",
        0.09,
        (10.0, 5_000.0),
        &["150101", "200101", "030307"],
    ),
    ("glass", 0.05, (10.0, 3_000.0), &["170202", "150107"]),
    ("textile", 0.04, (2.0, 500.0), &["040222", "200110"]),
    ("water", 0.06, (1_000.0, 2_000_000.0), &[]),
    ("heat", 0.05, (500.0, 200_000.0), &[]),
    ("other", 0.06, (5.0, 1_000.0), &["191212", "160104*"]),
];

const HOLDER_KINDS: &[&str] = &[
    "Menuiserie",
    "Scierie",
    "Chaudronnerie",
    "Plasturgie",
    "Conserverie",
    "Papeterie",
    "Verrerie",
    "Fonderie",
    "Laiterie",
    "Mareyage",
    "Travaux publics",
    "Logistique",
    "Chimie",
    "Biscuiterie",
    "Tannerie",
    "Imprimerie",
];
const HOLDER_FORMS: &[&str] = &["SAS", "SARL", "SA", "SCOP", "EURL"];
const ZONINGS: &[&str] = &["UX", "UZ", "UE", "1AUx", "2AUx", "UXa"];
const FREQUENCIES: &[&str] = &["continuous", "weekly", "monthly", "seasonal", "one-off"];

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.random::<f64>() < p
}

fn log_uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

fn round_to(x: f64, step: f64) -> f64 {
    (x / step).round() * step
}

fn date(rng: &mut ChaCha8Rng, from_year: i32, years: i32) -> String {
    let y = from_year + rng.random_range(0..years);
    let m = rng.random_range(1..=12);
    let d = rng.random_range(1..=28);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Generates every layer. Deterministic for a (territory, scale, seed).
pub fn generate_layers(
    territory: &Territory,
    scale: u32,
    seed: u64,
) -> Vec<(Layer, Vec<GenFeature>)> {
    let counts = Counts::at_scale(scale);
    let frame = LocalFrame::new();
    let mut places = Placer::new(territory, frame, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0001);
    let plots = plots(&mut rng, &mut places, counts.plots, scale);
    let buildings = buildings(&mut rng, &mut places, counts.buildings);
    let deposits = deposits(&mut rng, &mut places, counts.deposits);
    let catchments = catchments(&mut rng, territory);
    let territories = vec![GenFeature {
        id: 1,
        geometry: Geometry::Polygon(territory.boundary.clone()),
        properties: props(&[
            ("siren", json!(territory.siren)),
            ("name", json!(territory.name)),
            ("epci_type", json!("CA")),
            (
                "population",
                json!(
                    territory
                        .towns
                        .iter()
                        .map(|t| u64::from(t.population))
                        .sum::<u64>()
                ),
            ),
            ("communes_count", json!(territory.towns.len())),
        ]),
    }];
    vec![
        (Layer::Plots, plots),
        (Layer::Buildings, buildings),
        (Layer::WasteDeposits, deposits),
        (Layer::Catchments, catchments),
        (Layer::Territories, territories),
    ]
}

fn props(pairs: &[(&str, Json)]) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("source".into(), json!(SOURCE));
    for (k, v) in pairs {
        if !v.is_null() {
            m.insert((*k).to_string(), v.clone());
        }
    }
    m
}

/// Finds places for features: in industrial zones or near towns, inside the territory, with
/// polygons kept from overlapping (an R-tree of what is placed).
struct Placer<'a> {
    territory: &'a Territory,
    frame: LocalFrame,
    boundary_local: Polygon<f64>,
    taken: RTree<rstar::primitives::Rectangle<[f64; 2]>>,
    rng: ChaCha8Rng,
}

/// A spot chosen for a feature, in local metres, with the zone or town it belongs to.
struct Spot {
    x: f64,
    y: f64,
    /// Name of the industrial zone, if in one.
    zone: Option<String>,
    insee: String,
}

impl<'a> Placer<'a> {
    fn new(territory: &'a Territory, frame: LocalFrame, seed: u64) -> Placer<'a> {
        let ring = territory
            .boundary
            .exterior()
            .0
            .iter()
            .map(|c| {
                let (x, y) = frame.to_local(c.x, c.y);
                Coord { x, y }
            })
            .collect();
        Placer {
            territory,
            frame,
            boundary_local: Polygon::new(LineString(ring), vec![]),
            taken: RTree::new(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x91ace),
        }
    }

    /// A random spot: in a zone with probability `p_zone`, else near a town (weighted by
    /// population).
    fn spot(&mut self, p_zone: f64, spread: f64) -> Spot {
        use geo::Contains;
        loop {
            let in_zone = !self.territory.zones.is_empty() && chance(&mut self.rng, p_zone);
            let (cx, cy, sigma, zone) = if in_zone {
                let z = pick(&mut self.rng, &self.territory.zones);
                let (x, y) = self.frame.to_local(z.lon, z.lat);
                (x, y, z.radius_m * spread, Some(z.name.clone()))
            } else {
                let total: f64 = self
                    .territory
                    .towns
                    .iter()
                    .map(|t| f64::from(t.population).sqrt())
                    .sum();
                let mut r = self.rng.random::<f64>() * total;
                let mut town = &self.territory.towns[0];
                for t in &self.territory.towns {
                    r -= f64::from(t.population).sqrt();
                    if r <= 0.0 {
                        town = t;
                        break;
                    }
                }
                let (x, y) = self.frame.to_local(town.lon, town.lat);
                (x, y, 600.0 + f64::from(town.population).sqrt() * 12.0, None)
            };
            // Box–Muller.
            let (u1, u2): (f64, f64) = (self.rng.random_range(1e-12..1.0), self.rng.random());
            let r = (-2.0 * u1.ln()).sqrt() * sigma;
            let (x, y) = (
                cx + r * (u2 * std::f64::consts::TAU).cos(),
                cy + r * (u2 * std::f64::consts::TAU).sin(),
            );
            if !self.boundary_local.contains(&Point::new(x, y)) {
                continue;
            }
            let (lon, lat) = self.frame.to_lonlat(x, y);
            let p = Point::new(lon, lat);
            let insee = self
                .territory
                .towns
                .iter()
                .find(|t| t.boundary.contains(&p))
                .or_else(|| {
                    self.territory.towns.iter().min_by(|a, b| {
                        let da = (a.lon - lon).hypot(a.lat - lat);
                        let db = (b.lon - lon).hypot(b.lat - lat);
                        da.total_cmp(&db)
                    })
                })
                .map(|t| t.insee.clone())
                .unwrap_or_default();
            return Spot { x, y, zone, insee };
        }
    }

    /// A polygon of about `area_m2` around a spot: a rotated rectangle, sometimes with a corner
    /// cut. Tries a few spots to avoid overlapping what is already placed.
    fn parcel(&mut self, area_m2: f64, p_zone: f64, spread: f64) -> (Spot, Polygon<f64>) {
        let mut last = None;
        for attempt in 0..12 {
            let spot = self.spot(p_zone, spread * (1.0 + attempt as f64 * 0.15));
            let aspect = self.rng.random_range(1.0..2.8);
            let w = (area_m2 * aspect).sqrt();
            let h = area_m2 / w;
            let angle: f64 = self.rng.random_range(0.0..std::f64::consts::PI);
            let (s, c) = angle.sin_cos();
            let mut corners: Vec<(f64, f64)> = vec![
                (-w / 2.0, -h / 2.0),
                (w / 2.0, -h / 2.0),
                (w / 2.0, h / 2.0),
                (-w / 2.0, h / 2.0),
            ];
            if chance(&mut self.rng, 0.35) {
                // Cut one corner: a pentagon, as parcels often are.
                let k = self.rng.random_range(0..4);
                let (a, b) = (corners[k], corners[(k + 1) % 4]);
                let (p, q) = (corners[(k + 3) % 4], a);
                let cut = self.rng.random_range(0.15..0.4);
                let on_ab = (a.0 + (b.0 - a.0) * cut, a.1 + (b.1 - a.1) * cut);
                let on_pa = (q.0 + (p.0 - q.0) * cut, q.1 + (p.1 - q.1) * cut);
                corners.splice(k..=k, [on_pa, on_ab]);
            }
            let local: Vec<(f64, f64)> = corners
                .iter()
                .map(|(u, v)| (spot.x + u * c - v * s, spot.y + u * s + v * c))
                .collect();
            let (mut x0, mut y0, mut x1, mut y1) = (
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            );
            for (x, y) in &local {
                x0 = x0.min(*x);
                y0 = y0.min(*y);
                x1 = x1.max(*x);
                y1 = y1.max(*y);
            }
            let env = AABB::from_corners([x0, y0], [x1, y1]);
            let free = self
                .taken
                .locate_in_envelope_intersecting(&env)
                .next()
                .is_none();
            let mut ring: Vec<Coord<f64>> = local
                .iter()
                .map(|(x, y)| {
                    let (lon, lat) = self.frame.to_lonlat(*x, *y);
                    Coord { x: lon, y: lat }
                })
                .collect();
            ring.push(ring[0]);
            let poly = Polygon::new(LineString(ring), vec![]);
            if free || attempt == 11 {
                self.taken
                    .insert(rstar::primitives::Rectangle::from_corners(
                        [x0, y0],
                        [x1, y1],
                    ));
                return (spot, poly);
            }
            last = Some((spot, poly));
        }
        match last {
            Some(l) => l,
            None => unreachable!("the loop returns on its last attempt"),
        }
    }

    fn point(&mut self, spot: &Spot) -> Geometry<f64> {
        let (lon, lat) = self.frame.to_lonlat(spot.x, spot.y);
        Geometry::Point(Point::new(lon, lat))
    }
}

fn plots(rng: &mut ChaCha8Rng, places: &mut Placer, n: usize, scale: u32) -> Vec<GenFeature> {
    // Large data sets keep plots smaller so that 200,000 of them still fit a département.
    let shrink = if scale > 1 { 0.1 } else { 1.0 };
    let siren = places.territory.siren.clone();
    (0..n)
        .map(|i| {
            let brownfield = chance(rng, 0.18);
            let ha = shrink
                * match rng.random::<f64>() {
                    x if x < 0.70 => log_uniform(rng, 0.2, 5.0),
                    x if x < 0.95 => log_uniform(rng, 5.0, 20.0),
                    _ => log_uniform(rng, 20.0, 60.0),
                };
            let (spot, poly) =
                places.parcel(ha * 10_000.0, if brownfield { 0.3 } else { 0.85 }, 1.6);
            let status = match rng.random::<f64>() {
                x if x < 0.6 => "available",
                x if x < 0.8 => "reserved",
                _ => "sold",
            };
            let name = match &spot.zone {
                Some(z) => format!("{z} – lot {}", i + 1),
                None if brownfield => format!("Friche {}", i + 1),
                None => format!("Terrain {}", i + 1),
            };
            let declared =
                chance(rng, 0.3).then(|| round_to(ha * rng.random_range(0.95..1.05), 0.01));
            let available_from = match status {
                "available" if chance(rng, 0.7) => json!(date(rng, 2025, 4)),
                "reserved" => json!(date(rng, 2026, 3)),
                _ => Json::Null,
            };
            GenFeature {
                id: i as u64 + 1,
                geometry: Geometry::Polygon(poly),
                properties: props(&[
                    ("name", json!(name)),
                    ("territory", json!(siren)),
                    ("commune_insee", json!(spot.insee)),
                    (
                        "declared_area_ha",
                        declared.map_or(Json::Null, |d| json!(d)),
                    ),
                    ("status", json!(status)),
                    ("available_from", available_from),
                    ("turnkey", json!(!brownfield && chance(rng, 0.18))),
                    (
                        "price_eur_m2",
                        json!(round_to(rng.random_range(8.0..85.0), 0.5)),
                    ),
                    ("zoning", json!(pick(rng, ZONINGS))),
                    (
                        "power_mva",
                        json!(round_to(log_uniform(rng, 0.25, 40.0), 0.05)),
                    ),
                    (
                        "water_m3_day",
                        json!(round_to(log_uniform(rng, 10.0, 5_000.0), 1.0)),
                    ),
                    ("gas", json!(chance(rng, 0.6))),
                    ("fibre", json!(chance(rng, 0.7))),
                    ("rail_siding", json!(chance(rng, 0.1))),
                    ("flood_zone", json!(chance(rng, 0.12))),
                    ("seveso", json!(chance(rng, 0.05))),
                    ("natura2000", json!(chance(rng, 0.03))),
                    (
                        "soil_pollution",
                        json!(chance(rng, if brownfield { 0.4 } else { 0.03 })),
                    ),
                    ("brownfield", json!(brownfield)),
                ]),
            }
        })
        .collect()
}

fn buildings(rng: &mut ChaCha8Rng, places: &mut Placer, n: usize) -> Vec<GenFeature> {
    let siren = places.territory.siren.clone();
    (0..n).map(|i| building(rng, places, i, &siren)).collect()
}

/// Building `i`: its floor area and land, a footprint (70 %) or a point, its tenure and
/// status, then its other attributes ([`building_terms`]).
fn building(rng: &mut ChaCha8Rng, places: &mut Placer, i: usize, siren: &str) -> GenFeature {
    let floor = log_uniform(rng, 400.0, 40_000.0);
    let land_ha = floor / 10_000.0 * rng.random_range(1.6..3.5);
    let as_polygon = chance(rng, 0.7);
    let (spot, geometry) = if as_polygon {
        let (spot, poly) = places.parcel(floor * 1.05, 0.9, 1.4);
        (spot, Geometry::Polygon(poly))
    } else {
        let spot = places.spot(0.9, 1.4);
        let g = places.point(&spot);
        (spot, g)
    };
    let tenure = *pick(rng, &["sale", "lease", "sale_or_lease"]);
    let status = match rng.random::<f64>() {
        x if x < 0.65 => "available",
        x if x < 0.8 => "reserved",
        _ if tenure == "lease" => "let",
        _ => "sold",
    };
    let name = match &spot.zone {
        Some(z) => format!("Bâtiment {} – {z}", i + 1),
        None => format!("Bâtiment {}", i + 1),
    };
    let mut fields = vec![
        ("name", json!(name)),
        ("territory", json!(siren)),
        ("commune_insee", json!(spot.insee)),
        ("floor_area_m2", json!(round_to(floor, 10.0))),
        ("land_area_ha", json!(round_to(land_ha, 0.01))),
    ];
    fields.extend(building_terms(rng, floor, status, tenure));
    GenFeature {
        id: i as u64 + 1,
        geometry,
        properties: props(&fields),
    }
}

/// A building's fittings, status, price or rent and constraints, drawn in field order.
fn building_terms(
    rng: &mut ChaCha8Rng,
    floor: f64,
    status: &'static str,
    tenure: &'static str,
) -> Vec<(&'static str, Json)> {
    vec![
        (
            "clear_height_m",
            json!(round_to(rng.random_range(5.5..14.0), 0.5)),
        ),
        (
            "dock_doors",
            json!((floor / 1_200.0 * rng.random_range(0.0..1.5)) as i64),
        ),
        (
            "office_m2",
            json!(round_to(floor * rng.random_range(0.03..0.15), 10.0)),
        ),
        (
            "icpe_regime",
            json!(pick(
                rng,
                &[
                    "none",
                    "none",
                    "declaration",
                    "registration",
                    "authorisation"
                ]
            )),
        ),
        ("status", json!(status)),
        (
            "available_from",
            if status == "available" {
                json!(date(rng, 2025, 3))
            } else {
                Json::Null
            },
        ),
        ("tenure", json!(tenure)),
        (
            "price_eur",
            if tenure != "lease" {
                json!(round_to(floor * rng.random_range(350.0..900.0), 1_000.0))
            } else {
                Json::Null
            },
        ),
        (
            "rent_eur_m2_year",
            if tenure != "sale" {
                json!(round_to(rng.random_range(35.0..75.0), 0.5))
            } else {
                Json::Null
            },
        ),
        (
            "power_mva",
            json!(round_to(log_uniform(rng, 0.1, 10.0), 0.05)),
        ),
        ("rail_siding", json!(chance(rng, 0.07))),
        ("flood_zone", json!(chance(rng, 0.1))),
        ("seveso", json!(chance(rng, 0.04))),
    ]
}

fn deposits(rng: &mut ChaCha8Rng, places: &mut Placer, n: usize) -> Vec<GenFeature> {
    let siren = places.territory.siren.clone();
    let total_share: f64 = MATERIAL_MIX.iter().map(|m| m.1).sum();
    (0..n)
        .map(|i| {
            let mut r = rng.random::<f64>() * total_share;
            let mut chosen = &MATERIAL_MIX[0];
            for m in MATERIAL_MIX {
                r -= m.1;
                if r <= 0.0 {
                    chosen = m;
                    break;
                }
            }
            let (material, _, (lo, hi), codes) = *chosen;
            let quantity = round_to(log_uniform(rng, lo, hi), 1.0);
            let spot = places.spot(0.6, 1.8);
            let geometry = places.point(&spot);
            let holder = format!(
                "{} {} {}",
                pick(rng, HOLDER_KINDS),
                pick(
                    rng,
                    &[
                        "du Val",
                        "des Près",
                        "Normande",
                        "de la Côte",
                        "Synthétique",
                        "du Plateau"
                    ]
                ),
                pick(rng, HOLDER_FORMS)
            );
            let code = if codes.is_empty() {
                Json::Null
            } else {
                json!(pick(rng, codes))
            };
            let frequency = if matches!(material, "water" | "heat") {
                "continuous"
            } else {
                *pick(rng, FREQUENCIES)
            };
            GenFeature {
                id: i as u64 + 1,
                geometry,
                properties: props(&[
                    ("name", json!(format!("Gisement {material} {}", i + 1))),
                    ("territory", json!(siren)),
                    ("commune_insee", json!(spot.insee)),
                    ("material", json!(material)),
                    ("waste_code", code),
                    ("quantity", json!(quantity)),
                    ("frequency", json!(frequency)),
                    ("holder", json!(holder)),
                    (
                        "confidentiality",
                        json!(if chance(rng, 0.2) {
                            "partners"
                        } else {
                            "public"
                        }),
                    ),
                ]),
            }
        })
        .collect()
}

fn catchments(rng: &mut ChaCha8Rng, territory: &Territory) -> Vec<GenFeature> {
    territory
        .towns
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let pop = f64::from(t.population);
            let job_seekers = (pop * rng.random_range(0.05..0.09)).round();
            let mut candidates = Map::new();
            let mut hiring = Map::new();
            let mut hiring_total = 0.0;
            let mut difficult = 0.0;
            for (code, _) in OCCUPATIONS {
                let c = (job_seekers * rng.random_range(0.002..0.03)).round();
                if c > 0.0 {
                    candidates.insert((*code).to_string(), json!(c as i64));
                }
                let h = (pop * rng.random_range(0.0..0.0025)).round();
                if h > 0.0 {
                    hiring.insert((*code).to_string(), json!(h as i64));
                    hiring_total += h;
                    difficult += h * rng.random_range(0.3..0.85);
                }
            }
            let share = if hiring_total > 0.0 {
                round_to(difficult / hiring_total, 0.001)
            } else {
                0.0
            };
            GenFeature {
                id: i as u64 + 1,
                geometry: if t.boundary.0.len() == 1 {
                    Geometry::Polygon(t.boundary.0[0].clone())
                } else {
                    Geometry::MultiPolygon(t.boundary.clone())
                },
                properties: props(&[
                    ("zone_code", json!(t.insee)),
                    ("zone_name", json!(t.name)),
                    ("territory", json!(territory.siren)),
                    ("population", json!(t.population)),
                    ("job_seekers", json!(job_seekers as i64)),
                    ("candidates", Json::Object(candidates)),
                    ("hiring_projects", Json::Object(hiring)),
                    ("difficult_share", json!(share)),
                ]),
            }
        })
        .collect()
}
