//! Vehicle profiles: which roads a vehicle may use, in which direction, and how fast.
//!
//! Inputs are normalised first into [`WayAttrs`] (from OSM tags by [`WayAttrs::from_osm_tags`],
//! from IGN BD TOPO `troncon_de_route` attributes by [`WayAttrs::from_bdtopo`]); a [`Profile`]
//! then turns those attributes into a speed per direction ([`Profile::speeds_kmh`]).
//!
//! # The car table (France)
//!
//! Speeds are **average driving speeds in km/h**, not legal limits: they include slowing down
//! at junctions. French limits for reference: 130 motorway, 110 dual carriageway, 80 other
//! rural roads (90 where the département restored it), 50 in built-up areas, 30 in many town
//! centres.
//!
//! | `highway`        | rural | urban | HGV cap |
//! |------------------|------:|------:|--------:|
//! | motorway         |   120 |    90 |      85 |
//! | motorway_link    |    60 |    45 |      50 |
//! | trunk            |    95 |    70 |      75 |
//! | trunk_link       |    50 |    40 |      45 |
//! | primary          |    75 |    40 |      65 |
//! | primary_link     |    45 |    30 |      40 |
//! | secondary        |    65 |    35 |      60 |
//! | secondary_link   |    40 |    25 |      35 |
//! | tertiary         |    55 |    30 |      50 |
//! | tertiary_link    |    35 |    25 |      30 |
//! | unclassified     |    45 |    25 |      40 |
//! | residential      |    30 |    20 |      25 |
//! | living_street    |    10 |    10 |      10 |
//! | service          |    20 |    15 |      15 |
//! | road (unknown)   |    30 |    20 |      25 |
//!
//! Rules, in order:
//! 1. **Not roads**: `route=ferry` (ferries are skipped), `area=yes`, `highway` = footway, path,
//!    cycleway, bridleway, steps, pedestrian, track, construction, proposed and every other
//!    value not in the table; `impassable=yes`; `oneway=reversible|alternating`.
//! 2. **Access**: the most specific of `motorcar` (HGV: `hgv`), `motor_vehicle`, `vehicle`,
//!    `access` decides; `no`, `private`, `agricultural`, `forestry`, `military`, `emergency`,
//!    `bus`, `psv`, `permit` exclude the road; anything else (`yes`, `destination`,
//!    `customers`, `delivery`, ...) allows it. BD TOPO: `acces_vehicule_leger` = *Physiquement
//!    impossible* or *Restreint aux ayants droit*, `prive`, a state other than *En service*
//!    exclude it.
//! 3. **Speed**: BD TOPO `vitesse_moyenne_vl` when positive (it is already an average speed);
//!    else 0.9 × the tagged `maxspeed` (`maxspeed:forward` / `:backward` per direction;
//!    `FR:urban` 50, `FR:rural` 80, `FR:motorway` 130, `FR:zone30` 30, mph converted), links
//!    capped at their table speed; else the table, urban column when the road is known to be
//!    in a built-up area (`maxspeed:type`, `source:maxspeed` or `zone:maxspeed` saying urban
//!    or a 20/30 zone; BD TOPO `urbain`; otherwise the road density around the segment, see
//!    [`super::urban_density`]), rural column otherwise. `service=parking_aisle|driveway|
//!    drive-through` is capped at 10 km/h.
//! 4. **One-way**: `oneway=yes|true|1` forward only, `oneway=-1|reverse` backward only,
//!    `oneway=no` both ways; otherwise implied for `motorway`, `motorway_link` and
//!    `junction=roundabout|circular`. BD TOPO `sens_de_circulation`: *Sens direct* forward,
//!    *Sens inverse* backward, anything else both.
//! 5. **Heavy goods vehicles** (`hgv`: 44 t, 4.0 m high, 2.55 m wide, 16.5 m long; `hgv_hazmat`
//!    the same carrying dangerous goods): speed capped by the HGV column; roads with a
//!    `maxweight` (or `maxweight:hgv`), `maxheight`, `maxwidth`, `maxlength` below the vehicle
//!    excluded (BD TOPO `restriction_de_*`); `hazmat=no` (BD TOPO
//!    `matieres_dangereuses_interdites`) excludes the road for `hgv_hazmat`.
//!
//! ```
//! use terriens::routing::{Profile, ProfileId, WayAttrs};
//! let tags = [("highway", "primary"), ("maxspeed", "80"), ("oneway", "yes")];
//! let attrs = WayAttrs::from_osm_tags(tags.iter().copied()).unwrap();
//! let [fwd, bwd] = Profile::get(ProfileId::Car).speeds_kmh(&attrs, Some(false));
//! assert_eq!((fwd, bwd), (72.0, 0.0));
//! assert!(WayAttrs::from_osm_tags([("route", "ferry")].into_iter()).is_none());
//! ```

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value as Json};

