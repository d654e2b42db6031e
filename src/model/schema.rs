//! Typed fields of each layer: names, types, units, validation rules and the input aliases
//! under which French open data usually publishes them.
//!
//! The schema is the single source of truth for the importer (validation), the store (FlatGeobuf
//! columns), the filters (which fields exist and with which type), the catalog and the tiles.

use super::layer::Layer;
use super::material::{MATERIALS, UNITS};

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldType {
    Bool,
    /// 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// Free text, possibly with a [`TextFormat`] check.
    Text(TextFormat),
    /// Calendar date, written `YYYY-MM-DD`.
    Date,
    /// One of a fixed list of values.
    Enum(&'static [&'static str]),
    /// A map from a code (e.g. an occupation code) to a count.
    Counts,
}

impl FieldType {
    /// Name of the type as shown in the catalog, TileJSON and error messages.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Bool => "boolean",
            FieldType::Int => "integer",
            FieldType::Float => "number",
            FieldType::Text(_) => "string",
            FieldType::Date => "date",
            FieldType::Enum(_) => "enum",
            FieldType::Counts => "counts",
        }
    }
}

/// Checks on text fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    Free,
    /// SIREN of an EPCI: 9 digits.
    Siren,
    /// INSEE commune code: 5 characters, digits except `2A`/`2B` for Corsica.
    Insee,
    /// European waste code, normalised to 6 digits.
    WasteCode,
}

impl TextFormat {
    /// Whether `s` is well formed. `WasteCode` is checked by `parse_waste_code` during ingest.
    pub fn accepts(self, s: &str) -> bool {
        match self {
            TextFormat::Free => true,
            TextFormat::Siren => s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit()),
            TextFormat::Insee => {
                let b = s.as_bytes();
                b.len() == 5
                    && (b[0].is_ascii_digit())
                    && (b[1].is_ascii_digit() || b[1] == b'A' || b[1] == b'B')
                    && b[2..].iter().all(u8::is_ascii_digit)
            }
            TextFormat::WasteCode => s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()),
        }
    }

    /// What a well formed value looks like, for error messages.
    pub fn hint(self) -> &'static str {
        match self {
            TextFormat::Free => "any text",
            TextFormat::Siren => "a 9-digit SIREN, e.g. 200084952",
            TextFormat::Insee => "a 5-character INSEE commune code, e.g. 76351",
            TextFormat::WasteCode => "a 6-digit European waste code, e.g. 17 02 01 or 16 01 04*",
        }
    }
}

/// Another name under which input files carry a field, with the factor that converts the
/// input's unit to the field's (e.g. Cerema's `site_surface` in m² → hectares: 1e-4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alias {
    pub name: &'static str,
    pub scale: f64,
}

const fn alias(name: &'static str) -> Alias {
    Alias { name, scale: 1.0 }
}

/// Where a field's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from the input; optional.
    Input,
    /// Read from the input; a feature without it is rejected.
    Required,
    /// Computed by terriens (e.g. geodesic area); an input value of that name is ignored.
    Computed,
}

/// One typed field of a layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    pub origin: Origin,
    /// Unit of numeric values (`ha`, `m2`, `MVA`, ...), if any.
    pub unit: Option<&'static str>,
    /// Inclusive bounds for numeric values.
    pub range: Option<(f64, f64)>,
    pub aliases: &'static [Alias],
    pub description: &'static str,
}

impl Field {
    const fn new(name: &'static str, ty: FieldType, description: &'static str) -> Field {
        Field {
            name,
            ty,
            origin: Origin::Input,
            unit: None,
            range: None,
            aliases: &[],
            description,
        }
    }
    const fn required(mut self) -> Field {
        self.origin = Origin::Required;
        self
    }
    const fn computed(mut self) -> Field {
        self.origin = Origin::Computed;
        self
    }
    const fn unit(mut self, unit: &'static str) -> Field {
        self.unit = Some(unit);
        self
    }
    const fn range(mut self, lo: f64, hi: f64) -> Field {
        self.range = Some((lo, hi));
        self
    }
    const fn aliases(mut self, aliases: &'static [Alias]) -> Field {
        self.aliases = aliases;
        self
    }
}

/// The fields of one layer.
#[derive(Debug)]
pub struct LayerSchema {
    pub layer: Layer,
    pub fields: &'static [Field],
}