/// Road classes, as OSM `highway` values. The discriminant is stored in graph files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum RoadClass {
    Motorway = 0,
    MotorwayLink,
    Trunk,
    TrunkLink,
    Primary,
    PrimaryLink,
    Secondary,
    SecondaryLink,
    Tertiary,
    TertiaryLink,
    Unclassified,
    Residential,
    LivingStreet,
    Service,
    Road,
}

/// One row of the speed table: km/h rural, urban, HGV cap.
struct Row {
    class: RoadClass,
    tag: &'static str,
    rural_kmh: f64,
    urban_kmh: f64,
    hgv_cap_kmh: f64,
}

/// The speed table of the module documentation, in [`RoadClass`] order.
const TABLE: [Row; 15] = [
    row(RoadClass::Motorway, "motorway", 120.0, 90.0, 85.0),
    row(RoadClass::MotorwayLink, "motorway_link", 60.0, 45.0, 50.0),
    row(RoadClass::Trunk, "trunk", 95.0, 70.0, 75.0),
    row(RoadClass::TrunkLink, "trunk_link", 50.0, 40.0, 45.0),
    row(RoadClass::Primary, "primary", 75.0, 40.0, 65.0),
    row(RoadClass::PrimaryLink, "primary_link", 45.0, 30.0, 40.0),
    row(RoadClass::Secondary, "secondary", 65.0, 35.0, 60.0),
    row(RoadClass::SecondaryLink, "secondary_link", 40.0, 25.0, 35.0),
    row(RoadClass::Tertiary, "tertiary", 55.0, 30.0, 50.0),
    row(RoadClass::TertiaryLink, "tertiary_link", 35.0, 25.0, 30.0),
    row(RoadClass::Unclassified, "unclassified", 45.0, 25.0, 40.0),
    row(RoadClass::Residential, "residential", 30.0, 20.0, 25.0),
    row(RoadClass::LivingStreet, "living_street", 10.0, 10.0, 10.0),
    row(RoadClass::Service, "service", 20.0, 15.0, 15.0),
    row(RoadClass::Road, "road", 30.0, 20.0, 25.0),
];

const fn row(class: RoadClass, tag: &'static str, rural: f64, urban: f64, hgv: f64) -> Row {
    Row {
        class,
        tag,
        rural_kmh: rural,
        urban_kmh: urban,
        hgv_cap_kmh: hgv,
    }
}

/// Scale applied to a tagged `maxspeed`: traffic rarely drives at the limit.
pub const MAXSPEED_FACTOR: f64 = 0.9;
/// Speed on parking aisles, driveways and drive-throughs.
const SLOW_SERVICE_KMH: f64 = 10.0;

impl RoadClass {
    /// Every class, in discriminant order.
    pub const ALL: [RoadClass; 15] = {
        let mut out = [RoadClass::Road; 15];
        let mut i = 0;
        while i < 15 {
            out[i] = TABLE[i].class;
            i += 1;
        }
        out
    };

    fn row(self) -> &'static Row {
        &TABLE[self as usize]
    }

    /// The OSM `highway` value.
    pub fn tag(self) -> &'static str {
        self.row().tag
    }

    /// The class of an OSM `highway` value.
    pub fn from_tag(tag: &str) -> Option<RoadClass> {
        TABLE.iter().find(|r| r.tag == tag).map(|r| r.class)
    }

    /// The class stored as a byte in a graph file.
    pub fn from_u8(b: u8) -> Option<RoadClass> {
        RoadClass::ALL.get(usize::from(b)).copied()
    }

    /// Motorway, trunk and their links: fast roads nobody lives on.
    pub fn is_major(self) -> bool {
        matches!(
            self,
            RoadClass::Motorway | RoadClass::MotorwayLink | RoadClass::Trunk | RoadClass::TrunkLink
        )
    }

    /// A `*_link` ramp.
    pub fn is_link(self) -> bool {
        matches!(
            self,
            RoadClass::MotorwayLink
                | RoadClass::TrunkLink
                | RoadClass::PrimaryLink
                | RoadClass::SecondaryLink
                | RoadClass::TertiaryLink
        )
    }

    /// Streets people live along: used to weight catchments by reachable street length.
    pub fn is_residential(self) -> bool {
        matches!(
            self,
            RoadClass::Primary
                | RoadClass::Secondary
                | RoadClass::Tertiary
                | RoadClass::Unclassified
                | RoadClass::Residential
                | RoadClass::LivingStreet
                | RoadClass::Road
        )
    }
}

/// Which directions a road may be driven, relative to its digitised direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oneway {
    Both,
    Forward,
    Backward,
}

/// What a road is, independent of the vehicle: the normalised form of OSM tags or BD TOPO
/// attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct WayAttrs {
    pub class: RoadClass,
    /// In a built-up area, when the data says so; `None` when it does not (the graph builder
    /// then decides from the road density).
    pub urban: Option<bool>,
    /// Posted limits, km/h, for the forward and backward directions.
    pub maxspeed_kmh: [Option<f64>; 2],
    /// A measured or modelled average speed (BD TOPO `vitesse_moyenne_vl`), used as is.
    pub average_speed_kmh: Option<f64>,
    pub oneway: Oneway,
    /// Cars may use it.
    pub car_access: bool,
    /// Heavy goods vehicles may use it (access tags only; dimensions are checked apart).
    pub hgv_access: bool,
    /// Parking aisle, driveway or drive-through.
    pub slow_service: bool,
    pub maxweight_t: Option<f64>,
    pub maxheight_m: Option<f64>,
    pub maxwidth_m: Option<f64>,
    pub maxlength_m: Option<f64>,
    /// Dangerous goods forbidden.
    pub hazmat_forbidden: bool,
}

impl WayAttrs {
    /// A plain two-way road of a class, open to every vehicle, without tagged limits.
    pub fn new(class: RoadClass) -> WayAttrs {
        WayAttrs {
            class,
            urban: None,
            maxspeed_kmh: [None, None],
            average_speed_kmh: None,
            oneway: Oneway::Both,
            car_access: true,
            hgv_access: true,
            slow_service: false,
            maxweight_t: None,
            maxheight_m: None,
            maxwidth_m: None,
            maxlength_m: None,
            hazmat_forbidden: false,
        }
    }

    /// Reads OSM tags; `None` when the way is no road for any profile (rule 1).
    pub fn from_osm_tags<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> Option<WayAttrs> {
        let mut t = OsmTags::default();
        for (k, v) in tags {
            t.set(k, v);
        }
        if t.route.as_deref() == Some("ferry") || t.area || t.impassable {
            return None;
        }
        let class = RoadClass::from_tag(t.highway.as_deref()?)?;
        let implied = matches!(class, RoadClass::Motorway | RoadClass::MotorwayLink)
            || matches!(t.junction.as_deref(), Some("roundabout" | "circular"));
        let oneway = match t.oneway.as_deref() {
            Some("yes" | "true" | "1") => Oneway::Forward,
            Some("-1" | "reverse") => Oneway::Backward,
            Some("no" | "false" | "0") => Oneway::Both,
            Some("reversible" | "alternating") => return None,
            _ if implied => Oneway::Forward,
            _ => Oneway::Both,
        };
        let urban_hint = [
            &t.maxspeed_type,
            &t.source_maxspeed,
            &t.zone_maxspeed,
            &t.maxspeed,
        ]
        .into_iter()
        .flatten()
        .find_map(|v| urban_hint(v));
        let both = t.maxspeed.as_deref().and_then(parse_maxspeed_kmh);
        let maxspeed_kmh = [
            t.maxspeed_forward
                .as_deref()
                .and_then(parse_maxspeed_kmh)
                .or(both),
            t.maxspeed_backward
                .as_deref()
                .and_then(parse_maxspeed_kmh)
                .or(both),
        ];
        let access = |keys: &[&Option<String>]| {
            keys.iter()
                .find_map(|v| v.as_deref())
                .is_none_or(access_allows)
        };
        let car_access = access(&[&t.motorcar, &t.motor_vehicle, &t.vehicle, &t.access]);
        let hgv_access = access(&[&t.hgv, &t.motor_vehicle, &t.vehicle, &t.access]);
        if !car_access && !hgv_access {
            return None;
        }
        let maxweight_t = t
            .maxweight_hgv
            .as_deref()
            .or(t.maxweight.as_deref())
            .and_then(parse_weight_t);
        Some(WayAttrs {
            class,
            urban: urban_hint,
            maxspeed_kmh,
            average_speed_kmh: None,
            oneway,
            car_access,
            hgv_access,
            slow_service: matches!(
                t.service.as_deref(),
                Some("parking_aisle" | "driveway" | "drive-through")
            ),
            maxweight_t,
            maxheight_m: t.maxheight.as_deref().and_then(parse_length_m),
            maxwidth_m: t.maxwidth.as_deref().and_then(parse_length_m),
            maxlength_m: t.maxlength.as_deref().and_then(parse_length_m),
            hazmat_forbidden: t.hazmat.as_deref() == Some("no"),
        })
    }