impl LayerSchema {
    /// The field of that name and its position.
    pub fn field(&self, name: &str) -> Option<(usize, &'static Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    /// Position of a field known to exist; panics otherwise (for names written in code).
    pub fn index_of(&self, name: &str) -> usize {
        match self.field(name) {
            Some((i, _)) => i,
            None => panic!("layer {} has no field {name}", self.layer),
        }
    }

    /// Comma-separated field names, for error messages.
    pub fn field_names(&self) -> String {
        self.fields
            .iter()
            .map(|f| f.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The schema of a layer.
pub fn schema(layer: Layer) -> &'static LayerSchema {
    &SCHEMAS[layer.index()]
}

pub const PLOT_STATUS: &[&str] = &["available", "reserved", "sold"];
pub const BUILDING_STATUS: &[&str] = &["available", "reserved", "sold", "let"];
pub const AREA_SOURCE: &[&str] = &["geometry", "declared"];
pub const ICPE_REGIMES: &[&str] = &["none", "declaration", "registration", "authorisation"];
pub const TENURES: &[&str] = &["sale", "lease", "sale_or_lease"];
pub const FREQUENCIES: &[&str] = &["continuous", "weekly", "monthly", "seasonal", "one-off"];
pub const CONFIDENTIALITY: &[&str] = &["public", "partners"];

const T: FieldType = FieldType::Text(TextFormat::Free);
const SIREN: FieldType = FieldType::Text(TextFormat::Siren);
const INSEE: FieldType = FieldType::Text(TextFormat::Insee);
const B: FieldType = FieldType::Bool;
const F: FieldType = FieldType::Float;
const I: FieldType = FieldType::Int;
const D: FieldType = FieldType::Date;

const NAME: Field = Field::new("name", T, "Name of the feature").aliases(&[
    alias("nom"),
    alias("site_nom"),
    alias("nom_etablissement"),
]);
const SOURCE_ID: Field = Field::new(
    "source_id",
    T,
    "Identifier of the feature in its source data set (kept as given)",
)
.aliases(&[alias("site_id"), alias("identifiant_irep"), alias("cleabs")]);
const SOURCE: Field = Field::new("source", T, "Producer of the data");
const TERRITORY: Field = Field::new("territory", SIREN, "SIREN of the EPCI the feature lies in")
    .aliases(&[alias("epci_siren"), alias("siren_epci")]);
const COMMUNE: Field = Field::new("commune_insee", INSEE, "INSEE code of the commune").aliases(&[
    alias("code_insee"),
    alias("comm_insee"),
    alias("insee"),
    alias("code_commune"),
]);
const AVAILABLE_FROM: Field = Field::new(
    "available_from",
    D,
    "Date from which the site can be occupied",
);
const POWER: Field = Field::new("power_mva", F, "Electrical power available")
    .unit("MVA")
    .range(0.0, 10_000.0);
const WATER: Field = Field::new("water_m3_day", F, "Industrial water available")
    .unit("m3/day")
    .range(0.0, 10_000_000.0);
const RAIL: Field = Field::new("rail_siding", B, "Rail siding on site or at the boundary");
const FLOOD: Field = Field::new("flood_zone", B, "In a flood-risk zone (PPRI)");
const SEVESO: Field = Field::new("seveso", B, "Inside a SEVESO / PPRT perimeter");

static PLOTS: &[Field] = &[
    NAME,
    SOURCE_ID,
    SOURCE,
    TERRITORY,
    COMMUNE,
    Field::new(
        "area_ha",
        F,
        "Area: geodesic area of the polygon on the WGS84 ellipsoid; for a point plot, the declared area",
    )
    .unit("ha")
    .computed(),
    Field::new(
        "area_source",
        FieldType::Enum(AREA_SOURCE),
        "Where area_ha comes from: the geometry, or the declared area of a point plot",
    )
    .computed(),
    Field::new("declared_area_ha", F, "Area declared by the data producer")
        .unit("ha")
        .range(0.0, 100_000.0)
        .aliases(&[
            alias("area_ha"),
            alias("surface_ha"),
            Alias {
                name: "site_surface",
                scale: 1e-4,
            },
            Alias {
                name: "surface_m2",
                scale: 1e-4,
            },
        ]),
    Field::new(
        "status",
        FieldType::Enum(PLOT_STATUS),
        "Commercial status of the plot",
    ),
    AVAILABLE_FROM,
    Field::new("turnkey", B, "Site clé en main: permits and studies done"),
    Field::new("price_eur_m2", F, "Asking price")
        .unit("EUR/m2")
        .range(0.0, 100_000.0),
    Field::new("zoning", T, "PLU zone (e.g. UX, 1AUx)").aliases(&[alias("urba_zone_lib")]),
    POWER,
    WATER,
    Field::new("gas", B, "Natural gas connection"),
    Field::new("fibre", B, "Fibre-optic connection"),
    RAIL,
    FLOOD,
    SEVESO,
    Field::new("natura2000", B, "Inside or next to a Natura 2000 site"),
    Field::new("soil_pollution", B, "Known or suspected soil pollution"),
    Field::new("brownfield", B, "Brownfield (friche) to be reused"),
];

static BUILDINGS: &[Field] = &[
    NAME,
    SOURCE_ID,
    SOURCE,
    TERRITORY,
    COMMUNE,
    Field::new("floor_area_m2", F, "Floor area")
        .unit("m2")
        .range(0.0, 10_000_000.0),
    Field::new(
        "land_area_ha",
        F,
        "Area of the land that comes with the building",
    )
    .unit("ha")
    .range(0.0, 100_000.0),
    Field::new("clear_height_m", F, "Clear height under the roof structure")
        .unit("m")
        .range(0.0, 100.0),
    Field::new("dock_doors", I, "Number of dock doors").range(0.0, 10_000.0),
    Field::new("office_m2", F, "Office floor area")
        .unit("m2")
        .range(0.0, 10_000_000.0),
    Field::new(
        "icpe_regime",
        FieldType::Enum(ICPE_REGIMES),
        "Highest ICPE regime the building is permitted for",
    ),
    Field::new(
        "status",
        FieldType::Enum(BUILDING_STATUS),
        "Commercial status of the building",
    ),
    AVAILABLE_FROM,
    Field::new(
        "tenure",
        FieldType::Enum(TENURES),
        "Offered for sale, lease or both",
    ),
    Field::new("price_eur", F, "Sale price")
        .unit("EUR")
        .range(0.0, 1e12),
    Field::new("rent_eur_m2_year", F, "Yearly rent")
        .unit("EUR/m2/year")
        .range(0.0, 100_000.0),
    POWER,
    RAIL,
    FLOOD,
    SEVESO,
];

static WASTE_DEPOSITS: &[Field] = &[
    NAME,
    SOURCE_ID,
    SOURCE,
    TERRITORY,
    COMMUNE,
    Field::new(
        "material",
        FieldType::Enum(MATERIALS),
        "Material, from the fixed taxonomy",
    )
    .required(),
    Field::new(
        "waste_code",
        FieldType::Text(TextFormat::WasteCode),
        "European waste code (6 digits)",
    )
    .aliases(&[alias("code_dechet"), alias("ewc")]),
    Field::new("hazardous", B, "Hazardous waste (code marked with *)"),
    Field::new("quantity", F, "Quantity produced per year, in `unit`")
        .range(0.0, 1e12)
        .required()
        .aliases(&[alias("quantity_per_year"), alias("tonnage")]),
    Field::new(
        "unit",
        FieldType::Enum(UNITS),
        "Unit of quantity: t, m3 for water, MWh for heat",
    ),
    Field::new(
        "frequency",
        FieldType::Enum(FREQUENCIES),
        "How often the stream is produced",
    ),
    Field::new("holder", T, "Who holds the stream (company)").aliases(&[alias("detenteur")]),
    Field::new(
        "confidentiality",
        FieldType::Enum(CONFIDENTIALITY),
        "public, or partners: holder and exact position reserved to partner keys",
    ),
];

static CATCHMENTS: &[Field] = &[
    Field::new("zone_code", T, "Code of the catchment zone (a commune's INSEE code)")
        .required()
        .aliases(&[alias("code_insee"), alias("code")]),
    Field::new("zone_name", T, "Name of the catchment zone").aliases(&[alias("nom"), alias("name")]),
    SOURCE,
    TERRITORY,
    Field::new("population", I, "Inhabitants (population municipale)")
        .range(0.0, 1e9)
        .aliases(&[alias("population_municipale")]),
    Field::new(
        "job_seekers",
        I,
        "Registered job seekers; absent when no file provides them (unknown, not 0)",
    )
    .range(0.0, 1e9),
    Field::new(
        "candidates",
        FieldType::Counts,
        "Job seekers by occupation (ROME / BMO code → count); absent when unknown",
    ),
    Field::new("bassin_code", T, "France Travail BMO employment area (bassin) of the commune")
        .aliases(&[alias("code_bassin_BMO"), alias("code_bassin")]),
    Field::new("bassin_name", T, "Name of the BMO employment area (bassin)")
        .aliases(&[alias("lib_bassin_BMO")]),
    Field::new("bmo_year", I, "Year of the BMO survey the hiring figures come from")
        .range(1900.0, 3000.0),
    Field::new(
        "bmo_share",
        F,
        BMO_SPREAD,
    )
    .range(0.0, 1.0),
    Field::new(
        "hiring_projects",
        FieldType::Counts,
        "Hiring projects by occupation (BMO code → count, BMO `met`, spread from the bassin by population share, see bmo_share); an occupation masked in the survey is absent and listed in hiring_masked",
    ),
    Field::new(
        "difficult_projects",
        FieldType::Counts,
        "Hiring projects judged difficult by occupation (BMO `xmet`, spread like hiring_projects); masked ones listed in difficult_masked",
    ),
    Field::new(
        "seasonal_projects",
        FieldType::Counts,
        "Seasonal hiring projects by occupation (BMO `smet`, spread like hiring_projects); masked ones listed in seasonal_masked",
    ),
    Field::new(
        "hiring_masked",
        T,
        "Occupation codes (comma-separated) whose hiring projects the BMO survey masks (`*`): unknown, not 0",
    ),
    Field::new(
        "difficult_masked",
        T,
        "Occupation codes (comma-separated) whose difficult projects are masked in the BMO survey: unknown, not 0",
    ),
    Field::new(
        "seasonal_masked",
        T,
        "Occupation codes (comma-separated) whose seasonal projects are masked in the BMO survey: unknown, not 0",
    ),
    Field::new(
        "difficult_share",
        F,
        "Share of hiring projects judged difficult (0 to 1): Σ xmet / Σ met over the occupations where both are known",
    )
    .range(0.0, 1.0),
];

/// How BMO figures are spread over communes (said in the catalog through `bmo_share`).
pub const BMO_SPREAD: &str = "Share of its BMO bassin's figures given to the commune: the commune's population divided by the population of all the bassin's communes in the COG (nationally, not only those loaded), so a bassin partly inside a territory contributes only its loaded communes' share";

static TERRITORIES: &[Field] = &[
    Field::new("siren", SIREN, "SIREN of the EPCI")
        .required()
        .aliases(&[alias("epci_siren")]),
    Field::new("name", T, "Name of the EPCI").aliases(&[alias("epci_nom"), alias("nom")]),
    Field::new("epci_type", T, "CC, CA, CU or ME"),
    SOURCE,
    Field::new("population", I, "Inhabitants (population municipale)")
        .range(0.0, 1e9)
        .aliases(&[alias("population_municipale")]),
    Field::new("communes_count", I, "Number of member communes")
        .range(0.0, 100_000.0)
        .aliases(&[alias("nb_communes")]),
];

static SCHEMAS: [LayerSchema; 5] = [
    LayerSchema {
        layer: Layer::Plots,
        fields: PLOTS,
    },
    LayerSchema {
        layer: Layer::Buildings,
        fields: BUILDINGS,
    },
    LayerSchema {
        layer: Layer::WasteDeposits,
        fields: WASTE_DEPOSITS,
    },
    LayerSchema {
        layer: Layer::Catchments,
        fields: CATCHMENTS,
    },
    LayerSchema {
        layer: Layer::Territories,
        fields: TERRITORIES,
    },
];

/// Finds the variant an input spelling means: case, spaces and underscores are ignored.
pub fn enum_variant(s: &str, variants: &'static [&'static str]) -> Option<&'static str> {
    let norm = |x: &str| -> String {
        x.trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '_'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let want = norm(s);
    variants.iter().copied().find(|v| norm(v) == want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_aliases_are_unambiguous() {
        for layer in Layer::ALL {
            let s = schema(layer);
            assert_eq!(s.layer, layer);
            let mut seen = HashSet::new();
            for f in s.fields {
                assert!(seen.insert(f.name), "{layer}: duplicate field {}", f.name);
            }
            // An alias may shadow a computed field (plots.area_ha), never an input field.
            for f in s.fields {
                for a in f.aliases {
                    if let Some((_, other)) = s.field(a.name) {
                        assert_eq!(other.origin, Origin::Computed, "{layer}: alias {}", a.name);
                    }
                }
            }
        }
    }

    #[test]
    fn text_formats() {
        assert!(TextFormat::Siren.accepts("200084952"));
        assert!(!TextFormat::Siren.accepts("20008495"));
        assert!(TextFormat::Insee.accepts("76351"));
        assert!(TextFormat::Insee.accepts("2A004"));
        assert!(!TextFormat::Insee.accepts("7635"));
    }
}