    /// Reads the attributes of an IGN BD TOPO `troncon_de_route`; `None` for what no vehicle
    /// may drive (paths, stairs, ferries, closed or private sections).
    pub fn from_bdtopo(p: &Map<String, Json>) -> Option<WayAttrs> {
        let text = |k: &str| p.get(k).and_then(Json::as_str).unwrap_or("");
        let num = |k: &str| match p.get(k) {
            Some(Json::Number(n)) => n.as_f64(),
            Some(Json::String(s)) => s.trim().replace(',', ".").parse::<f64>().ok(),
            _ => None,
        };
        let flag = |k: &str| matches!(p.get(k), Some(Json::Bool(true)));
        let etat = text("etat_de_l_objet");
        if !etat.is_empty() && etat != "En service" {
            return None;
        }
        let importance = num("importance").unwrap_or(5.0) as i64;
        let by_importance = |i: i64| match i {
            1 => RoadClass::Trunk,
            2 => RoadClass::Primary,
            3 => RoadClass::Secondary,
            4 => RoadClass::Tertiary,
            5 => RoadClass::Residential,
            _ => RoadClass::Service,
        };
        let class = match text("nature") {
            "Type autoroutier" => RoadClass::Motorway,
            "Bretelle" => match importance {
                1 => RoadClass::MotorwayLink,
                2 => RoadClass::TrunkLink,
                3 => RoadClass::PrimaryLink,
                4 => RoadClass::SecondaryLink,
                _ => RoadClass::TertiaryLink,
            },
            "Route à 2 chaussées" => match importance {
                1 | 2 => RoadClass::Trunk,
                i => by_importance(i),
            },
            "Route à 1 chaussée" | "Rond-point" | "Place" => by_importance(importance),
            "Route empierrée" => RoadClass::Service,
            _ => return None, // Chemin, Sentier, Escalier, Piste cyclable, Bac ...
        };
        let access = text("acces_vehicule_leger");
        if matches!(
            access,
            "Physiquement impossible" | "Restreint aux ayants droit"
        ) || flag("prive")
        {
            return None;
        }
        let oneway = match text("sens_de_circulation") {
            "Sens direct" => Oneway::Forward,
            "Sens inverse" => Oneway::Backward,
            _ => Oneway::Both,
        };
        let urban = match p.get("urbain") {
            Some(Json::Bool(b)) => Some(*b),
            _ => None,
        };
        let mut attrs = WayAttrs::new(class);
        attrs.urban = urban;
        attrs.average_speed_kmh = num("vitesse_moyenne_vl").filter(|v| *v > 0.0);
        attrs.oneway = oneway;
        attrs.maxheight_m = num("restriction_de_hauteur").filter(|v| *v > 0.0);
        attrs.maxweight_t = num("restriction_de_poids_total").filter(|v| *v > 0.0);
        attrs.maxwidth_m = num("restriction_de_largeur").filter(|v| *v > 0.0);
        attrs.maxlength_m = num("restriction_de_longueur").filter(|v| *v > 0.0);
        attrs.hazmat_forbidden = flag("matieres_dangereuses_interdites");
        Some(attrs)
    }
}

/// The OSM tags the profile reads.
#[derive(Default)]
struct OsmTags {
    highway: Option<String>,
    route: Option<String>,
    area: bool,
    impassable: bool,
    junction: Option<String>,
    oneway: Option<String>,
    maxspeed: Option<String>,
    maxspeed_forward: Option<String>,
    maxspeed_backward: Option<String>,
    maxspeed_type: Option<String>,
    source_maxspeed: Option<String>,
    zone_maxspeed: Option<String>,
    access: Option<String>,
    vehicle: Option<String>,
    motor_vehicle: Option<String>,
    motorcar: Option<String>,
    hgv: Option<String>,
    service: Option<String>,
    maxweight: Option<String>,
    maxweight_hgv: Option<String>,
    maxheight: Option<String>,
    maxwidth: Option<String>,
    maxlength: Option<String>,
    hazmat: Option<String>,
}

impl OsmTags {
    fn set(&mut self, k: &str, v: &str) {
        let slot = match k {
            "highway" => &mut self.highway,
            "route" => &mut self.route,
            "area" => {
                self.area = v == "yes";
                return;
            }
            "impassable" => {
                self.impassable = v == "yes";
                return;
            }
            "junction" => &mut self.junction,
            "oneway" => &mut self.oneway,
            "maxspeed" => &mut self.maxspeed,
            "maxspeed:forward" => &mut self.maxspeed_forward,
            "maxspeed:backward" => &mut self.maxspeed_backward,
            "maxspeed:type" => &mut self.maxspeed_type,
            "source:maxspeed" => &mut self.source_maxspeed,
            "zone:maxspeed" => &mut self.zone_maxspeed,
            "access" => &mut self.access,
            "vehicle" => &mut self.vehicle,
            "motor_vehicle" => &mut self.motor_vehicle,
            "motorcar" => &mut self.motorcar,
            "hgv" => &mut self.hgv,
            "service" => &mut self.service,
            "maxweight" => &mut self.maxweight,
            "maxweight:hgv" => &mut self.maxweight_hgv,
            "maxheight" | "maxheight:physical" => &mut self.maxheight,
            "maxwidth" | "maxwidth:physical" => &mut self.maxwidth,
            "maxlength" => &mut self.maxlength,
            "hazmat" => &mut self.hazmat,
            _ => return,
        };
        *slot = Some(v.trim().to_string());
    }
}

/// Whether an access value lets the vehicle in.
fn access_allows(v: &str) -> bool {
    !matches!(
        v,
        "no" | "private"
            | "agricultural"
            | "forestry"
            | "military"
            | "emergency"
            | "bus"
            | "psv"
            | "permit"
    )
}

/// Urban (true) or rural (false) from a `maxspeed:type`-like value.
fn urban_hint(v: &str) -> Option<bool> {
    let v = v.to_ascii_lowercase();
    if v.contains("urban") || v.contains("zone30") || v.contains("zone20") || v.ends_with(":30") {
        Some(true)
    } else if v.contains("rural") {
        Some(false)
    } else {
        None
    }
}

/// A `maxspeed` value in km/h: `50`, `50 km/h`, `30 mph`, `FR:urban`, `FR:rural`,
/// `FR:motorway`, `FR:zone30`, `walk`. `none` and unknown forms give `None`.
pub fn parse_maxspeed_kmh(v: &str) -> Option<f64> {
    let v = v.trim();
    let lower = v.to_ascii_lowercase();
    let named = match lower.as_str() {
        "fr:urban" => Some(50.0),
        "fr:rural" => Some(80.0),
        "fr:trunk" => Some(110.0),
        "fr:motorway" => Some(130.0),
        "fr:zone30" | "fr:30" => Some(30.0),
        "fr:zone20" | "fr:20" => Some(20.0),
        "fr:walk" | "walk" => Some(6.0),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let (n, unit) = leading_number(&lower)?;
    let kmh = match unit.trim() {
        "" | "km/h" | "kmh" | "kph" => n,
        "mph" => n * 1.609_344,
        _ => return None,
    };
    (kmh > 0.0 && kmh < 300.0).then_some(kmh)
}

/// A weight in tonnes: `7.5`, `7,5 t`, `3500 kg`.
fn parse_weight_t(v: &str) -> Option<f64> {
    let lower = v.trim().to_ascii_lowercase();
    let (n, unit) = leading_number(&lower)?;
    let t = match unit.trim() {
        "" | "t" => n,
        "kg" => n / 1000.0,
        _ => return None,
    };
    (t > 0.0).then_some(t)
}

/// A length in metres: `4`, `4.2 m`, `13'6"`.
fn parse_length_m(v: &str) -> Option<f64> {
    let v = v.trim().to_ascii_lowercase();
    if let Some((feet, rest)) = v.split_once('\'') {
        let ft: f64 = feet.trim().parse().ok()?;
        let inches: f64 = rest
            .trim()
            .trim_end_matches('"')
            .trim()
            .parse()
            .unwrap_or(0.0);
        return Some((ft * 12.0 + inches) * 0.0254);
    }
    let (n, unit) = leading_number(&v)?;
    let m = match unit.trim() {
        "" | "m" => n,
        "cm" => n / 100.0,
        _ => return None,
    };
    (m > 0.0).then_some(m)
}

/// The number a value starts with (`,` as a decimal mark accepted) and the rest.
fn leading_number(v: &str) -> Option<(f64, &str)> {
    let end = v
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == ','))
        .map_or(v.len(), |(i, _)| i);
    let n: f64 = v[..end].replace(',', ".").parse().ok()?;
    Some((n, &v[end..]))
}

/// The profiles terriens builds graphs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProfileId {
    Car,
    Hgv,
    HgvHazmat,
}

impl ProfileId {
    pub const ALL: [ProfileId; 3] = [ProfileId::Car, ProfileId::Hgv, ProfileId::HgvHazmat];

    /// The name used in URLs, file names and the command line.
    pub fn id(self) -> &'static str {
        match self {
            ProfileId::Car => "car",
            ProfileId::Hgv => "hgv",
            ProfileId::HgvHazmat => "hgv_hazmat",
        }
    }

    /// The byte stored in graph files.
    pub fn to_u8(self) -> u8 {
        self as u8
    }

    pub fn from_u8(b: u8) -> Option<ProfileId> {
        ProfileId::ALL.get(usize::from(b)).copied()
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// An unknown profile name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile `{0}`; valid profiles are: car, hgv, hgv_hazmat")]
pub struct UnknownProfile(pub String);

impl FromStr for ProfileId {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProfileId::ALL
            .into_iter()
            .find(|p| p.id() == s.trim())
            .ok_or_else(|| UnknownProfile(s.to_string()))
    }
}

/// A vehicle: its dimensions, and whether it is a heavy goods vehicle.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: ProfileId,
    pub hgv: bool,
    pub weight_t: f64,
    pub height_m: f64,
    pub width_m: f64,
    pub length_m: f64,
    pub hazmat: bool,
}

const CAR: Profile = Profile {
    id: ProfileId::Car,
    hgv: false,
    weight_t: 1.5,
    height_m: 1.6,
    width_m: 1.8,
    length_m: 4.5,
    hazmat: false,
};

const HGV: Profile = Profile {
    id: ProfileId::Hgv,
    hgv: true,
    weight_t: 44.0,
    height_m: 4.0,
    width_m: 2.55,
    length_m: 16.5,
    hazmat: false,
};

const HGV_HAZMAT: Profile = Profile {
    id: ProfileId::HgvHazmat,
    hazmat: true,
    ..HGV
};

impl Profile {
    /// The profile of an id.
    pub fn get(id: ProfileId) -> &'static Profile {
        match id {
            ProfileId::Car => &CAR,
            ProfileId::Hgv => &HGV,
            ProfileId::HgvHazmat => &HGV_HAZMAT,
        }
    }

    /// Speeds in km/h forward and backward along the way (0: not allowed in that direction).
    /// `urban` is the built-up flag to use when `attrs.urban` is unknown.
    pub fn speeds_kmh(&self, attrs: &WayAttrs, urban: Option<bool>) -> [f64; 2] {
        if !self.allowed(attrs) {
            return [0.0, 0.0];
        }
        let row = attrs.class.row();
        let urban = attrs.urban.or(urban).unwrap_or(false);
        let table = if urban { row.urban_kmh } else { row.rural_kmh };
        let speed = |dir: usize| {
            let mut v = match (attrs.average_speed_kmh, attrs.maxspeed_kmh[dir]) {
                (Some(avg), _) => avg,
                (None, Some(max)) if attrs.class.is_link() => {
                    (max * MAXSPEED_FACTOR).min(row.rural_kmh)
                }
                (None, Some(max)) => max * MAXSPEED_FACTOR,
                (None, None) => table,
            };
            if attrs.slow_service {
                v = v.min(SLOW_SERVICE_KMH);
            }
            if self.hgv {
                v = v.min(row.hgv_cap_kmh);
            }
            v
        };
        let (fwd, bwd) = match attrs.oneway {
            Oneway::Both => (true, true),
            Oneway::Forward => (true, false),
            Oneway::Backward => (false, true),
        };
        [
            if fwd { speed(0) } else { 0.0 },
            if bwd { speed(1) } else { 0.0 },
        ]
    }

    /// Access and dimension rules (rules 2 and 5).
    fn allowed(&self, a: &WayAttrs) -> bool {
        let below = |limit: Option<f64>, need: f64| limit.is_some_and(|l| l < need);
        if !self.hgv {
            return a.car_access;
        }
        let too_small = below(a.maxweight_t, self.weight_t)
            || below(a.maxheight_m, self.height_m)
            || below(a.maxwidth_m, self.width_m)
            || below(a.maxlength_m, self.length_m);
        let hazmat_banned = self.hazmat && a.hazmat_forbidden;
        a.hgv_access && !too_small && !hazmat_banned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(tags: &[(&str, &str)]) -> Option<WayAttrs> {
        WayAttrs::from_osm_tags(tags.iter().copied())
    }

    fn speeds(id: ProfileId, tags: &[(&str, &str)]) -> [f64; 2] {
        Profile::get(id).speeds_kmh(&attrs(tags).expect("a road"), None)
    }

    #[test]
    fn table_is_in_discriminant_order() {
        for (i, r) in TABLE.iter().enumerate() {
            assert_eq!(r.class as usize, i);
            assert_eq!(RoadClass::from_tag(r.tag), Some(r.class));
            assert_eq!(RoadClass::from_u8(i as u8), Some(r.class));
            assert!(r.urban_kmh <= r.rural_kmh && r.hgv_cap_kmh <= r.rural_kmh);
        }
    }

    #[test]
    fn not_roads() {
        for tags in [
            &[("highway", "footway")][..],
            &[("highway", "track")],
            &[("highway", "construction")],
            &[("route", "ferry"), ("highway", "primary")],
            &[("highway", "pedestrian"), ("area", "yes")],
            &[("highway", "residential"), ("access", "private")],
            &[("highway", "residential"), ("oneway", "reversible")],
            &[("building", "yes")],
        ] {
            assert!(attrs(tags).is_none(), "{tags:?}");
        }
    }

    #[test]
    fn oneway_rules() {
        use ProfileId::Car;
        assert_eq!(speeds(Car, &[("highway", "motorway")]), [120.0, 0.0]);
        assert_eq!(speeds(Car, &[("highway", "motorway_link")]), [60.0, 0.0]);
        assert_eq!(
            speeds(Car, &[("highway", "motorway"), ("oneway", "no")]),
            [120.0, 120.0]
        );
        assert_eq!(
            speeds(Car, &[("highway", "tertiary"), ("junction", "roundabout")]),
            [55.0, 0.0]
        );
        assert_eq!(
            speeds(Car, &[("highway", "residential"), ("oneway", "-1")]),
            [0.0, 30.0]
        );
    }

    #[test]
    fn speeds_from_maxspeed_and_urban_hints() {
        use ProfileId::Car;
        assert_eq!(
            speeds(Car, &[("highway", "primary"), ("maxspeed", "50")]),
            [45.0, 45.0]
        );
        let s = speeds(Car, &[("highway", "primary"), ("maxspeed", "30 mph")]);
        assert!((s[0] - 30.0 * 1.609_344 * 0.9).abs() < 1e-9);
        assert_eq!(
            speeds(Car, &[("highway", "secondary"), ("maxspeed", "FR:urban")]),
            [45.0, 45.0]
        );
        // Urban by hint, speed from the table.
        assert_eq!(
            speeds(Car, &[("highway", "secondary"), ("zone:maxspeed", "FR:30")]),
            [35.0, 35.0]
        );
        // Links are capped at their table speed.
        assert_eq!(
            speeds(Car, &[("highway", "motorway_link"), ("maxspeed", "110")]),
            [60.0, 0.0]
        );
        assert_eq!(
            speeds(
                Car,
                &[
                    ("highway", "primary"),
                    ("maxspeed:forward", "70"),
                    ("maxspeed:backward", "50")
                ]
            ),
            [63.0, 45.0]
        );
        assert_eq!(
            speeds(Car, &[("highway", "service"), ("service", "parking_aisle")]),
            [10.0, 10.0]
        );
        // The builder's urban guess applies only when the data says nothing.
        let a = attrs(&[("highway", "primary")]).unwrap();
        assert_eq!(Profile::get(Car).speeds_kmh(&a, Some(true)), [40.0, 40.0]);
    }

    #[test]
    fn hgv_restrictions() {
        use ProfileId::{Car, Hgv, HgvHazmat};
        let low = [("highway", "tertiary"), ("maxheight", "3.5")];
        assert_eq!(speeds(Car, &low), [55.0, 55.0]);
        assert_eq!(speeds(Hgv, &low), [0.0, 0.0]);
        let light = [("highway", "tertiary"), ("maxweight", "7.5 t")];
        assert_eq!(speeds(Hgv, &light), [0.0, 0.0]);
        let hazmat = [("highway", "primary"), ("hazmat", "no")];
        assert_eq!(speeds(Hgv, &hazmat), [65.0, 65.0]);
        assert_eq!(speeds(HgvHazmat, &hazmat), [0.0, 0.0]);
        let no_hgv = [("highway", "primary"), ("hgv", "no")];
        assert_eq!(speeds(Car, &no_hgv), [75.0, 75.0]);
        assert_eq!(speeds(Hgv, &no_hgv), [0.0, 0.0]);
        // hgv=designated wins over access=no.
        let designated = [
            ("highway", "service"),
            ("access", "no"),
            ("hgv", "designated"),
        ];
        assert_eq!(speeds(Hgv, &designated), [15.0, 15.0]);
        assert_eq!(speeds(Car, &designated), [0.0, 0.0]);
    }

    #[test]
    fn value_parsers() {
        assert_eq!(parse_maxspeed_kmh("none"), None);
        assert_eq!(parse_maxspeed_kmh("FR:zone30"), Some(30.0));
        assert_eq!(parse_maxspeed_kmh("90 km/h"), Some(90.0));
        assert_eq!(parse_weight_t("3500 kg"), Some(3.5));
        assert_eq!(parse_weight_t("7,5"), Some(7.5));
        assert_eq!(parse_length_m("2.60"), Some(2.6));
        assert!((parse_length_m("13'6\"").unwrap() - 4.1148).abs() < 1e-9);
        assert_eq!(parse_length_m("default"), None);
    }

    #[test]
    fn bdtopo_attributes() {
        let p = |v: serde_json::Value| v.as_object().cloned().unwrap();
        let a = WayAttrs::from_bdtopo(&p(serde_json::json!({
            "nature": "Route à 1 chaussée", "importance": "4", "sens_de_circulation": "Sens inverse",
            "vitesse_moyenne_vl": 40, "acces_vehicule_leger": "Libre", "urbain": true,
            "restriction_de_hauteur": 3.2, "etat_de_l_objet": "En service"
        })))
        .unwrap();
        assert_eq!(a.class, RoadClass::Tertiary);
        assert_eq!(a.oneway, Oneway::Backward);
        assert_eq!(
            Profile::get(ProfileId::Car).speeds_kmh(&a, None),
            [0.0, 40.0]
        );
        assert_eq!(
            Profile::get(ProfileId::Hgv).speeds_kmh(&a, None),
            [0.0, 0.0]
        );
        assert!(WayAttrs::from_bdtopo(&p(serde_json::json!({"nature": "Sentier"}))).is_none());
        assert!(
            WayAttrs::from_bdtopo(&p(serde_json::json!({
                "nature": "Route à 1 chaussée", "acces_vehicule_leger": "Restreint aux ayants droit"
            })))
            .is_none()
        );
    }
}
